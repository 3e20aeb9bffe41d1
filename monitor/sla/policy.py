"""The contract's numbers, as one value object with the SPEC defaults.

The config layer builds a :class:`Policy` from YAML; the engine reads nothing
else. Durations are in seconds, credits in days of service (R-T2).

>>> Policy().tiers[0]
Tier(name='1w', min_downtime_seconds=5400, credit_days=7)
>>> Policy(target_percent=Decimal("99.9")).notification_deadline_seconds
7200
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

__all__ = ["DEFAULT_TIERS", "FLAP_WINDOW", "Policy", "Tier"]

#: R-M1, the house's decision: an incident that recovers and fails again within this is
#: reopened rather than a new one opened (one incident and one alert instead of a storm;
#: the short up time inside it counts as down, in the customer's favour). The e-mail that
#: a reopened incident ended again waits as long (monitor.notify.duties).
FLAP_WINDOW = timedelta(minutes=5)

_DAY = 86_400
_HOUR = 3_600


@dataclass(frozen=True, slots=True)
class Tier:
    """A credit tier (R-T1): counted downtime of at least ``min_downtime_seconds``
    (lower bound inclusive, R-T1 Decision) earns ``credit_days`` of service."""

    name: str
    min_downtime_seconds: int
    credit_days: int


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("1w", 90 * 60, 7),  # D >= 1.5 h: 1 week
    Tier("2w", 8 * _HOUR, 14),  # D >= 8 h: 2 weeks
    Tier("1m", 16 * _HOUR, 30),  # D >= 16 h: 1 month = 30 days (R-T2)
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Every configurable number of the SLA, defaulting to the SPEC's."""

    target_percent: Decimal = Decimal("99.8")  # R-T0
    tiers: tuple[Tier, ...] = DEFAULT_TIERS  # R-T1, R-T2
    notification_deadline_seconds: int = 2 * _HOUR  # R-N1: within 2 h is in time
    notification_credit_days: int = 1  # R-N1
    maintenance_notice_seconds: int = 48 * _HOUR  # R-EX1 / D-3: exactly 48 h is in time
    detection_deadline_seconds: int = 15 * 60  # D-1
    diagnosis_deadline_seconds: int = 48 * _HOUR  # R-P1, R-P2
    web_panel_fix_deadline_seconds: int = 3 * _DAY  # R-P1
    partial_penalty_fraction: Decimal = Decimal("0.25")  # R-P1: 1/4 of the tier credit
    mobile_fix_deadline_seconds: int = 3 * _DAY  # R-P2
    mobile_refund_percent_per_day: Decimal = Decimal("1")  # R-P2: 1% per started day
    claim_deadline_seconds: int = 14 * _DAY  # R-C1: claim within 14 days after the month ends
    decision_deadline_seconds: int = 14 * _DAY  # R-C1: decision within 14 days of submission
    credit_delay_seconds: int = 30 * _DAY  # R-C1: approved credit effective a month later
    price_approval_seconds: int = 7 * _DAY  # L-5: a raised price waits this long for approval
    weekend_days: frozenset[int] = frozenset({4})  # R-C1 Decision: date.weekday(), Friday
    holidays: frozenset[date] = frozenset()  # R-C1 Decision: configured holiday list

    def __post_init__(self) -> None:
        if not Decimal(0) < self.target_percent <= Decimal(100):
            raise ValueError(f"target_percent {self.target_percent}: must be in (0, 100]")
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{field.name} {value}: must not be negative")
        if not Decimal(0) <= self.partial_penalty_fraction <= Decimal(1):
            raise ValueError(f"partial_penalty_fraction {self.partial_penalty_fraction}: "
                             "must be between 0 and 1")
        if self.mobile_refund_percent_per_day < 0:
            raise ValueError(f"mobile_refund_percent_per_day {self.mobile_refund_percent_per_day}:"
                             " must not be negative")
        if not self.weekend_days <= frozenset(range(7)) or len(self.weekend_days) == 7:
            raise ValueError(f"weekend_days {sorted(self.weekend_days)}: weekday numbers 0 "
                             "(Monday) to 6 (Sunday), not all seven")
        _check_tiers(self.tiers)


def _check_tiers(tiers: tuple[Tier, ...]) -> None:
    """R-T1: a longer outage must never earn less, so tiers strictly increase."""
    names = [tier.name for tier in tiers]
    if len(set(names)) != len(names):
        raise ValueError(f"tiers {names}: tier names must be unique")
    for tier in tiers:
        if tier.min_downtime_seconds <= 0 or tier.credit_days <= 0:
            raise ValueError(f"tier {tier.name!r}: min_downtime_seconds and credit_days "
                             "must be positive")
    for lower, upper in pairwise(tiers):
        if not lower.min_downtime_seconds < upper.min_downtime_seconds:
            raise ValueError(
                f"tiers must be strictly increasing in downtime: {upper.name!r} starts at "
                f"{upper.min_downtime_seconds} s, not after {lower.name!r} at "
                f"{lower.min_downtime_seconds} s")
        if not lower.credit_days < upper.credit_days:
            raise ValueError(
                f"tiers must be strictly increasing in credit: {upper.name!r} gives "
                f"{upper.credit_days} days, not more than {lower.name!r} with "
                f"{lower.credit_days} days")
