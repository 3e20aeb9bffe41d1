"""Times are aware UTC datetimes out of every backend (:class:`monitor.store.models.UTCDateTime`),
read back as they were written: the zone, every microsecond, the first and last years a
datetime holds, a time written in another zone."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store.models import AuditEvent, UTCDateTime

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
WRITTEN = [
    dt.datetime(2026, 3, 12, 14, 49, 1, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 21, 0, 0, 0, 1, tzinfo=TEHRAN),
    dt.datetime(1, 1, 2, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()],
                         ids=["sqlite", "postgres"])
@pytest.mark.parametrize("written", WRITTEN, ids=str)
def test_a_time_read_is_the_time_written_in_utc(written: dt.datetime,
                                                dialect: object) -> None:
    decorator = UTCDateTime()
    stored = decorator.process_bind_param(written, dialect)  # type: ignore[arg-type]
    read = decorator.process_result_value(stored, dialect)  # type: ignore[arg-type]
    assert read == written
    assert read is not None and read.tzinfo is dt.UTC and read.fold == 0
    assert repr(read) == repr(written.astimezone(dt.UTC))


async def test_times_round_trip_through_the_database(engine: AsyncEngine) -> None:
    table = AuditEvent.__table__
    async with engine.begin() as connection:
        await connection.execute(table.insert(), [
            {"at": at, "actor": "test", "action": "check", "object_type": "time",
             "object_id": str(number), "detail": None} for number, at in enumerate(WRITTEN)])
        read = (await connection.execute(
            select(table.c.at).order_by(table.c.object_id))).scalars().all()
    assert read == WRITTEN
    assert [at.tzinfo for at in read] == [dt.UTC] * len(WRITTEN)
    assert [repr(at) for at in read] == [repr(at.astimezone(dt.UTC)) for at in WRITTEN]
