"""R-M3: time the daemon did not watch is unknown, in every report (trap 2).

The daemon's coverage is its sessions, each from its start to its last heartbeat; a gap
between them, or between the last heartbeat and ``now``, longer than ``unknown_after`` is
unknown time (all of it); so is the part of the month before the daemon first ran.
Numbers are worked out by hand on March 2026 in UTC (31 days).
"""

from __future__ import annotations

from monitor.sla import Interval, SessionInput, total_seconds, unobserved

from .builders import DAY, HOUR, MARCH, MINUTE, at, customer, later, outage, report_for

TOLERANCE = MINUTE  # monitor.unknown_after, the default 1 min


def test_r_m3_before_the_first_run_and_since_the_daemon_stopped_is_unknown() -> None:
    # First ran on day 10 at 00:00; stopped (last heartbeat) at 10:00 on day 20; now 12:00.
    now = at(20, 12)
    sessions = [SessionInput(at(10), at(20, 10))]
    gaps = unobserved(sessions, Interval(MARCH.start, now), now, TOLERANCE)
    # Days 1 to 9 (9 days) and the 2 h since the daemon stopped.
    assert gaps == [Interval(at(1), at(10)), Interval(at(20, 10), at(20, 12))]
    assert total_seconds(gaps) == 9 * DAY + 2 * HOUR


def test_r_m3_in_the_report_unknown_time_is_shown_and_not_counted_as_down() -> None:
    now = at(20, 12)
    sessions = [SessionInput(at(10), at(20, 10))]
    unknown = unobserved(sessions, Interval(MARCH.start, now), now, TOLERANCE)
    # A manual incident of 3 h on day 5 (phoned in) sits inside the unknown days: it is
    # downtime, and only the rest of the unknown time is unknown_seconds (R-M3).
    report = report_for(customer(), [outage(1, "panel", at(5, 8), 3 * HOUR, source="manual")],
                        unknown=unknown, now=now)
    assert report.unknown_seconds == 9 * DAY + 2 * HOUR - 3 * HOUR
    assert report.downtime_seconds == 3 * HOUR
    # R-M6: unknown time stays in the denominator, never counted as down.
    assert report.period_seconds == 31 * DAY


def test_r_m3_a_daemon_running_now_leaves_no_trailing_gap() -> None:
    now = at(20, 12)
    last_beat = later(now, -10)  # heartbeats every 10 s
    assert unobserved([SessionInput(at(1), last_beat)], Interval(MARCH.start, now), now,
                      TOLERANCE) == []


def test_r_m3_a_clean_stop_is_unknown_at_once_a_kill_after_unknown_after() -> None:
    # R-M3's decision: stopped cleanly 10 s ago (its last heartbeat is the stop), the 10 s
    # since are unknown at once; killed 10 s ago (no stop recorded), they are not yet,
    # within unknown_after of its last heartbeat.
    now = at(20, 12)
    stop = later(now, -10)
    window = Interval(MARCH.start, now)
    stopped = [SessionInput(at(1), stop, stopped=True)]
    assert unobserved(stopped, window, now, TOLERANCE) == [Interval(stop, now)]
    assert unobserved([SessionInput(at(1), stop)], window, now, TOLERANCE) == []
    # In a cluster another node's run still beating keeps the monitor running.
    other = SessionInput(at(2), later(now, -12))
    assert unobserved([*stopped, other], window, now, TOLERANCE) == []


def test_r_m3_gaps_between_runs_longer_than_unknown_after_are_unknown_whole() -> None:
    now = at(31, 23)
    sessions = [
        SessionInput(at(1), at(10)),
        SessionInput(later(at(10), 30), at(15)),  # restarted after 30 s: within 1 min
        SessionInput(later(at(15), 2 * MINUTE), at(31, 23)),  # after 2 min: unknown, whole
    ]
    gaps = unobserved(sessions, Interval(MARCH.start, now), now, TOLERANCE)
    assert gaps == [Interval(at(15), later(at(15), 2 * MINUTE))]


def test_r_m3_a_month_the_daemon_never_ran_in_is_unknown_up_to_now() -> None:
    now = at(20, 12)
    assert unobserved([], Interval(MARCH.start, now), now, TOLERANCE) == [
        Interval(MARCH.start, now)]
    # A run that ended before the month began does not cover it.
    assert unobserved([SessionInput(at(1, month=2), at(20, month=2))],
                      Interval(MARCH.start, now), now, TOLERANCE) == [Interval(MARCH.start, now)]


def test_r_m3_sessions_are_cut_to_whole_seconds_like_every_engine_instant() -> None:
    now = at(2)
    start = later(at(1, 6), 0).replace(microsecond=700000)  # 06:00:00.7 counts from 06:00:00
    gaps = unobserved([SessionInput(start, now)], Interval(MARCH.start, now), now, TOLERANCE)
    assert gaps == [Interval(at(1), at(1, 6))]
