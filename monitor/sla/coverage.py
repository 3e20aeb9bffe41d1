"""What the daemon watched, and the unknown rest (R-M3).

The daemon keeps a *session* per run: when it started and its last heartbeat. The time
it watched is each session from its start to its last heartbeat; everything else is
time nobody watched, which R-M3 makes ``unknown``, never up:

* the part of a month before the daemon first ran (an operator may cover it with a
  manual incident, or it stays unknown);
* a gap between two runs (the daemon stopped, the host was down);
* the time since the last heartbeat when no daemon is running now.

**Decision:** a gap of at most ``tolerance`` (the configured ``monitor.unknown_after``)
counts as watched: it is a restart, or the heartbeat's own granularity (a running
daemon's last heartbeat is always a few seconds old). A longer gap is unknown *whole*,
from the last heartbeat, as the daemon records it when it starts again
(:mod:`monitor.daemon.heartbeat`). Instants are cut to whole seconds, as everywhere
in the engine (R-M6).

>>> from datetime import datetime, UTC
>>> day = lambda d, h=0: datetime(2026, 3, d, h, tzinfo=UTC)
>>> now = day(20, 12)  # first ran on the 10th, stopped at 10:00 on the 20th
>>> [(g.start.day, g.start.hour, g.end.day, g.end.hour)
...  for g in unobserved([SessionInput(day(10), day(20, 10))], Interval(day(1), now), now, 60)]
[(1, 0, 10, 0), (20, 10, 20, 12)]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.sla.inputs import SessionInput
from monitor.sla.intervals import Interval, clip, whole_second

__all__ = ["SessionInput", "unobserved", "unprobed"]


def unobserved(
    sessions: Iterable[SessionInput], window: Interval, now: datetime, tolerance: float
) -> list[Interval]:
    """The parts of ``window`` no run of the daemon watched, as of ``now`` (R-M3).

    ``sessions`` must hold every run that could touch ``window``: those whose last
    heartbeat is later than ``window.start - tolerance`` (earlier ones cannot bridge into
    it); the time before the first of them counts as never watched.
    """
    allowed = timedelta(seconds=tolerance)
    now = whole_second(now)
    runs = sorted((whole_second(s.started_at), whole_second(s.last_beat_at), s.stopped)
                  for s in sessions)
    gaps: list[Interval] = []
    watched_until: datetime | None = None
    stopped = False  # whether the run that beat last (at watched_until) stopped cleanly
    for started, last_beat, clean in runs:
        if watched_until is None:
            if window.start < started:
                gaps.append(Interval(window.start, started))  # before the first run
        elif started - watched_until > allowed:
            gaps.append(Interval(watched_until, started))
        if watched_until is None or last_beat > watched_until:
            watched_until, stopped = last_beat, clean
        elif last_beat == watched_until:
            stopped = stopped and clean  # one still running at that beat: not stopped
    if watched_until is None:
        gaps.append(window)  # never ran
        return clip(gaps, window)
    # Another run (a cluster's other node) still beating keeps the monitor running.
    running = any(not clean and now - last_beat <= allowed for _, last_beat, clean in runs)
    if ((stopped and not running) or now - watched_until > allowed) and watched_until < window.end:
        # Not running now: after a clean stop at once (R-M3's decision), after a run that
        # was killed once ``tolerance`` has passed since its last heartbeat.
        gaps.append(Interval(watched_until, max(now, window.end)))
    return clip(gaps, window)


def unprobed(
    last: datetime, probed: datetime, interval: float, tolerance: float
) -> Interval | None:
    """R-M3 per target (decision of 2026-12-04): the target was probed at ``last`` and next
    at ``probed``; a probe was due one ``interval`` after ``last``. A stretch without one
    longer than ``tolerance`` (``monitor.unknown_after``) is that target's unknown time,
    from ``last`` plus one interval to ``probed``, whatever the reason (the database away,
    a lease lost or renewed late, a dead probe worker, a lost node); a shorter one is the
    scheduler's jitter, watched.

    >>> from datetime import datetime, UTC
    >>> at = lambda s: datetime(2026, 3, 1, 10, 0, s, tzinfo=UTC)
    >>> unprobed(at(0), at(30), 2, 10)
    Interval(start=datetime.datetime(2026, 3, 1, 10, 0, 2, tzinfo=datetime.timezone.utc), \
end=datetime.datetime(2026, 3, 1, 10, 0, 30, tzinfo=datetime.timezone.utc))
    >>> unprobed(at(0), at(12), 2, 10) is None  # 10 s without a probe: not longer
    True
    """
    due = last + timedelta(seconds=interval)
    if (probed - due).total_seconds() <= tolerance:
        return None
    return Interval(due, probed)
