"""Several vantages, one verdict (R-M1, R-M2, R-M3, R-M8 in a cluster).

With several daemons probing from several *vantages* (networks, data centres), each
vantage's word on a target is a :class:`Vote`: ``down`` (with the first failure of its
streak and the last success before it, R-M1), ``up`` (the first success of its streak and
the last failure before it), or ``unknown``: the vantage's own canaries or resolver fail
(R-M2), and a blind vantage never votes for up or down.

R-M8 is decided here once, over each vantage's failing :class:`Streak` (R-M1 per vantage):

* :func:`default_quorum`: a majority of the configured vantages.
* :func:`quorum_outages`: the target is down only while at least ``quorum`` non-blind
  vantages are in a failing streak at the same time. An outage starts at the first instant
  ``quorum`` vantages fail together, the ``quorum``-th earliest start among the streaks that
  overlap then, **never** an older streak's start (a vantage cut off for days does not
  backdate the next real outage); it ends at the first instant fewer than ``quorum`` are
  still failing (a first success, or the vantage going blind).
* :func:`failed_alone`: whether a vantage saw the target fail while short of the quorum:
  a *vantage problem* (evidence, no credit), kept open until that vantage sees the target
  up again. Failures inside an outage's R-M1 uncertainty (from its start bound to its end)
  are the outage's, not the vantage's.
* :func:`blind_everywhere`: time a cluster could not see is unknown (R-M3) only where
  *every* vantage was blind; one blind vantage is covered by the others.
* :func:`fair_share`: how many targets each node of a vantage probes.

>>> from datetime import datetime, UTC
>>> at = lambda minute: datetime(2026, 3, 1, 10, minute, tzinfo=UTC)
>>> streaks = {"a": [Streak(at(3), at(2))], "b": [Streak(at(1), at(0), at(9), at(8))],
...            "c": [Streak(at(5), at(4))]}
>>> [(o.start.minute, o.start_bound.minute, o.end) for o in quorum_outages(streaks, 2)]
[(3, 2, None)]
>>> [(o.start.minute, o.end.minute, o.end_bound.minute) for o in quorum_outages(streaks, 3)]
[(5, 9, 8)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.sla.intervals import Interval, intersect, union

__all__ = [
    "Outage",
    "Streak",
    "Vote",
    "blind_everywhere",
    "default_quorum",
    "failed_alone",
    "fair_share",
    "quorum_outages",
]

VoteState = Literal["up", "down", "unknown"]


@dataclass(frozen=True, slots=True)
class Vote:
    """One vantage's current word on one target."""

    state: VoteState
    since: datetime  # first result of the streak (R-M1)
    bound: datetime | None  # last opposite result before it (R-M1)


@dataclass(frozen=True, slots=True)
class Streak:
    """One vantage's failing streak (R-M1): its first failure (``start``) and the last success
    before it (``start_bound``); the first result that ended it (``end``: a success, or the
    vantage going blind) and its last failure (``end_bound``); ``end`` None while it lasts."""

    start: datetime
    start_bound: datetime | None = None
    end: datetime | None = None
    end_bound: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outage:
    """A stretch in which a quorum of vantages failed together (R-M8), with its R-M1 bounds:
    ``start_bound`` the last success before ``start`` of the vantage that completed the
    quorum, ``end_bound`` the last failure before ``end`` of the vantage that broke it;
    ``end`` None while it lasts. ``vantages``: every vantage failing at some time in it."""

    start: datetime
    start_bound: datetime | None
    end: datetime | None
    end_bound: datetime | None
    vantages: tuple[str, ...]


def default_quorum(vantages: int) -> int:
    """A majority: 1 of 1, 2 of 2, 2 of 3, 3 of 4, 3 of 5."""
    if vantages < 1:
        raise ValueError(f"vantages: {vantages} is not a count of vantages; allowed: 1 or more")
    return vantages // 2 + 1


def quorum_outages(streaks: Mapping[str, Iterable[Streak]], quorum: int) -> list[Outage]:
    """The outages ``quorum`` vantages' failing ``streaks`` make (R-M8), by start.

    A sweep over every streak's start and end: an end at the same instant as a start comes
    first (a streak is the half-open ``[start, end)``), so a hand-over from one failing
    vantage to another at one instant is no quorum."""
    if quorum < 1:
        raise ValueError(f"quorum: {quorum} is not a quorum; allowed: 1 or more")
    # (instant, 0 for an end / 1 for a start, vantage, its bound)
    events: list[tuple[datetime, int, str, datetime | None]] = []
    for vantage, found in streaks.items():
        for streak in found:
            if streak.end is not None and streak.end <= streak.start:
                continue  # ended as it began: no failing time
            events.append((streak.start, 1, vantage, streak.start_bound))
            if streak.end is not None:
                events.append((streak.end, 0, vantage, streak.end_bound))
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    failing: dict[str, int] = {}
    outages: list[Outage] = []
    opened: tuple[datetime, datetime | None] | None = None
    seen: set[str] = set()
    for instant, starts, vantage, bound in events:
        if starts:
            failing[vantage] = failing.get(vantage, 0) + 1
        else:
            failing[vantage] -= 1
            if not failing[vantage]:
                del failing[vantage]
        if opened is None and len(failing) >= quorum:
            opened, seen = (instant, bound), set(failing)
        elif opened is not None and len(failing) < quorum:
            outages.append(Outage(opened[0], opened[1], instant, bound, tuple(sorted(seen))))
            opened = None
        elif opened is not None:
            seen |= failing.keys()
    if opened is not None:
        outages.append(Outage(opened[0], opened[1], None, None, tuple(sorted(seen))))
    return outages


def failed_alone(streak: Streak, outages: Iterable[Outage]) -> bool:
    """Whether ``streak`` saw a failure while short of the quorum (a vantage problem, R-M8).

    Its failures were seen from its ``start`` to its last failure (``end_bound``; with no
    end, still failing now). A quorum's outage covers them from its ``start_bound`` (its
    completing vantage's last success: the outage may have begun any time after it, R-M1) to
    its ``end``. A failure outside every outage's cover was the vantage's alone."""
    last = streak.end_bound if streak.end is not None else None
    if last is not None and last < streak.start:
        return False  # no failure seen at all
    covers = sorted((o.start_bound or o.start, o.end) for o in outages)
    reached = streak.start
    for begin, end in covers:
        if begin > reached:
            break
        if end is None:
            return False
        if end > reached:
            reached = end
        if last is not None and reached >= last:
            return False
    return True


def blind_everywhere(
    blind: Mapping[str, Iterable[Interval]], vantages: Sequence[str]
) -> list[Interval]:
    """The time every one of ``vantages`` was blind: the cluster's unknown time (R-M3)."""
    if not vantages:
        return []
    common = union(blind.get(vantages[0], ()))
    for vantage in vantages[1:]:
        if not common:
            break
        common = intersect(common, union(blind.get(vantage, ())))
    return common


def fair_share(targets: int, nodes: Sequence[str], node: str) -> int:
    """How many of ``targets`` ``node`` holds among the live ``nodes`` of its vantage: an even
    spread by count, the remainder one each to the first nodes by name.

    >>> [fair_share(200, ["a", "b", "c"], n) for n in "abc"]
    [67, 67, 66]
    """
    ordered = sorted(set(nodes) | {node})
    base, extra = divmod(targets, len(ordered))
    return base + (1 if ordered.index(node) < extra else 0)
