"""Push targets' calls: a job that cannot be probed from here says it is alive
(:mod:`monitor.probes.push`, where what a push means is decided)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from monitor.actions.common import FreeText, checks_text
from monitor.actions.push_book import Push, PushBook
from monitor.config import Settings
from monitor.config.schema import PushProbe
from monitor.errors import NotFound

__all__ = ["PushReceived", "push_targets", "record_push"]


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
                        now + dt.timedelta(seconds=found.probe.interval + found.probe.timeout))
