"""Each cause of an incident (R-EX2..R-EX4) has its words for each reader, in one place."""

from __future__ import annotations

from monitor.present.labels import CAUSE_LABELS, PAGE_CAUSE_LABELS, PUBLIC_CAUSE_LABELS
from monitor.present.statement import CAUSE_LABELS as STATEMENT_CAUSE_LABELS
from monitor.sla import CAUSES


def test_every_cause_is_named_for_every_reader() -> None:
    for labels in (CAUSE_LABELS, PAGE_CAUSE_LABELS, PUBLIC_CAUSE_LABELS):
        assert sorted(labels) == sorted(CAUSES)
        assert all(label.strip() for label in labels.values())


def test_excluded_causes_name_their_rule_on_statements_and_pages() -> None:
    for cause, rule in (("customer_request", "R-EX2"), ("customer_action", "R-EX3"),
                        ("external", "R-EX4")):
        assert rule in CAUSE_LABELS[cause] and rule in PAGE_CAUSE_LABELS[cause]


def test_the_statement_module_uses_the_one_table() -> None:
    assert STATEMENT_CAUSE_LABELS is CAUSE_LABELS
