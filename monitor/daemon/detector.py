"""Incident detection for one target: streaks of results in, incident events out (R-M1).

Pure: no I/O, no clock. The daemon feeds each probe result in order and acts
on the returned events (writes the incident, queues the alerts).

* ``fail_after`` consecutive failures open an incident. Its ``start`` is the
  first failure of that streak and ``start_bound`` the last success before it:
  the true start lies between them (R-M1, precise to one interval).
* ``recover_after`` consecutive successes close it. Its ``end`` is the first
  success of that streak and ``end_bound`` the last failure before it.
* ``unknown`` results (the monitor itself is impaired, R-M2) break a streak
  without counting either way: blindness never opens or closes an incident.
* Flapping: a streak shorter than the threshold is forgotten, so an
  alternating target opens nothing. An incident that closes and fails again
  within ``flap_window`` is *reopened* rather than a new one being opened
  (**Decision**: one incident and one alert instead of a storm; the short up
  time inside it counts as down, in the customer's favour).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Literal

State = Literal["up", "down", "unknown"]


@dataclass(frozen=True, slots=True)
class Opened:
    start: dt.datetime
    start_bound: dt.datetime | None
    detected_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Closed:
    end: dt.datetime
    end_bound: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Reopened:
    """A flap: the incident that just closed is open again (its end is cleared)."""

    detected_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Blinded:
    """In a cluster: our vantage went blind (R-M2) while it voted; its word on
    the target becomes ``unknown``, which is no vote. The detector never emits it."""

    at: dt.datetime


Event = Opened | Closed | Reopened | Blinded


@dataclass(slots=True)
class TargetState:
    """What the detector remembers about one target; saved so a restart continues (R-M3)."""

    incident_open: bool = False
    streak_state: State = "unknown"
    streak: int = 0
    streak_started_at: dt.datetime | None = None
    streak_bound: dt.datetime | None = None  # last opposite result before the streak
    last_success_at: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None
    last_closed_at: dt.datetime | None = None  # end of the last incident, for flap merging


_STATE_FIELDS = tuple(f.name for f in fields(TargetState))


class Detector(TargetState):
    """Feeds results of one target through the R-M1 thresholds.

    A detector is its target's state as well (a :class:`TargetState` with the thresholds
    added): one object a target instead of two, about 40 bytes less each (6 MB at 150,000
    targets, measured). :attr:`state` reads it as that state; setting it copies the given
    state's fields in.

    >>> d = Detector(fail_after=2, recover_after=1)
    >>> t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> d.observe("down", t, t)
    []
    >>> d.observe("down", t + dt.timedelta(seconds=30), t + dt.timedelta(seconds=31))[0].start == t
    True
    """

    __slots__ = ("fail_after", "flap_window", "recover_after")

    def __init__(
        self,
        fail_after: int,
        recover_after: int,
        flap_window: dt.timedelta = dt.timedelta(0),
        state: TargetState | None = None,
    ) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.recover_after = recover_after
        self.flap_window = flap_window
        if state is not None:
            self.state = state

    @property
    def state(self) -> TargetState:
        return self

    @state.setter
    def state(self, state: TargetState) -> None:
        if state is not self:
            for name in _STATE_FIELDS:
                setattr(self, name, getattr(state, name))

    def observe(self, result: State, at: dt.datetime, now: dt.datetime) -> list[Event]:
        """One result, taken at ``at`` and processed at ``now``; returns what changed."""
        s = self.state
        if result == "unknown":
            s.streak_state, s.streak, s.streak_started_at, s.streak_bound = "unknown", 0, None, None
            return []
        if result != s.streak_state:
            s.streak_state, s.streak, s.streak_started_at = result, 0, at
            s.streak_bound = s.last_success_at if result == "down" else s.last_failure_at
        s.streak += 1
        if result == "down":
            s.last_failure_at = at
        else:
            s.last_success_at = at
        return self._transition(result, now)

    def _transition(self, result: State, now: dt.datetime) -> list[Event]:
        s = self.state
        if result == "down" and not s.incident_open and s.streak == self.fail_after:
            assert s.streak_started_at is not None
            s.incident_open = True
            flapped = (
                s.last_closed_at is not None
                and s.streak_started_at - s.last_closed_at <= self.flap_window
            )
            if flapped:
                return [Reopened(detected_at=now)]
            return [Opened(s.streak_started_at, s.streak_bound, detected_at=now)]
        if result == "up" and s.incident_open and s.streak == self.recover_after:
            assert s.streak_started_at is not None
            s.incident_open = False
            s.last_closed_at = s.streak_started_at
            return [Closed(s.streak_started_at, s.streak_bound)]
        return []

    def would_open(self, result: State) -> bool:
        """Whether a failure now would reach ``fail_after`` (the daemon confirms first, R-M2)."""
        s = self.state
        if result != "down" or s.incident_open:
            return False
        streak = s.streak + 1 if s.streak_state == "down" else 1
        return streak == self.fail_after
