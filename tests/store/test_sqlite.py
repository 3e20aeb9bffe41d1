"""SQLite is set up for a daemon: WAL, foreign keys, busy timeout, BEGIN IMMEDIATE writes."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select, text

from monitor.store import create_engine
from monitor.store.db import default_url, resolve_url
from monitor.store.migrate import upgrade
from monitor.store.models import AuditEvent


async def test_pragmas(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
    finally:
        await engine.dispose()


async def test_concurrent_writers_queue_instead_of_failing(sqlite_url: str) -> None:
    # Two engines = two independent connections, like the daemon and a CLI command.
    first, second = create_engine(sqlite_url), create_engine(sqlite_url)
    try:
        await upgrade(first)
        now = dt.datetime.now(dt.UTC)

        async def write(engine: object, n: int) -> None:
            for _ in range(n):
                async with engine.begin() as connection:  # type: ignore[attr-defined]
                    count = (await connection.execute(select(func.count(AuditEvent.id)))).scalar()
                    await connection.execute(
                        AuditEvent.__table__.insert().values(
                            at=now,
                            actor="test",
                            action="write",
                            object_type="x",
                            object_id=str(count),
                            detail=None,
                        )
                    )
                    await asyncio.sleep(0)

        await asyncio.gather(write(first, 25), write(second, 25))
        async with first.connect() as connection:
            rows = (await connection.execute(select(AuditEvent.object_id))).scalars().all()
        # BEGIN IMMEDIATE serialises read-then-write: every count seen is distinct.
        assert len(rows) == 50 and len(set(rows)) == 50
    finally:
        await first.dispose()
        await second.dispose()


def test_default_url_uses_state_directory(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}:/other")
    assert default_url() == f"sqlite+aiosqlite:///{tmp_path}/sla-monitor.db"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.chdir(tmp_path)
    assert resolve_url(None) == f"sqlite+aiosqlite:///{tmp_path}/sla-monitor.db"
    assert resolve_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
