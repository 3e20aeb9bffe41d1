"""The ledger's rules in the engine (L-3, L-5, L-6): balances in effect, the expiry of
left-over support charge at a period's end, money and days as the ledger keeps them, which
findings give a ticket's price back, and when a price request lapses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from monitor.sla import (
    LedgerLine,
    Policy,
    balance,
    charge_expiries,
    half_days_up,
    is_half_days,
    is_money,
    price_refunded,
    price_request_lapsed,
)

T = datetime(2026, 1, 10, tzinfo=UTC)
PERIOD_END = datetime(2026, 6, 21, 20, 30, tzinfo=UTC)


def charge(amount: int, when: datetime = T) -> LedgerLine:
    return LedgerLine("charge", when, amount=Decimal(amount))


def test_balance_counts_lines_in_effect_only() -> None:
    # R-C1: 7 days approved now take effect a month later; before that they are pending.
    lines = [LedgerLine("days", T + timedelta(days=30), days=Decimal(7)),
             LedgerLine("days", T, days=Decimal("0.5")), charge(100)]
    assert balance(lines, "days", T) == Decimal("0.5")
    assert balance(lines, "days", T + timedelta(days=30)) == Decimal("7.5")
    assert balance(lines, "charge", T) == 100


def test_l6_left_over_charge_expires_at_the_period_end_once() -> None:
    # 5,000,000 paid, a ticket of 2,500,000 debited and 1,000,000 topped up in the period:
    # 3,500,000 is left at its end and expires (000: not carried into the next period).
    lines = [charge(5_000_000), charge(-2_500_000, T + timedelta(days=3)),
             charge(1_000_000, T + timedelta(days=40))]
    assert charge_expiries(lines, [PERIOD_END], PERIOD_END - timedelta(seconds=1)) == []
    expired = charge_expiries(lines, [PERIOD_END], PERIOD_END)
    assert expired == [LedgerLine("charge", PERIOD_END, amount=Decimal(-3_500_000),
                                  period_end=PERIOD_END)]
    # Recorded, it is not expired again; the next period starts from nothing.
    assert charge_expiries([*lines, *expired], [PERIOD_END], PERIOD_END + timedelta(days=9)) == []
    assert balance([*lines, *expired], "charge", PERIOD_END) == 0


def test_l6_a_payment_after_the_period_end_belongs_to_the_next_period() -> None:
    next_end = PERIOD_END + timedelta(days=365)
    lines = [charge(300), charge(800, PERIOD_END + timedelta(days=1))]
    expired = charge_expiries(lines, [PERIOD_END, next_end], next_end)
    assert [line.amount for line in expired] == [Decimal(-300), Decimal(-800)]


def test_money_in_the_currencys_unit_and_days_in_halves() -> None:
    assert is_money(Decimal("2500000"), "IRR") and not is_money(Decimal("2500000.5"), "IRR")
    assert is_money(Decimal("12.34"), "EUR") and not is_money(Decimal("12.345"), "EUR")
    assert is_half_days(Decimal("3.5")) and is_half_days(Decimal(7))
    assert not is_half_days(Decimal("1.75"))
    # R-P1 Decision: a quarter of the 1-week tier, 1.75 days, goes up to 2 (the customer's
    # favour); a quarter of 2 weeks is exactly 3.5.
    assert half_days_up(Decimal(7) / 4) == 2 and half_days_up(Decimal(14) / 4) == Decimal("3.5")


def test_l5_findings_that_give_the_price_back() -> None:
    assert [f for f in ("defect", "installation-error", "document", "request", None)
            if price_refunded(f)] == ["defect", "installation-error", "document"]  # type: ignore[arg-type]


def test_l5_price_request_lapses_after_the_approval_period() -> None:
    asked = datetime(2026, 5, 1, 9, tzinfo=UTC)
    policy = Policy()  # 7 days to approve; the last second is in time
    assert not price_request_lapsed(asked, asked + timedelta(days=7), policy)
    assert price_request_lapsed(asked, asked + timedelta(days=7, seconds=1), policy)
