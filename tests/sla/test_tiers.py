"""Availability (R-M6), target (R-T0), credit tiers (R-T1) and credit units (R-T2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitor.sla import Policy, Tier

from .builders import (
    HOUR,
    MINUTE,
    MONTH_SECONDS,
    at,
    customer,
    notified_in_time,
    outage,
    report_for,
)

# R-T1 Decision: each tier's lower bound is inclusive; one second less is the tier below.
TIER_BOUNDARIES = [
    (90 * MINUTE, "1w", 7),  # exactly 1.5 h
    (90 * MINUTE - 1, None, 0),
    (8 * HOUR, "2w", 14),  # exactly 8 h
    (8 * HOUR - 1, "1w", 7),
    (16 * HOUR, "1m", 30),  # exactly 16 h
    (16 * HOUR - 1, "2w", 14),
]


@pytest.mark.parametrize(("downtime", "tier", "days"), TIER_BOUNDARIES)
def test_r_t1_tier_boundaries_are_inclusive(downtime: int, tier: str | None, days: int) -> None:
    incidents = [outage(1, "panel", at(10, 2), downtime)]
    report = report_for(customer(), incidents, notifications=notified_in_time(incidents))
    assert report.downtime_seconds == downtime
    assert (report.tier, report.tier_credit_days) == (tier, days)
    assert report.credit_days_total == days  # notified in time: no R-N1 day


def test_r_t1_downtime_adds_up_over_the_month() -> None:
    # Three separate outages of 30 min, 30 min and 30 min reach 1.5 h together.
    incidents = [outage(i, "panel", at(day, 9), 30 * MINUTE) for i, day in enumerate((3, 9, 27))]
    report = report_for(customer(), incidents, notifications=notified_in_time(incidents))
    assert report.downtime_seconds == 3 * 30 * MINUTE
    assert report.tier == "1w"


def test_r_m6_availability_is_exact_and_keeps_the_whole_month_in_the_denominator() -> None:
    incidents = [outage(1, "panel", at(10, 2), 5400)]
    report = report_for(customer(), incidents)
    expected = Decimal(MONTH_SECONDS - 5400) * 100 / Decimal(MONTH_SECONDS)
    assert report.availability_percent == expected
    # 99.79838...: shown rounded down to three places.
    assert report.to_json()["availability_percent"] == 99.798


def test_r_t0_no_tier_while_availability_meets_the_target() -> None:
    # With a 99.7% target, 1.5 h in a 31-day month (99.798%) meets the target: no tier.
    policy = Policy(target_percent=Decimal("99.7"))
    report = report_for(customer(), [outage(1, "panel", at(10, 2), 5400)], policy=policy)
    assert report.tier is None and report.tier_credit_days == 0


def test_r_t0_exactly_on_target_is_not_below_it() -> None:
    # A tier whose bound is exactly the downtime that leaves 99.8% of a 31-day month:
    # 0.2% of 2678400 s = 5356.8 s, so 5356 s is 99.80002% (meets) and 5357 s is below.
    policy = Policy(tiers=(Tier("tiny", 1, 1),))
    meets = report_for(customer(), [outage(1, "panel", at(10, 2), 5356)], policy=policy)
    below = report_for(customer(), [outage(1, "panel", at(10, 2), 5357)], policy=policy)
    assert (meets.tier, below.tier) == (None, "tiny")


def test_r_t2_credit_value_is_days_times_fee_over_365() -> None:
    incidents = [outage(1, "panel", at(10, 2), 8 * HOUR)]
    report = report_for(customer(), incidents, notifications=notified_in_time(incidents))
    # 2 weeks = 14 days; the fee is 3650 a year, so a day is worth 10.
    assert report.credit_value == Decimal(14) * Decimal(3650) / 365
    assert report.to_json()["credit_value"] == 140.0


def test_r_t1_configured_tiers_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing in downtime"):
        Policy(tiers=(Tier("a", 100, 1), Tier("b", 100, 2)))
    with pytest.raises(ValueError, match="strictly increasing in credit"):
        Policy(tiers=(Tier("a", 100, 2), Tier("b", 200, 2)))
    with pytest.raises(ValueError, match="target_percent"):
        Policy(target_percent=Decimal(101))


def test_r_t1_defaults_are_the_spec_tiers() -> None:
    assert [(t.name, t.min_downtime_seconds, t.credit_days) for t in Policy().tiers] == [
        ("1w", 90 * 60, 7), ("2w", 8 * 3600, 14), ("1m", 16 * 3600, 30)]
