"""Partial problems: late web-panel fixes (R-P1), late mobile fixes (R-P2, R-P3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from monitor.sla import Policy, TicketInput, month_period
from monitor.sla.credits import fix_deferred, fix_due

from .builders import DAY, FEE, HOUR, at, customer, later, report_for

REPORTED = at(2, 9)
DIAGNOSED = at(3, 9)  # within the 48 h diagnosis deadline
FIX_DUE = later(DIAGNOSED, 3 * DAY)  # 6 March 09:00


def ticket(
    kind: str = "web_panel", fixed_at: datetime | None = None, **fields: object
) -> TicketInput:
    values: dict[str, object] = {"diagnosed_at": DIAGNOSED, "provider_fault": True, **fields}
    return TicketInput(7, "acme", kind, REPORTED, fixed_at=fixed_at, **values)


def test_r_p1_fix_due_three_days_after_diagnosis() -> None:
    assert fix_due(ticket(), Policy()) == FIX_DUE


def test_r_p1_late_diagnosis_does_not_push_the_fix_deadline() -> None:
    # Diagnosed 4 days after the report: the 3 fix days run from the 48 h deadline.
    late = ticket(diagnosed_at=later(REPORTED, 4 * DAY))
    assert fix_due(late, Policy()) == later(REPORTED, 48 * HOUR + 3 * DAY)


def test_r_p1_fixed_10h_late_earns_a_quarter_of_the_2w_tier() -> None:
    # R-P1 Decision: 10 h of delay is the 2-week tier (>= 8 h): 14 days / 4 = 3.5 days.
    report = report_for(customer(), tickets=[ticket(fixed_at=later(FIX_DUE, 10 * HOUR))])
    assert report.partial_credit_days == Decimal(14) / 4
    assert report.credit_days_total == Decimal("3.5")
    assert report.to_json()["partial_credit_days"] == 3.5
    assert [(line.rule, line.tickets) for line in report.credit_lines] == [("R-P1", (7,))]


def test_r_p1_quarter_of_the_1w_tier_is_rounded_up_to_half_days() -> None:
    # 2 h of delay is the 1-week tier (>= 1.5 h): 7 / 4 = 1.75 days, which the ledger keeps
    # in halves, rounded up (the customer's favour, R-P1 Decision): 2 days.
    report = report_for(customer(), tickets=[ticket(fixed_at=later(FIX_DUE, 2 * HOUR))])
    assert report.partial_credit_days == 2


def test_r_p1_delay_below_the_first_tier_earns_nothing() -> None:
    report = report_for(customer(), tickets=[ticket(fixed_at=later(FIX_DUE, HOUR))])
    assert report.partial_credit_days == 0


def test_r_p1_fixed_in_time_or_not_provider_fault_earns_nothing() -> None:
    in_time = ticket(fixed_at=FIX_DUE)
    not_ours = ticket(fixed_at=later(FIX_DUE, 20 * HOUR), provider_fault=False)
    report = report_for(customer(), tickets=[in_time, not_ours])
    assert report.partial_credit_days == 0 and report.credit_lines == ()


def test_r_p1_unfixed_ticket_is_late_until_now() -> None:
    # Still open 16 h after the deadline: the 1-month tier, 30 / 4 = 7.5 days.
    report = report_for(customer(), tickets=[ticket()], now=later(FIX_DUE, 16 * HOUR))
    assert report.partial_credit_days == Decimal(30) / 4


def test_r_p2_mobile_refund_per_started_day_of_delay() -> None:
    # One day and one second late: 2 started days x 1% of the yearly fee (3650).
    report = report_for(customer(), tickets=[
        ticket("mobile", fixed_at=later(FIX_DUE, DAY + 1))])
    assert report.refund_amount == FEE * Decimal("0.01") * 2
    assert report.to_json()["refund_amount"] == 73.0
    assert report.credit_days_total == 0  # money, not days


def test_r_p2_mobile_fix_two_and_a_half_days_late_on_a_12m_fee() -> None:
    # 2.5 days late: 3 started days x 1% of 12,000,000 = 360,000 (R-P2).
    fee = Decimal(12_000_000)
    report = report_for(customer(fee_per_year=fee, currency="IRR"), tickets=[
        ticket("mobile", fixed_at=later(FIX_DUE, 2 * DAY + 12 * HOUR))])
    assert report.refund_amount == Decimal(360_000)
    assert [(line.rule, line.amount, line.tickets) for line in report.credit_lines] == [
        ("R-P2", Decimal(360_000), (7,))]


def test_r_p3_next_release_fix_has_no_refund() -> None:
    report = report_for(customer(), tickets=[
        ticket("mobile", fixed_at=later(FIX_DUE, 5 * DAY), next_release=True)])
    assert report.refund_amount == 0


def test_r_p3_only_a_mobile_ticket_marked_for_the_next_release_is_deferred() -> None:
    # R-P3 is part of the mobile-app rules: the mark defers nothing on a web-panel ticket.
    assert fix_deferred(ticket("mobile", next_release=True))
    assert not fix_deferred(ticket("mobile"))
    assert not fix_deferred(ticket("web_panel", next_release=True))


def test_r_p_penalty_belongs_to_the_month_of_the_fix_deadline() -> None:
    april = month_period("2026-04", "gregorian", "UTC")
    late = ticket(fixed_at=later(FIX_DUE, 10 * HOUR))
    assert report_for(customer(), tickets=[late], period=april).partial_credit_days == 0


def test_r_ex6_clone_gets_no_ticket_penalty() -> None:
    report = report_for(customer(clone=True), tickets=[
        ticket("mobile", fixed_at=later(FIX_DUE, 3 * DAY))])
    assert report.refund_amount == 0
