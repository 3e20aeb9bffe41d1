"""Unknown time (R-M2, R-M3): the daemon's sessions and heartbeats, and the intervals in
which the monitor could not see. The only writer of ``daemon_sessions`` and
``unknown_intervals``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, or_, select, update

from monitor.store import evidence
from monitor.store.db import Tx, inserted_id
from monitor.store.models import DaemonSession, UnknownInterval

__all__ = [
    "add_session",
    "add_unknown",
    "beat",
    "end_open_unknown",
    "end_unknown",
    "first_session_start",
    "last_beat",
    "scoped_touching",
    "session_at",
    "sessions_touching",
    "touching",
]


async def last_beat(tx: Tx) -> dt.datetime | None:
    """The last heartbeat any earlier run of the daemon wrote."""
    value: dt.datetime | None = await tx.scalar(select(func.max(DaemonSession.last_beat_at)))
    return value


async def add_session(
    tx: Tx, *, started_at: dt.datetime, hostname: str, pid: int, version: str
) -> int:
    result = await tx.execute(
        insert(DaemonSession).values(
            started_at=started_at,
            last_beat_at=started_at,
            hostname=hostname,
            pid=pid,
            version=version,
        )
    )
    session_id = inserted_id(result)
    await evidence.append(tx, "session.start", "daemon_sessions", [session_id])
    return session_id


async def session_at(tx: Tx, *, hostname: str, started_at: dt.datetime) -> bool:
    """Whether a run of ``hostname`` that started at ``started_at`` is recorded (an
    imported watch, known by its span)."""
    found = await tx.scalar(select(DaemonSession.id).where(
        DaemonSession.hostname == hostname, DaemonSession.started_at == started_at).limit(1))
    return found is not None


async def beat(tx: Tx, session_id: int, at: dt.datetime, *, stopped: bool = False) -> None:
    values: dict[str, dt.datetime] = {"last_beat_at": at}
    if stopped:
        values["stopped_at"] = at
    await tx.execute(update(DaemonSession).where(DaemonSession.id == session_id).values(**values))
    if stopped:
        await evidence.append(tx, "session.stop", "daemon_sessions", [session_id])


async def add_unknown(
    tx: Tx,
    *,
    start: dt.datetime,
    end: dt.datetime | None,
    reason: str,
    detail: str | None,
    node: str | None = None,
    vantage: str | None = None,
    target_id: str | None = None,
) -> int:
    """Unknown time from ``start`` (still going while ``end`` is None): ``daemon_down``,
    ``canaries_failed``, ``resolver_failed``, ``store_unavailable``, ``node_lost``,
    ``handover`` or ``not_probed`` (a target's stretch without a probe, R-M3 per target).
    In a cluster its scope: written by ``node``, blind only at ``vantage``,
    only ``target_id`` unwatched; all None: the whole monitor (a daemon alone)."""
    result = await tx.execute(
        insert(UnknownInterval).values(start=start, end=end, reason=reason, detail=detail,
                                       node=node, vantage=vantage, target_id=target_id)
    )
    interval_id = inserted_id(result)
    await evidence.append(tx, "unknown.start", "unknown_intervals", [interval_id])
    return interval_id


async def end_unknown(tx: Tx, interval_id: int, at: dt.datetime) -> None:
    await tx.execute(
        update(UnknownInterval).where(UnknownInterval.id == interval_id).values(end=at)
    )
    await evidence.append(tx, "unknown.end", "unknown_intervals", [interval_id])


async def end_open_unknown(tx: Tx, at: dt.datetime, node: str | None = None) -> None:
    """Every interval still open (left by a run that was killed while blind) ends at ``at``:
    a daemon alone's, or in a cluster only ``node``'s own (the others are still watching)."""
    owner = UnknownInterval.node.is_(None) if node is None else UnknownInterval.node == node
    result = await tx.execute(
        update(UnknownInterval).where(UnknownInterval.end.is_(None), owner).values(end=at)
        .returning(UnknownInterval.id)
    )
    await evidence.append(tx, "unknown.end", "unknown_intervals", list(result.scalars()))


async def touching(
    tx: Tx, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """(start, end or None while open) of the whole monitor's unknown intervals overlapping
    ``[start, end)`` (a cluster's scoped ones: :func:`scoped_touching`)."""
    rows = await tx.execute(
        select(UnknownInterval.start, UnknownInterval.end).where(
            UnknownInterval.start < end,
            or_(UnknownInterval.end.is_(None), UnknownInterval.end > start),
            UnknownInterval.vantage.is_(None),
            UnknownInterval.target_id.is_(None),
        )
    )
    return [(interval_start, interval_end) for interval_start, interval_end in rows]


async def scoped_touching(
    tx: Tx, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime | None, str | None, str | None]]:
    """(start, end or None, vantage, target id) of a cluster's scoped unknown intervals
    overlapping ``[start, end)``: a blind vantage, an unwatched target."""
    rows = await tx.execute(
        select(UnknownInterval.start, UnknownInterval.end, UnknownInterval.vantage,
               UnknownInterval.target_id).where(
            UnknownInterval.start < end,
            or_(UnknownInterval.end.is_(None), UnknownInterval.end > start),
            or_(UnknownInterval.vantage.is_not(None), UnknownInterval.target_id.is_not(None)),
        )
    )
    return [(s, e, v, t) for s, e, v, t in rows]


async def first_session_start(tx: Tx) -> dt.datetime | None:
    """When the daemon first ran against this database: before it, nothing was seen
    (the status page's days before it are unknown, R-M3)."""
    value: dt.datetime | None = await tx.scalar(select(func.min(DaemonSession.started_at)))
    return value


async def sessions_touching(
    tx: Tx, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, bool]]:
    """(started_at, last_beat_at, stopped cleanly) of the daemon's runs that could have
    watched part of ``[start, end)``: those started before ``end`` whose last heartbeat is
    at or after ``start`` (R-M3; the caller widens ``start`` by the gap it tolerates)."""
    rows = await tx.execute(
        select(DaemonSession.started_at, DaemonSession.last_beat_at,
               DaemonSession.stopped_at.is_not(None))
        .where(DaemonSession.started_at < end, DaemonSession.last_beat_at >= start)
        .order_by(DaemonSession.started_at)
    )
    return [(started_at, last_beat_at, bool(stopped)) for started_at, last_beat_at, stopped
            in rows]
