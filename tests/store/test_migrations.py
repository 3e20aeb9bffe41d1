"""``sla-monitor db upgrade`` on SQLite and PostgreSQL: creates the schema, is idempotent,
and the migrations agree with the models (what ``alembic check`` verifies)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from monitor.cli import main
from monitor.store import create_engine
from monitor.store.migrate import head_revision, upgrade
from monitor.store.models import Base, Incident


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  url: '{url}'\n")
    return path


def _tables(sync_connection: Any) -> set[str]:
    return set(inspect(sync_connection).get_table_names())


def _diff(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_db_upgrade_creates_schema_and_is_idempotent(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, db_url)
    assert await asyncio.to_thread(main, ["-c", str(config), "db", "upgrade"]) == 0
    first = capsys.readouterr().out
    assert f"upgraded schema from empty to revision {head_revision(db_url)}" in first

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
            version_before = (
                await connection.execute(text("select version_num from alembic_version"))
            ).all()
        assert set(Base.metadata.tables) <= tables

        assert await asyncio.to_thread(main, ["-c", str(config), "db", "upgrade"]) == 0
        assert "nothing to do" in capsys.readouterr().out
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == tables
            version_after = (
                await connection.execute(text("select version_num from alembic_version"))
            ).all()
            # alembic check: the migrated schema matches the models exactly.
            assert await connection.run_sync(_diff) == []
        assert version_after == version_before
    finally:
        await engine.dispose()


async def test_upgrade_on_the_daemons_own_engine(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        before, after = await upgrade(engine)
        assert (before, after) == (None, head_revision(db_url))
        assert await upgrade(engine) == (after, after)
    finally:
        await engine.dispose()


async def test_times_round_trip_as_aware_utc(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        tehran = dt.timezone(dt.timedelta(hours=3, minutes=30))
        start = dt.datetime(2026, 3, 20, 23, 0, tzinfo=tehran)
        async with engine.begin() as connection:
            await connection.execute(
                Incident.__table__.insert().values(
                    service_id="panel",
                    start=start,
                    source="manual",
                    cause="provider",
                    created_at=start,
                )
            )
        async with engine.connect() as connection:
            stored = (await connection.execute(select(Incident.start))).scalar_one()
        assert stored == start and stored.tzinfo == dt.UTC
        assert stored == dt.datetime(2026, 3, 20, 19, 30, tzinfo=dt.UTC)
    finally:
        await engine.dispose()


async def test_naive_times_are_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        with pytest.raises(Exception, match="naive datetime"):
            async with engine.begin() as connection:
                await connection.execute(
                    Incident.__table__.insert().values(
                        service_id="panel",
                        start=dt.datetime(2026, 1, 1),
                        source="manual",
                        cause="provider",
                        created_at=dt.datetime(2026, 1, 1),
                    )
                )
    finally:
        await engine.dispose()
