"""The last push of each push target, as the daemon keeps it in memory: what the HTTP edge
records (:func:`monitor.actions.record_push`) and each target's check reads
(:mod:`monitor.probes.push`, where what a push means is decided)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Push", "PushBook"]


@dataclass(frozen=True, slots=True)
class Push:
    """One call of a target's job: when it came (UTC), whether it said up, its message."""

    at: dt.datetime
    up: bool
    message: str = ""


class PushBook:
    """The last push of each target, and since when each has been watched."""

    def __init__(self) -> None:
        self._last: dict[str, Push] = {}
        self._watched: dict[str, dt.datetime] = {}

    def watch(self, target_id: str, since: dt.datetime) -> None:
        """``target_id`` is watched from ``since`` (kept if it already was: a reload that
        rebuilds its check does not start its watch again)."""
        self._watched.setdefault(target_id, since)

    def watched_since(self, target_id: str) -> dt.datetime | None:
        return self._watched.get(target_id)

    def record(self, target_id: str, push: Push) -> None:
        self._last[target_id] = push

    def last(self, target_id: str) -> Push | None:
        return self._last.get(target_id)

    def keep_only(self, target_ids: set[str]) -> None:
        """Forget the targets a reload removed (one added again is watched anew)."""
        for book in (self._last, self._watched):
            for gone in book.keys() - target_ids:
                del book[gone]
