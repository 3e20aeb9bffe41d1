"""Claims in the engine (R-C1, D-4, R-C3): the claim deadline, the receipt and decision
deadlines, what approval grants and what a review adjusts. Every instant is worked out by
hand below, with the rule it comes from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from monitor.sla import (
    Policy,
    claim_deadline,
    claim_grants,
    claim_in_time,
    credit_effective_at,
    decision_due,
    granted_totals,
    month_ended,
    month_period,
    receipt_due,
    review_grants,
)

from .builders import DAY, HOUR, at, customer, notified_in_time, outage, report_for

MINUTE = timedelta(minutes=1)


def test_r_c1_gregorian_deadline_is_inclusive() -> None:
    # SPEC R-C1 Decision: October 2026 in UTC ends 2026-11-01T00:00Z; + 14 days.
    october = month_period("2026-10", "gregorian", "UTC")
    deadline = datetime(2026, 11, 15, tzinfo=UTC)
    assert claim_deadline(october, Policy()) == deadline
    assert claim_in_time(deadline, october, Policy())
    assert not claim_in_time(deadline + MINUTE, october, Policy())


def test_r_c1_jalali_deadline_in_tehran() -> None:
    # Mehr 1405: 1 Farvardin 1405 is 2026-03-21; months 1-6 have 31 days, so 1 Mehr is
    # 2026-03-21 + 186 d = 2026-09-23 and 1 Aban (the month's end) 2026-10-23 00:00 in
    # Tehran (UTC+03:30) = 2026-10-22T20:30Z. 14 days later: 2026-11-06 00:00 in Tehran
    # (15 Aban), = 2026-11-05T20:30Z.
    mehr = month_period("1405-07", "jalali", "Asia/Tehran")
    assert mehr.end == datetime(2026, 10, 22, 20, 30, tzinfo=UTC)
    deadline = datetime(2026, 11, 5, 20, 30, tzinfo=UTC)
    assert claim_deadline(mehr, Policy()) == deadline
    assert claim_in_time(deadline, mehr, Policy())
    assert not claim_in_time(deadline + MINUTE, mehr, Policy())


def test_r_c1_deadline_keeps_the_clock_time_across_a_dst_change() -> None:
    # Mehr 1405 in Berlin ends 2026-10-23 00:00 CEST (UTC+2) = 2026-10-22T22:00Z. Summer
    # time ends on 25 October, so 14 calendar days later, 2026-11-06 00:00 CET (UTC+1), is
    # 2026-11-05T23:00Z: an hour more than 14 x 86,400 s (R-C1 Decision: same clock time).
    mehr = month_period("1405-07", "jalali", "Europe/Berlin")
    assert mehr.end == datetime(2026, 10, 22, 22, tzinfo=UTC)
    assert claim_deadline(mehr, Policy()) == datetime(2026, 11, 5, 23, tzinfo=UTC)


def test_r_c1_claims_only_for_ended_months() -> None:
    november = month_period("2026-11", "gregorian", "UTC")
    assert not month_ended(november, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    assert month_ended(november, datetime(2026, 12, 1, tzinfo=UTC))


def test_d4_receipt_due_skips_the_friday_weekend() -> None:
    # Submitted Thursday 2026-11-12: the next day is Friday (the weekend, R-C1 Decision), so
    # the next business day is Saturday 14th; its last second is in time.
    thursday = datetime(2026, 11, 12, 15, tzinfo=UTC)
    assert receipt_due(thursday, "UTC", Policy()) == datetime(2026, 11, 14, 23, 59, 59, tzinfo=UTC)
    friday = datetime(2026, 11, 13, 10, tzinfo=UTC)  # on the weekend itself: Saturday too
    assert receipt_due(friday, "UTC", Policy()) == datetime(2026, 11, 14, 23, 59, 59, tzinfo=UTC)


def test_d4_receipt_due_skips_a_configured_holiday() -> None:
    # Sunday 2026-11-15; Monday 16th is a configured holiday: Tuesday 17th ends the day.
    policy = Policy(holidays=frozenset({date(2026, 11, 16)}))
    sunday = datetime(2026, 11, 15, 10, tzinfo=UTC)
    assert receipt_due(sunday, "UTC", policy) == datetime(2026, 11, 17, 23, 59, 59, tzinfo=UTC)


def test_d4_receipt_due_counts_days_in_the_providers_zone() -> None:
    # 2026-11-12T21:00Z is Friday 00:30 in Tehran: the local day is Friday, so the next
    # business day is Saturday, ending at 2026-11-14 24:00 Tehran = 2026-11-14T20:30Z.
    late_thursday = datetime(2026, 11, 12, 21, tzinfo=UTC)
    assert receipt_due(late_thursday, "Asia/Tehran", Policy()) == datetime(
        2026, 11, 14, 20, 29, 59, tzinfo=UTC)


def test_d4_decision_due_and_r_c1_credit_effective() -> None:
    submitted = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    assert decision_due(submitted, Policy()) == submitted + timedelta(days=14)
    decided = datetime(2026, 11, 10, 12, tzinfo=UTC)
    # R-C1: an approved credit is added a month after approval (credit_delay 30 d).
    assert credit_effective_at(decided, Policy()) == datetime(2026, 12, 10, 12, tzinfo=UTC)
    assert credit_effective_at(decided, Policy(credit_delay_seconds=7 * DAY)) == datetime(
        2026, 11, 17, 12, tzinfo=UTC)


def _three_hours_unnotified():  # type: ignore[no-untyped-def]
    # 3 h of the panel in March (31 days), never notified: tier 1w (7 days, R-T1) and
    # 1 day for the missed notification (R-N1): 8 days.
    return report_for(customer(), [outage(1, "panel", at(10, 8), 3 * HOUR)])


def test_r_c1_approval_grants_every_credit_line_with_its_evidence() -> None:
    grants = claim_grants(_three_hours_unnotified())
    assert [(g.rule, g.days, g.incidents) for g in grants] == [
        ("R-T1", Decimal(7), (1,)), ("R-N1", Decimal(1), (1,))]
    assert granted_totals(grants) == (Decimal(8), Decimal(0))


def test_r_c1_partial_approval_grants_the_days_decided() -> None:
    grants = claim_grants(_three_hours_unnotified(), Decimal("3.5"))
    assert [(g.rule, g.days, g.incidents) for g in grants] == [("R-C1", Decimal("3.5"), (1,))]


def test_r_c3_review_adjusts_by_the_difference() -> None:
    # Granted 8 days; the revision now says 7 (the outage was notified in time after all).
    revised = report_for(customer(), [outage(1, "panel", at(10, 8), 3 * HOUR)],
                         notifications=notified_in_time([outage(1, "panel", at(10, 8), 3 * HOUR)]))
    assert revised.credit_days_total == 7
    approve = review_grants(Decimal(8), Decimal(0), revised, "approved")
    assert [(g.rule, g.days) for g in approve] == [("R-C3", Decimal(-1))]
    assert review_grants(Decimal(8), Decimal(0), revised, "rejected") == ()
    partly = review_grants(Decimal(8), Decimal(0), revised, "partly", Decimal("7.5"))
    assert [(g.rule, g.days) for g in partly] == [("R-C3", Decimal("-0.5"))]
    assert review_grants(Decimal(7), Decimal(0), revised, "approved") == ()
