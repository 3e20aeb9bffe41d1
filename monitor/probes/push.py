"""Push targets: the target's own job calls this monitor, and a missing call is the outage.

A job that cannot be probed from here (a queue worker, a backup, a project behind NAT)
calls ``POST /api/v1/push/ID`` at least once every ``interval``, with a ``push:ID`` token
(:mod:`monitor.http.push_api`, :func:`monitor.actions.record_push`); each call is kept in
the :class:`~monitor.actions.push_book.PushBook` of the daemon's
:class:`~monitor.probes.sessions.ProbeSessions` (the last one per target). The daemon
checks the target every ``interval`` as it probes any other (:class:`PushCheck`), and the
result goes the same way (incidents, R-M1; e-mails; metrics):

* **up**: the last push came within ``interval`` and ``timeout`` (how late a push may be)
  before the check and said up;
* **down**, ``condition``: the last push said down (its message is the detail);
* **down**, ``timeout``: none came in that time;
* **unknown**: none came in that time, but this monitor has not watched the target for
  that long (it started, or the target was added by a reload, less than ``interval`` and
  ``timeout`` ago: a call made while no daemon ran was never seen, R-M3); or this process
  was held up within the last ``timeout`` (R-M2: a push may be waiting, unread).

*Decisions:* the last push before each check counts (a job that pushed down and then up
within one interval is up: the check sees its state, as a probe would). R-M1's start of
an incident is the first check that found the push missing or down, precise to one
interval like any probe's. Push targets are always checked in the daemon (never in a probe
worker). The pushes a node takes are written to the store within a second and the others'
read from it (:func:`monitor.actions.share_pushes`): every node of a cluster judges by the
same last push, whichever node the job called, and a restarted daemon knows the last push
before it stopped.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from monitor.config.schema import PushProbe
from monitor.errors import ConditionFailed, ProbeTimeout
from monitor.probes.base import ProbeResult, checked, late_enough, shorten

if TYPE_CHECKING:
    from monitor.probes.sessions import ProbeSessions

__all__ = ["PushCheck"]


class PushCheck:
    """A push target's check (module docstring): nothing is sent, the book is read."""

    __slots__ = ("_book", "_clock", "_config", "_stalls", "target_id")

    def __init__(self, target_id: str, config: PushProbe, sessions: ProbeSessions) -> None:
        self.target_id = target_id
        self._config = config
        self._book = sessions.pushes
        self._clock = sessions.clock
        self._stalls = sessions.stalls
        self._book.watch(target_id, sessions.clock.now())

    async def check(self) -> ProbeResult:
        started = time.monotonic()
        now = self._clock.now()
        config = self._config
        allowed = config.counts_for
        last = self._book.last(self.target_id)
        if last is not None and (now - last.at).total_seconds() <= allowed:
            failure = None if last.up else ConditionFailed(
                "the job pushed down" + (f": {last.message}" if last.message else
                                         " (no message)"))
            return self._untimed(checked(self.target_id, now, started, failure, None))
        # Imported here, as monitor.config.schema does: the probes' modules do not load the
        # presentation package (its tables and reports) into every probe worker.
        from monitor.present.formats import format_duration, format_time

        expected = (f"one is due every {format_duration(config.interval)}, at most "
                    f"{format_duration(config.timeout)} late")
        since = self._book.watched_since(self.target_id) or now
        watched = (now - since).total_seconds()
        if last is None:
            missing = ProbeTimeout(f"no push since this monitor began watching at "
                                   f"{format_time(since, 'UTC', seconds=True)} ({expected})")
        else:
            missing = ProbeTimeout(
                f"no push for {format_duration((now - last.at).total_seconds())} (the last at "
                f"{format_time(last.at, 'UTC', seconds=True)}; {expected})")
        if watched < allowed:  # a call made while nobody watched was never seen (R-M3)
            return ProbeResult(self.target_id, "unknown", now, "timeout", shorten(
                f"not judged: this monitor has watched for only {format_duration(watched)}: "
                f"{missing}"))
        # R-M2: held up meanwhile, this process may not have read a push that came in time.
        held = self._stalls.held_up(started - config.timeout, started)
        return self._untimed(checked(self.target_id, now, started, missing,
                                     held if late_enough(held, config.timeout) else None))

    @staticmethod
    def _untimed(result: ProbeResult) -> ProbeResult:
        """A push has no response time (nothing was asked): none is recorded, exported or
        drawn on the status page, where a few microseconds of reading the book would show
        as the target's."""
        return replace(result, total=None)

