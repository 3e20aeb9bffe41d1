"""Several vantages, one verdict (R-M1, R-M2, R-M3 in a cluster).

With several daemons probing from several *vantages* (networks, data centres), each
vantage's word on a target is a :class:`Vote`: ``down`` (with the first failure of its
streak and the last success before it, R-M1), ``up`` (the first success of its streak and
the last failure before it), or ``unknown``: the vantage's own canaries or resolver fail
(R-M2), and a blind vantage never votes for up or down.

* :func:`default_quorum`: a majority of the configured vantages.
* :func:`confirmed_down`: an incident opens only when ``quorum`` vantages vote down; it
  starts at the **earliest** failure of the confirming streaks (the customer is not
  shortened by a slower vantage), its bound that vantage's last success.
* :func:`confirmed_up`: it closes when ``quorum`` vantages vote up again. **Decision:**
  its end is the first success of the streak that *completed* the recovery quorum (the
  quorum-th earliest), the last failure before it the bound: the outage lasts until a
  quorum could see the target again, as it began when the first of a quorum could not.
* :func:`blind_everywhere`: time a cluster could not see is unknown (R-M3) only where
  *every* vantage was blind; one blind vantage is covered by the others.
* :func:`fair_share`: how many targets each node of a vantage probes.

>>> from datetime import datetime, UTC
>>> at = lambda minute: datetime(2026, 3, 1, 10, minute, tzinfo=UTC)
>>> votes = {"a": Vote("down", at(3), at(2)), "b": Vote("down", at(1), at(0)),
...          "c": Vote("unknown", at(0), None)}
>>> found = confirmed_down(votes, 2)
>>> found.confirmed_by, found.start.minute, found.bound.minute
(('a', 'b'), 1, 0)
>>> confirmed_down(votes, 3) is None  # the blind vantage is no vote
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.sla.intervals import Interval, intersect, union

__all__ = [
    "Confirmation",
    "Vote",
    "blind_everywhere",
    "confirmed_down",
    "confirmed_up",
    "default_quorum",
    "fair_share",
]

VoteState = Literal["up", "down", "unknown"]


@dataclass(frozen=True, slots=True)
class Vote:
    """One vantage's current word on one target."""

    state: VoteState
    since: datetime  # first result of the streak (R-M1)
    bound: datetime | None  # last opposite result before it (R-M1)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A quorum agrees: when (``at``, with its R-M1 ``bound``) and who (sorted)."""

    at: datetime
    bound: datetime | None
    confirmed_by: tuple[str, ...]

    @property
    def start(self) -> datetime:
        return self.at


def default_quorum(vantages: int) -> int:
    """A majority: 1 of 1, 2 of 2, 2 of 3, 3 of 4, 3 of 5."""
    if vantages < 1:
        raise ValueError(f"vantages: {vantages} is not a count of vantages; allowed: 1 or more")
    return vantages // 2 + 1


def _agreeing(votes: Mapping[str, Vote], state: VoteState) -> list[tuple[datetime, str]]:
    return sorted((vote.since, vantage) for vantage, vote in votes.items() if vote.state == state)


def confirmed_down(votes: Mapping[str, Vote], quorum: int) -> Confirmation | None:
    """The incident ``quorum`` down votes confirm, or None (R-M2: unknown is no vote)."""
    down = _agreeing(votes, "down")
    if len(down) < quorum:
        return None
    since, first = down[0]
    return Confirmation(since, votes[first].bound, tuple(sorted(v for _, v in down)))


def confirmed_up(votes: Mapping[str, Vote], quorum: int) -> Confirmation | None:
    """The recovery ``quorum`` up votes confirm (its end, the module's decision), or None."""
    up = _agreeing(votes, "up")
    if len(up) < quorum:
        return None
    since, completing = up[quorum - 1]
    return Confirmation(since, votes[completing].bound, tuple(sorted(v for _, v in up)))


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
