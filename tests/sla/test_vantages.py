"""Several vantages, one verdict (R-M1, R-M2, R-M3, R-M8): worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    Policy,
    Streak,
    blind_everywhere,
    compute_month,
    default_quorum,
    failed_alone,
    fair_share,
    month_period,
    quorum_outages,
)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_default_quorum_is_a_majority() -> None:
    assert [default_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="vantages: 0"):
        default_quorum(0)


def s(second: int) -> datetime:
    """10:00:00 on 1 March 2026 plus ``second`` seconds (probes every 2 s below)."""
    return datetime(2026, 3, 1, 10, tzinfo=UTC) + timedelta(seconds=second)


def test_r_m8_one_vantage_failing_alone_before_the_break_does_not_backdate() -> None:
    # R-M8, three vantages, quorum 2, probes every 2 s. z's path to the target breaks at
    # 10:00:00 (first failure 10:00:00, last success 09:59:58). The target itself breaks
    # 26 s later: y fails from 10:00:26 (last success :24), x from :27 (last success :25).
    # It is repaired before :40: y sees it up at :40 (last failure :38), x at :41 (last
    # failure :39); z still cannot reach it. At :26 two fail together (z and y): the
    # incident starts there, the 2nd earliest start of the overlapping streaks (z :00,
    # y :26, x :27), never z's older :00. From :40 two still fail (x, z); from :41 only z:
    # it ends at :41, bound :39. Counted 15 s for about 14 s of breakage, not 41 s.
    streaks = {
        "z": [Streak(s(0), s(-2))],
        "y": [Streak(s(26), s(24), s(40), s(38))],
        "x": [Streak(s(27), s(25), s(41), s(39))],
    }
    [outage] = quorum_outages(streaks, 2)
    assert (outage.start, outage.start_bound, outage.end, outage.end_bound) == (
        s(26), s(24), s(41), s(39))
    assert (outage.end - outage.start).total_seconds() == 15
    assert outage.vantages == ("x", "y", "z")
    # z failed alone from :00 to :24 (and after :41): its vantage problem stays open until
    # z sees the target up. y and x failed only with the quorum: no problem of theirs.
    assert failed_alone(streaks["z"][0], [outage])
    assert not failed_alone(streaks["y"][0], [outage])
    assert not failed_alone(streaks["x"][0], [outage])


def test_r_m8_staggered_starts_begin_at_the_quorum_th_earliest() -> None:
    # Five vantages, quorum 3: failures from 10:00:10 (v), :30 (w), :50 (x, last success
    # :48), 10:01:10 (y); u is blind (no streak, R-M2: no vote). Three fail together first
    # at :50, x's first failure: the 3rd earliest start, with x's last success as bound.
    streaks = {"v": [Streak(s(10), s(8))], "w": [Streak(s(30), s(28))],
               "x": [Streak(s(50), s(48))], "y": [Streak(s(70), s(68))], "u": []}
    [outage] = quorum_outages(streaks, 3)
    assert (outage.start, outage.start_bound, outage.end) == (s(50), s(48), None)
    assert quorum_outages(streaks, 5) == []  # the blind vantage never makes a quorum
    # Quorum 4 first holds at y's :70.
    assert quorum_outages(streaks, 4)[0].start == s(70)


def test_r_m8_ends_when_fewer_than_the_quorum_still_fail() -> None:
    # Three vantages, quorum 2, all failing from about :00. x sees it up at :30 (last
    # failure :28): y and z still fail, 2 = quorum, still down. y goes blind at :34 (R-M2:
    # a blind vantage is not failing): only z fails, the outage ends at :34 (no bound: a
    # blind vantage saw no last failure before it). z sees it up at :40: no outage after.
    streaks = {
        "x": [Streak(s(0), s(-2), s(30), s(28))],
        "y": [Streak(s(1), s(-1), s(34), None)],
        "z": [Streak(s(2), s(0), s(40), s(38))],
    }
    [outage] = quorum_outages(streaks, 2)
    assert (outage.start, outage.start_bound, outage.end, outage.end_bound) == (
        s(1), s(-1), s(34), None)
    # Quorum 3: down from z's :02 until x's first success at :30 (bound :28).
    [outage] = quorum_outages(streaks, 3)
    assert (outage.start, outage.end, outage.end_bound) == (s(2), s(30), s(28))


def test_r_m8_a_vantage_broken_for_days_does_not_backdate_later_outages() -> None:
    # z cannot reach the target from 1 March 00:00 and still cannot on the 5th. x fails on
    # 3 March 10:00-10:05 and y on 5 March 08:00-08:30: with quorum 2 each makes an outage
    # with z, starting at x's and y's own first failure, never at z's 1 March.
    z = Streak(at(1), at(1) - timedelta(seconds=2))
    streaks = {
        "z": [z],
        "x": [Streak(at(3, 10), None, at(3, 10, 5), None)],
        "y": [Streak(at(5, 8), None, at(5, 8, 30), None)],
    }
    outages = quorum_outages(streaks, 2)
    assert [(o.start, o.end) for o in outages] == [
        (at(3, 10), at(3, 10, 5)), (at(5, 8), at(5, 8, 30))]
    assert failed_alone(z, outages)  # days alone: z's vantage problem, never credit


def test_r_m8_a_hand_over_at_one_instant_is_no_quorum() -> None:
    # x fails 10:00:00-10:00:30, y from 10:00:30 (its first failure the instant x's first
    # success): never two at once (streaks are half-open), no outage with quorum 2. Each
    # failed alone. A vantage with two streaks makes two outages with a third.
    streaks = {"x": [Streak(s(0), None, s(30), s(28))], "y": [Streak(s(30), s(28))]}
    assert quorum_outages(streaks, 2) == []
    assert failed_alone(streaks["x"][0], []) and failed_alone(streaks["y"][0], [])
    flapping = {"x": [Streak(s(0), None, s(10), s(8)), Streak(s(20), s(18), s(30), s(28))],
                "y": [Streak(s(0), None)]}
    assert [(o.start, o.end) for o in quorum_outages(flapping, 2)] == [
        (s(0), s(10)), (s(20), s(30))]
    with pytest.raises(ValueError, match="quorum: 0"):
        quorum_outages(flapping, 0)


def test_r_m8_failures_inside_the_outages_precision_are_not_a_vantage_problem() -> None:
    # Quorum 2 of x and y; y completes it at :26 (last success :24). x's first failure at
    # :25 lies after y's last success: as far as R-M1's precision goes they failed
    # together, so x's :25 is no vantage problem. At :23 it would be (x failed while y
    # still saw the target up at :24). A streak that ended with no failure seen (last
    # failure before its start) was never a problem.
    outage = quorum_outages({"x": [Streak(s(25))], "y": [Streak(s(26), s(24))]}, 2)[0]
    assert not failed_alone(Streak(s(25), s(23), s(40), s(38)), [outage])
    assert failed_alone(Streak(s(23), s(21), s(40), s(38)), [outage])
    assert not failed_alone(Streak(s(41), None, s(44), s(39)), [])


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
