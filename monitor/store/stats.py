"""How big the database is: rows and bytes per table, and the probe history's new rows in a
window (``sla-monitor db stats``, R-M7). Read-only.

Bytes are what the database itself says a table takes with its indexes: SQLite's
``dbstat`` (pages of the table and of its indexes; None when SQLite was built without
it), PostgreSQL's ``pg_total_relation_size``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from monitor.store.db import Tx
from monitor.store.models import (
    Base,
    LatencyRollup,
    LatencyRollupDaily,
    ProbeFailure,
    ProbeRun,
)

__all__ = ["HISTORY_TIMES", "TableSize", "history_rows_since", "oldest_history", "table_sizes"]

# The probe-history tables and the time that says when each row was added (R-M7).
HISTORY_TIMES = {
    "probe_runs": ProbeRun.first_at,
    "probe_failures": ProbeFailure.at,
    "latency_rollups": LatencyRollup.hour,
    "latency_rollups_daily": LatencyRollupDaily.day,
}


@dataclass(frozen=True, slots=True)
class TableSize:
    table: str
    rows: int
    bytes: int | None  # None: the database cannot say


async def table_sizes(tx: Tx) -> list[TableSize]:
    """Every table of the schema, in the models' order."""
    connection = await tx.connection()
    sizes = await _bytes(tx, connection.dialect.name)
    found = []
    for table in Base.metadata.sorted_tables:
        rows = (await tx.execute(select(func.count()).select_from(table))).scalar_one()
        found.append(TableSize(table.name, int(rows), sizes.get(table.name)))
    return found


async def _bytes(tx: Tx, dialect: str) -> dict[str, int]:
    if dialect == "postgresql":
        result = await tx.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
            )
        )
        return {name: int(size) for name, size in result}
    try:
        found = await tx.execute(text("SELECT name, tbl_name FROM sqlite_master"))
        owners: dict[str, str] = {name: table for name, table in found}
        pages = await tx.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    except DBAPIError:  # SQLite without the dbstat virtual table
        return {}
    sizes: dict[str, int] = {}
    for name, size in pages:
        table = owners.get(name, name)
        sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


async def history_rows_since(tx: Tx, since: dt.datetime) -> dict[str, int]:
    """Rows of each probe-history table added at or after ``since``."""
    counted = {}
    for table, column in HISTORY_TIMES.items():
        query = select(func.count()).where(column >= since)
        counted[table] = int((await tx.execute(query)).scalar_one())
    return counted


async def oldest_history(tx: Tx) -> dt.datetime | None:
    """The earliest time in the probe history (how long the database has been recording)."""
    oldest = None
    for column in HISTORY_TIMES.values():
        found = (await tx.execute(select(func.min(column)))).scalar()
        if found is not None and found.tzinfo is None:
            found = found.replace(tzinfo=dt.UTC)
        if found is not None and (oldest is None or found < oldest):
            oldest = found
    return oldest
