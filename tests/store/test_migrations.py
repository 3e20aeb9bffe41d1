"""``sla-monitor db upgrade`` on SQLite and PostgreSQL: creates the schema, is idempotent,
and the migrations agree with the models (what ``alembic check`` verifies); a database
from the development before 0.1.0 is restamped (its last revision) or refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from monitor.cli import main
from monitor.errors import SchemaError
from monitor.store import create_engine
from monitor.store.migrate import (
    DEVELOPMENT_HEAD,
    DEVELOPMENT_REVISIONS,
    SQUASHED,
    alembic_config,
    head_revision,
    require_current,
    upgrade,
)
from monitor.store.models import Base, Incident
from tests.store.schema_description import migrate_to


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  url: '{url}'\n")
    return path


def _tables(sync_connection: Any) -> set[str]:
    return set(inspect(sync_connection).get_table_names())


def _diff(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


@pytest.mark.slow
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


@pytest.mark.slow
async def test_upgrade_on_the_daemons_own_engine(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        before, after = await upgrade(engine)
        assert (before, after) == (None, head_revision(db_url))
        assert await upgrade(engine) == (after, after)
    finally:
        await engine.dispose()


@pytest.mark.slow
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


# --- databases from the development before 0.1.0 (the chain squashed into one revision) ----------


async def _stamp(url: str, revision: str) -> None:
    """A database with this version's schema, stamped ``revision``: what a database the
    development's chain of migrations made looks like (the same schema, tests/store/test_schema.py)."""
    await migrate_to(url, SQUASHED)  # the development's head made this very schema
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :revision"),
                                     {"revision": revision})
            await connection.execute(Incident.__table__.insert().values(
                service_id="panel", start=T0, end=T0 + dt.timedelta(hours=1), source="manual",
                cause="provider", created_at=T0))
    finally:
        await engine.dispose()


async def _stamped(url: str) -> tuple[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            revision = (await connection.execute(
                text("SELECT version_num FROM alembic_version"))).scalar_one()
            incidents = (await connection.execute(text("SELECT count(*) FROM incidents"))).scalar_one()
    finally:
        await engine.dispose()
    return revision, incidents


T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.slow
async def test_a_database_at_the_developments_last_revision_is_restamped(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await _stamp(db_url, DEVELOPMENT_HEAD)
    with pytest.raises(SchemaError, match=f"revision {DEVELOPMENT_HEAD}, behind this version's"):
        await require_current(db_url)  # a read does not restamp: it says to run db upgrade
    engine = create_engine(db_url)
    try:
        with caplog.at_level(logging.INFO, logger="monitor.store.migrate"):
            assert await upgrade(engine) == (DEVELOPMENT_HEAD, head_revision(db_url))
    finally:
        await engine.dispose()
    # Restamped, then migrated on by the later revisions; the rows kept.
    assert await _stamped(db_url) == (head_revision(db_url), 1)
    assert await require_current(db_url) == head_revision(db_url)
    [record] = [r for r in caplog.records if r.name == "monitor.store.migrate"]
    assert (record.revision_before, record.revision_after) == (DEVELOPMENT_HEAD, SQUASHED)
    assert "restamped" in record.getMessage()


@pytest.mark.slow
async def test_an_earlier_revision_of_the_development_is_refused(db_url: str) -> None:
    earlier = sorted(DEVELOPMENT_REVISIONS)[0]
    await _stamp(db_url, earlier)
    engine = create_engine(db_url)
    try:
        with pytest.raises(SchemaError) as upgrading:
            await upgrade(engine)
    finally:
        await engine.dispose()
    with pytest.raises(SchemaError) as reading:
        await require_current(db_url)
    for error in (upgrading.value, reading.value):
        assert error.state == "pre-release"
        assert (f"is at schema revision {earlier} of sla-monitor's development before 0.1.0, "
                f"which this version cannot upgrade (only its last revision, {DEVELOPMENT_HEAD}, "
                "carries over): bring it there with the development version that wrote it"
                in str(error))
    assert await _stamped(db_url) == (earlier, 1)  # nothing changed


def test_no_revision_of_the_development_names_a_revision_of_this_version(sqlite_url: str) -> None:
    # alembic accepts a unique prefix for a revision id: an old "0001" must not be taken for
    # a revision "0001_..." of this version (and skip its migrations).
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    scripts = ScriptDirectory.from_config(alembic_config(sqlite_url))
    for old in (*sorted(DEVELOPMENT_REVISIONS), DEVELOPMENT_HEAD):
        with pytest.raises(CommandError):
            scripts.get_revision(old)
    # The squashed revision is the first; later revisions follow it.
    assert [script.revision for script in scripts.walk_revisions()][-1] == SQUASHED


# A fresh interpreter (this one has alembic already): the daemon's start on a database at head.
_AT_HEAD = """
import asyncio, sys
from monitor.store import create_engine, migrate
url = sys.argv[1]
migrate.load_alembic(url)
engine = create_engine(url)
print(asyncio.run(migrate.upgrade(engine)), sorted(m for m in sys.modules
      if m.split(".")[0] in ("alembic", "mako", "pygments")))
"""


@pytest.mark.slow
async def test_a_daemon_on_a_current_database_never_imports_alembic(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        created = await upgrade(engine)
    finally:
        await engine.dispose()
    head = head_revision(sqlite_url)
    assert created == (None, head)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _AT_HEAD, sqlite_url, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    assert child.returncode == 0
    assert out.decode().strip() == f"('{head}', '{head}') []"
