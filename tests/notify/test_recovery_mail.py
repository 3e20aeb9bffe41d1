"""The recovery e-mail (R-N1, D-2; issue 8 traps 5 and 8): its measured duration is the
engine's whole seconds, as in the report."""

from __future__ import annotations

import datetime as dt

from monitor.notify import templates
from monitor.notify.layout import Style

START = dt.datetime(2026, 5, 1, 8, 0, 0, 999000, tzinfo=dt.UTC)
END = dt.datetime(2026, 5, 1, 8, 0, 5, 500, tzinfo=dt.UTC)  # 4.0015 s later


def test_recovery_duration_is_the_engines_whole_seconds() -> None:
    # R-M6: each instant cut to its second, 08:00:00 to 08:00:05: 5 s (as the report has it);
    # never "4.0015 s" (R-M1: precise to one probe interval, not to a millisecond).
    rendered = templates.recovery(
        Style("Rabit Hosting"), customer_name="ACME Research", service="Shop (shop)",
        start=START, end=END, incident_id=7)
    assert "after 5 s" in rendered.subject
    assert "Measured duration: 5 s" in rendered.text
    operators = templates.operator_recovery(
        Style("Rabit Hosting"), service="Shop (shop)", start=START, end=END, incident_id=7,
        customers=1)
    assert operators.subject.endswith("after 5 s")
