"""Push targets' calls: a job that cannot be probed from here says it is alive
(:mod:`monitor.probes.push`, where what a push means is decided)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.actions.common import FreeText, checks_text
from monitor.actions.push_book import Push, PushBook
from monitor.config import Settings
from monitor.config.schema import PushProbe
from monitor.errors import NotFound
from monitor.store import pushes

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["PushReceived", "push_targets", "record_push", "share_pushes"]

#: Pushes written less than this before the latest one read are read again: a write that
#: began earlier may be seen later (its transaction's clock is its start). Re-reading one
#: changes nothing (the later push wins).
READ_AGAIN = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class PushReceived:
    """A push as kept: its target, when it came, what it said, and when the next is due
    (``interval`` and ``timeout`` later: a later one counts as missing)."""

    target: str
    received_at: dt.datetime
    status: Literal["up", "down"]
    message: str | None
    due_by: dt.datetime


def push_targets(settings: Settings) -> frozenset[str]:
    """The configured targets whose probe is a push (servers and services)."""
    return frozenset(target.id for target in settings.topology.targets()
                     if isinstance(target.probe, PushProbe))


@checks_text
async def record_push(book: PushBook, settings: Settings, *, target: str,
                      status: Literal["up", "down"] = "up", message: FreeText | None = None,
                      now: dt.datetime) -> PushReceived:
    """Keep ``target``'s push in ``book`` (the last one counts at the next check). A target
    that is not a configured push target is :class:`NotFound`, naming the push targets."""
    topology = settings.topology
    found = topology.services.get(target) or topology.servers.get(target)
    if found is None or not isinstance(found.probe, PushProbe):
        raise NotFound("target", target, "a push target: "
                       + (", ".join(sorted(push_targets(settings))) or "(none configured)"))
    book.record(target, Push(now, status == "up", message or ""))
    return PushReceived(target, now, status, message,
                        now + dt.timedelta(seconds=found.probe.counts_for))


async def share_pushes(db: Database, book: PushBook, *, now: dt.datetime) -> int:
    """Write the pushes this node took since the last call to the store, and read the
    others' (another node's in a cluster; all of them at the first call, after a start);
    returns how many were read. What could not be written is kept for the next call."""
    unsaved = book.take_unsaved()
    if unsaved:  # none taken since the last call (most seconds): no write transaction
        try:
            async with db.transaction() as tx:
                await pushes.keep(tx, [pushes.StoredPush(target, push.at, push.up, push.message)
                                       for target, push in unsaved.items()], now)
        except BaseException:
            book.give_back(unsaved)
            raise
    since = None if book.read_until is None else book.read_until - READ_AGAIN
    async with db.reading() as tx:
        found, latest = await pushes.since(tx, since)
    for stored in found:
        book.merge(stored.target_id, Push(stored.received_at, stored.up, stored.message))
    if latest is not None and (book.read_until is None or latest > book.read_until):
        book.read_until = latest
    return len(found)
