"""At most one open incident per service, enforced by the database (a partial unique index,
migration 0002_i9) on SQLite and PostgreSQL, through the one writer of incidents
(monitor.store.incidents)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from alembic import command
from monitor.store import Database, create_engine, incidents
from monitor.store.migrate import alembic_config, upgrade
from monitor.store.models import Incident
from tests.support import rows

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


async def _open(db: Database, service: str, start: dt.datetime) -> int:
    async with db.transaction() as tx:
        return await incidents.open_probe_incident(
            tx, service_id=service, start=start, start_bound=None, detected_at=start,
            created_at=start)


async def test_a_second_open_incident_of_a_service_is_refused(db: Database) -> None:
    first = await _open(db, "panel", T0)
    with pytest.raises(IntegrityError):
        await _open(db, "panel", T0 + HOUR)
    assert [i.id for i in await rows(db, Incident)] == [first]  # nothing written
    await _open(db, "srv-1", T0)  # another service may be down at the same time
    async with db.transaction() as tx:
        await incidents.close(tx, first, end=T0 + HOUR, end_bound=None)
    second = await _open(db, "panel", T0 + 2 * HOUR)  # closed: a new one may open
    # Manual incidents always have an end, so any number of them sit beside an open one.
    async with db.transaction() as tx:
        for day in (2, 3):
            start = T0 + dt.timedelta(days=day)
            await incidents.add_manual(tx, service_id="panel", start=start, end=start + HOUR,
                                       cause="provider", note=None, created_at=start)
    async with db.reading() as tx:
        assert await incidents.open_by_probe(tx) == {"panel": second, "srv-1": second - 1}


def _to_0001(sync_connection: Any, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "0001")


async def test_the_migration_repairs_duplicate_open_incidents(db_url: str) -> None:
    # A database from before the index holding two open incidents of one service: the
    # older ends where the newer starts, so their union (what R-M4 counts) is unchanged.
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0001, db_url)
        async with engine.begin() as connection:
            for start in (T0, T0 + HOUR, T0 + 3 * HOUR):
                await connection.execute(
                    Incident.__table__.insert().values(
                        service_id="panel", start=start, source="probe", cause="provider",
                        created_at=start))
        await upgrade(engine)
        found = await rows(engine, Incident)
        assert [(i.start, i.end) for i in found] == [
            (T0, T0 + HOUR), (T0 + HOUR, T0 + 3 * HOUR), (T0 + 3 * HOUR, None)]
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text(
                    "INSERT INTO incidents (service_id, start, source, cause, created_at) "
                    "VALUES ('panel', :at, 'probe', 'provider', :at)"), {"at": T0 + 9 * HOUR})
    finally:
        await engine.dispose()
