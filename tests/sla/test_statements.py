"""Statements in the engine: when they are due, who gets none unless asked, and
when a customer owed credit is reminded (R-C1). Worked by hand from the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from monitor.sla import (
    Policy,
    claim_deadline,
    month_period,
    reminder_due,
    reminder_owed,
    statement_due,
    statement_withheld,
)

OCTOBER = month_period("2026-10", "gregorian", "UTC")
# Jalali 1405-08 (Aban) in Tehran: 1 Aban is 2026-10-23, so the month starts at
# 2026-10-22T20:30Z and ends at 1 Azar (2026-11-22) 00:00 Tehran = 2026-11-21T20:30Z.
ABAN = month_period("1405-08", "jalali", "Asia/Tehran")


def test_statements_are_due_the_delay_after_the_month_ends_in_the_providers_zone() -> None:
    assert statement_due(OCTOBER, 86_400) == datetime(2026, 11, 2, tzinfo=UTC)
    assert statement_due(ABAN, 86_400) == datetime(2026, 11, 22, 20, 30, tzinfo=UTC)
    assert statement_due(OCTOBER, 0) == OCTOBER.end
    # 1 d 6 h: one calendar day, then six elapsed hours.
    assert statement_due(OCTOBER, 30 * 3600) == datetime(2026, 11, 2, 6, tzinfo=UTC)


def test_a_day_after_the_month_is_the_same_local_clock_time_across_a_dst_change() -> None:
    # New York's October 2026 ends at 2026-11-01 00:00 EDT (04:00Z); clocks go back that
    # night, so "one day later" is 2026-11-02 00:00 EST, 05:00Z: 25 elapsed hours.
    october = month_period("2026-10", "gregorian", "America/New_York")
    assert october.end == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert statement_due(october, 86_400) == datetime(2026, 11, 2, 5, tzinfo=UTC)


def test_the_reminder_is_due_the_configured_days_before_the_claim_deadline() -> None:
    # R-C1 Decision: October's claims close at 2026-11-15 00:00Z; three days before it.
    assert claim_deadline(OCTOBER, Policy()) == datetime(2026, 11, 15, tzinfo=UTC)
    assert reminder_due(OCTOBER, Policy(), 3 * 86_400) == datetime(2026, 11, 12, tzinfo=UTC)
    # Aban's deadline: 2026-11-21T20:30Z + 14 days = 2026-12-05T20:30Z; 3 days before.
    assert reminder_due(ABAN, Policy(), 3 * 86_400) == datetime(2026, 12, 2, 20, 30, tzinfo=UTC)


def _owed(*, days: str = "8", amount: str = "0", claimed: bool = False,
          now: datetime) -> bool:
    return reminder_owed(credit_days=Decimal(days), refund_amount=Decimal(amount),
                         claimed=claimed, period=OCTOBER, policy=Policy(),
                         before_seconds=3 * 86_400, now=now)


def test_reminder_only_with_credit_due_no_claim_and_within_its_window() -> None:
    due = datetime(2026, 11, 12, tzinfo=UTC)
    deadline = datetime(2026, 11, 15, tzinfo=UTC)
    second = timedelta(seconds=1)
    assert not _owed(now=due - second)  # not yet due
    assert _owed(now=due)
    assert _owed(now=deadline)  # the deadline instant is still in time (R-C1 Decision)
    assert not _owed(now=deadline + second)  # a claim now would be late
    assert not _owed(days="0", now=due)  # nothing owed
    assert _owed(days="0", amount="360000", now=due)  # an R-P2 refund is owed too
    assert not _owed(claimed=True, now=due)  # already claimed


def test_lapsed_and_clone_customers_get_no_statement_unless_asked() -> None:
    assert statement_withheld("R-EX5") and statement_withheld("R-EX6")
    # R-EX7: the service is still delivered; the statement says why no credit is due.
    assert not statement_withheld("R-EX7")
    assert not statement_withheld(None)
