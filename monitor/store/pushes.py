"""Push targets' last pushes (:class:`~monitor.store.models.LastPush`): written by the node
that took them, read by every node of a cluster and by the daemon after a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select

from monitor.store.db import Tx, dialect_insert
from monitor.store.models import LastPush

__all__ = ["StoredPush", "keep", "since"]


class StoredPush(NamedTuple):
    target_id: str
    received_at: dt.datetime
    up: bool
    message: str


async def keep(tx: Tx, pushes: Sequence[StoredPush], now: dt.datetime) -> None:
    """Each target's push, unless its row holds a later one (another node's). Written at
    the database's clock on PostgreSQL (a cluster's nodes read anew from it, whatever their
    own clocks say), at ``now`` on SQLite (one node)."""
    if not pushes:
        return
    connection = await tx.connection()
    postgresql = connection.dialect.name == "postgresql"
    statement = dialect_insert(tx)(LastPush)
    excluded = statement.excluded
    written = func.now() if postgresql else now
    statement = statement.values(written_at=written).on_conflict_do_update(
        index_elements=["target_id"],
        set_={"received_at": excluded.received_at, "up": excluded.up,
              "message": excluded.message, "written_at": written},
        where=excluded.received_at > LastPush.received_at,
    )
    await connection.execute(statement, [
        {"target_id": push.target_id, "received_at": push.received_at, "up": push.up,
         "message": push.message} for push in pushes])


async def since(tx: Tx, written: dt.datetime | None
                ) -> tuple[list[StoredPush], dt.datetime | None]:
    """The last pushes written after ``written`` (None: all of them), and when the latest
    of them was written (None: none was)."""
    query = select(LastPush.target_id, LastPush.received_at, LastPush.up, LastPush.message,
                   LastPush.written_at)
    if written is not None:
        query = query.where(LastPush.written_at > written)
    rows = (await tx.execute(query)).all()
    return ([StoredPush(*row[:4]) for row in rows],
            max((row[4] for row in rows), default=None))
