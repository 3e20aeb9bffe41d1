"""What each site holds (SPEC section 2, L-1..L-6, R-P4), decided once.

The ledger keeps, per site (domain), lines of one of three kinds:

* ``days``: days of service credited (R-T1, R-N1, R-P1 through an approved claim; R-C3
  adjustments), whole or exact halves;
* ``charge``: the site's support balance in its currency (000): payments of support
  charge (L-6 top-ups), ticket prices debited and given back (L-5), and what expired at
  the end of a yearly period (L-6);
* ``refund``: money the contract itself refunds of the fee (R-P2), recorded, never part
  of the support balance (L-3: balances are never paid out; R-P4).

A fourth kind, ``renewal``, records a paid yearly period (L-2) and holds no amount.
Lines are never edited or deleted: corrections are new lines (R-C3).

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> lines = [LedgerLine("charge", t, amount=Decimal(500)), LedgerLine("charge", t, amount=Decimal(-200))]
>>> balance(lines, "charge", t)
Decimal('300')
>>> [e.amount for e in charge_expiries(lines, [datetime(2026, 6, 1, tzinfo=UTC)], datetime(2026, 7, 1, tzinfo=UTC))]
[Decimal('-300')]
>>> is_money(Decimal("12.5"), "IRR"), is_money(Decimal("12.50"), "EUR"), is_half_days(Decimal("3.5"))
(False, True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, get_args

from monitor.sla.deadlines import within
from monitor.sla.intervals import whole_second
from monitor.sla.policy import Policy

__all__ = [
    "FINDINGS",
    "LEDGER_KINDS",
    "REFUNDED_FINDINGS",
    "Finding",
    "LedgerKind",
    "LedgerLine",
    "balance",
    "charge_expiries",
    "is_half_days",
    "is_money",
    "minor_units",
    "money_shown",
    "price_refunded",
    "price_request_lapsed",
]

LedgerKind = Literal["days", "charge", "refund", "renewal"]
LEDGER_KINDS: tuple[LedgerKind, ...] = get_args(LedgerKind)

Finding = Literal["defect", "installation-error", "document", "request"]
#: What a diagnosis found a ticket to be (L-5): a real defect of the product, an
#: installation error of the provider's, a ticket that only delivers a document (e.g. a
#: payment receipt), or a request for work (a feature, a service on the site).
FINDINGS: tuple[Finding, ...] = get_args(Finding)
#: The findings of a diagnosis that is not the provider's fault (a document, a request);
#: the others (a defect, an installation error) go with a provider-fault diagnosis.
NOT_PROVIDER_FAULT: tuple[Finding, ...] = ("document", "request")
PROVIDER_FAULT: tuple[Finding, ...] = tuple(f for f in FINDINGS if f not in NOT_PROVIDER_FAULT)
#: L-5: findings whose ticket price is given back.
REFUNDED_FINDINGS: frozenset[Finding] = frozenset({"defect", "installation-error", "document"})

# ISO 4217 minor units of the currencies a provider is likely to bill in; 2 otherwise.
# Decision (ours): the Iranian rial is kept in whole rials (its dinar is not used), and the
# toman ("IRT" by custom, ten rials, no ISO code) in whole tomans.
_MINOR_UNITS = {"IRR": 0, "IRT": 0, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0,
                "XAF": 0, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3}


def minor_units(currency: str) -> int:
    """Decimal places of an amount in ``currency``: 0 for IRR, 2 for EUR, 3 for KWD."""
    return _MINOR_UNITS.get(currency, 2)


def money_shown(amount: Decimal, currency: str) -> Decimal:
    """An amount as every document shows it: half up to the currency's unit (R-T2; the
    engine keeps it exact). ``money_shown(Decimal("394520.5"), "IRT")`` is ``394521``."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def is_money(amount: Decimal, currency: str) -> bool:
    """An amount a ledger line may hold: finite, and no finer than the currency's unit."""
    if not amount.is_finite():
        return False
    return amount == amount.quantize(Decimal(1).scaleb(-minor_units(currency)))


def is_half_days(days: Decimal) -> bool:
    """Days of service are whole or exact halves (3.5), never finer."""
    return days.is_finite() and (days * 2) == (days * 2).to_integral_value()


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ledger line as the rules see it. ``period_end`` marks an L-6 expiry line: the
    end of the yearly period whose left-over charge it expired."""

    kind: LedgerKind
    effective_at: datetime
    days: Decimal | None = None
    amount: Decimal | None = None
    period_end: datetime | None = None


def balance(lines: Iterable[LedgerLine], kind: LedgerKind, at: datetime) -> Decimal:
    """The sum of ``kind`` lines in effect at ``at`` (days for ``days``, money otherwise):
    an approved credit counts from its ``effective_at`` (R-C1: a month after approval)."""
    total = Decimal(0)
    for line in lines:
        if line.kind != kind or line.effective_at > at:
            continue
        value = line.days if kind == "days" else line.amount
        total += value if value is not None else Decimal(0)
    return total


def charge_expiries(
    lines: Sequence[LedgerLine], period_ends: Iterable[datetime], at: datetime
) -> list[LedgerLine]:
    """L-6: the expiry lines not yet recorded for yearly periods that ended by ``at``.

    Support charge bought within a yearly period is not carried into the next one
    (000): at each period's end, what is left of the site's charge (everything in effect
    before that instant, earlier expiries included) expires. A period already expired
    (a recorded line with its ``period_end``) is skipped, so recording the result and
    asking again gives nothing: the ledger is append-only.
    """
    recorded = {whole_second(line.period_end) for line in lines if line.period_end is not None}
    found: list[LedgerLine] = []
    for end in sorted({whole_second(e) for e in period_ends}):
        if end > at or end in recorded:
            continue
        left = sum(
            (line.amount for line in (*lines, *found)
             if line.kind == "charge" and line.amount is not None and line.effective_at < end),
            Decimal(0))
        if left > 0:
            found.append(LedgerLine("charge", end, amount=-left, period_end=end))
    return found


def price_refunded(finding: Finding | None) -> bool:
    """L-5: a diagnosis finding a real defect, an installation error of the provider's, or
    a ticket that only delivers a document gives the ticket's price back."""
    return finding in REFUNDED_FINDINGS


def price_request_lapsed(requested_at: datetime, now: datetime, policy: Policy) -> bool:
    """L-5: a raised price not approved within ``policy.price_approval_seconds`` is refused
    by silence: the ticket is closed undone and its price given back. Approval at the
    deadline itself is in time (:func:`monitor.sla.deadlines.within`)."""
    waited = (whole_second(now) - whole_second(requested_at)) / timedelta(seconds=1)
    return not within(waited, policy.price_approval_seconds)
