"""At most one open incident per service, enforced by the database (the partial unique index
``uq_incidents_open_service``) on SQLite and PostgreSQL, through the one writer of incidents
(monitor.store.incidents)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from monitor.store import Database, incidents
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
