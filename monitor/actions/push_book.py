"""The last push of each push target, as the daemon keeps it in memory: what the HTTP edge
records (:func:`monitor.actions.record_push`) and each target's check reads
(:mod:`monitor.probes.push`, where what a push means is decided). The pushes this node took
are written to the store, and the others' read from it, by
:func:`monitor.actions.share_pushes` (every second)."""

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
        self._unsaved: dict[str, Push] = {}  # taken here, not written to the store yet
        # When the latest push read from the store was written (its clock): read anew after.
        self.read_until: dt.datetime | None = None

    def watch(self, target_id: str, since: dt.datetime) -> None:
        """``target_id`` is watched from ``since`` (kept if it already was: a reload that
        rebuilds its check does not start its watch again)."""
        self._watched.setdefault(target_id, since)

    def watched_since(self, target_id: str) -> dt.datetime | None:
        return self._watched.get(target_id)

    def record(self, target_id: str, push: Push) -> None:
        """A push this node took: the last, and to be written."""
        self._last[target_id] = self._unsaved[target_id] = push

    def merge(self, target_id: str, push: Push) -> None:
        """A push read from the store (another node's, or before a restart): the last
        unless a later one is known."""
        known = self._last.get(target_id)
        if known is None or push.at > known.at:
            self._last[target_id] = push

    def take_unsaved(self) -> dict[str, Push]:
        taken, self._unsaved = self._unsaved, {}
        return taken

    def give_back(self, unsaved: dict[str, Push]) -> None:
        """What could not be written, to be written next time (unless a later push came)."""
        for target_id, push in unsaved.items():
            self._unsaved.setdefault(target_id, push)

    def last(self, target_id: str) -> Push | None:
        return self._last.get(target_id)

    def keep_only(self, target_ids: set[str]) -> None:
        """Forget the targets a reload removed (one added again is watched anew)."""
        for book in (self._last, self._watched, self._unsaved):
            for gone in book.keys() - target_ids:
                del book[gone]
