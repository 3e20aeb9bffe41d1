"""Each cause of an incident (R-EX2..R-EX4) has its words for each reader, in one place."""

from __future__ import annotations

from monitor.present.labels import CAUSE_LABELS, PAGE_CAUSE_LABELS, PUBLIC_CAUSE_LABELS
from monitor.present.statement import CAUSE_LABELS as STATEMENT_CAUSE_LABELS
from monitor.sla import CAUSES


def test_every_cause_is_named_for_every_reader() -> None:
    for labels in (CAUSE_LABELS, PAGE_CAUSE_LABELS, PUBLIC_CAUSE_LABELS):
        assert sorted(labels) == sorted(CAUSES)
        assert all(label.strip() for label in labels.values())


def test_excluded_causes_say_so_on_statements_and_pages_without_a_rule_id() -> None:
    """Customers read these words: they say the time is excluded, in words; the rule ids
    (R-EX2..R-EX4) stay in the evidence and the operators' views."""
    for cause in ("customer_request", "customer_action", "external"):
        for labels in (CAUSE_LABELS, PAGE_CAUSE_LABELS, PUBLIC_CAUSE_LABELS):
            assert "R-" not in labels[cause], labels[cause]
        assert "(excluded)" in CAUSE_LABELS[cause] and "(excluded)" in PAGE_CAUSE_LABELS[cause]
    assert "excluded" not in PAGE_CAUSE_LABELS["provider"]


def test_the_statement_module_uses_the_one_table() -> None:
    assert STATEMENT_CAUSE_LABELS is CAUSE_LABELS
