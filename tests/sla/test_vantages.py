"""Several vantages, one verdict (R-M1, R-M2, R-M3): worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    Policy,
    Vote,
    blind_everywhere,
    compute_month,
    confirmed_down,
    confirmed_up,
    default_quorum,
    fair_share,
    month_period,
)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_default_quorum_is_a_majority() -> None:
    assert [default_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="vantages: 0"):
        default_quorum(0)


def test_r_m2_blind_vantage_is_no_vote_and_start_is_earliest_failure() -> None:
    # x failed from 10:03 (last success 10:02), y from 10:01 (last success 10:00): with a
    # quorum of 2 the incident starts at 10:01, y's streak, bound 10:00 (R-M1).
    votes = {
        "x": Vote("down", at(1, 10, 3), at(1, 10, 2)),
        "y": Vote("down", at(1, 10, 1), at(1, 10, 0)),
        "z": Vote("unknown", at(1, 9, 0), None),  # its canaries fail: no vote
    }
    found = confirmed_down(votes, 2)
    assert found is not None
    assert (found.start, found.bound, found.confirmed_by) == (
        at(1, 10, 1), at(1, 10, 0), ("x", "y"))
    assert confirmed_down(votes, 3) is None  # z's blindness never counts as down
    # One vantage down alone is a vantage problem, not an incident.
    assert confirmed_down({"x": votes["x"], "y": Vote("up", at(1, 9), None)}, 2) is None


def test_recovery_ends_at_the_streak_that_completed_the_quorum() -> None:
    # y saw it up from 11:00 (last failure 10:59), x from 11:05 (last failure 11:04): the
    # second up vote completes a quorum of 2, so the end is 11:05 with bound 11:04.
    votes = {
        "x": Vote("up", at(1, 11, 5), at(1, 11, 4)),
        "y": Vote("up", at(1, 11, 0), at(1, 10, 59)),
        "z": Vote("unknown", at(1, 9, 0), None),
    }
    found = confirmed_up(votes, 2)
    assert found is not None and (found.at, found.bound) == (at(1, 11, 5), at(1, 11, 4))
    assert confirmed_up(votes, 1) is not None and confirmed_up(votes, 1).at == at(1, 11, 0)  # type: ignore[union-attr]
    assert confirmed_up({"x": votes["x"]}, 2) is None


def test_r_m3_cluster_unknown_only_where_every_vantage_was_blind() -> None:
    # x blind 10:00-12:00, y blind 11:00-13:00: both only 11:00-12:00 (1 h).
    blind = {"x": [Interval(at(1, 10), at(1, 12))], "y": [Interval(at(1, 11), at(1, 13))]}
    assert blind_everywhere(blind, ["x", "y"]) == [Interval(at(1, 11), at(1, 12))]
    assert blind_everywhere(blind, ["x", "y", "z"]) == []  # z could see
    assert blind_everywhere(blind, ["x"]) == [Interval(at(1, 10), at(1, 12))]


def test_fair_share_spreads_by_count() -> None:
    assert [fair_share(200, ["a", "b"], n) for n in "ab"] == [100, 100]
    assert [fair_share(7, ["c", "a", "b"], n) for n in "abc"] == [3, 2, 2]
    assert fair_share(5, [], "a") == 5  # alone: everything
    assert sum(fair_share(1001, list("abcd"), n) for n in "abcd") == 1001


def test_r_m3_unknown_of_one_service_counts_only_for_its_customers() -> None:
    # March 2026 (31 days = 2,678,400 s), UTC. A lost node left 'proj-a' unprobed for 90 s
    # (10:00:00-10:01:30 on the 2nd): acme (depends on proj-a) has 90 s unknown; beta
    # (depends on proj-b only) has none. No incident: availability 100 % for both.
    period = month_period("2026-03", "gregorian", "UTC")
    customers = [
        CustomerInput(id="acme", name="ACME", fee_per_year=Decimal(365), currency="EUR",
                      services=frozenset({"proj-a"})),
        CustomerInput(id="beta", name="Beta", fee_per_year=Decimal(365), currency="EUR",
                      services=frozenset({"proj-b"})),
    ]
    report = compute_month(
        period, customers, [], [], {}, [], Policy(), at(31, 23, 59),
        unknown_by_service={"proj-a": [Interval(at(2, 10), at(2, 10, 1).replace(second=30))]},
    )
    assert report.customer("acme").unknown_seconds == 90
    assert report.customer("beta").unknown_seconds == 0
    # Unknown time under an incident is downtime, not unknown (R-M3): an incident of
    # proj-a from 10:01 to 10:05 leaves 60 s of the gap unknown.
    incident = IncidentInput(id=1, service_id="proj-a", start=at(2, 10, 1), end=at(2, 10, 5),
                             cause="provider", detected_at=at(2, 10, 1), source="probe")
    report = compute_month(
        period, customers, [incident], [], {}, [], Policy(), at(31, 23, 59),
        unknown_by_service={"proj-a": [Interval(at(2, 10), at(2, 10, 1).replace(second=30))]},
    )
    assert report.customer("acme").unknown_seconds == 60
    assert report.customer("acme").downtime_seconds == 240
