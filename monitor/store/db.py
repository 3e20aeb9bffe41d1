"""Database engines: SQLite by default, PostgreSQL by URL.

SQLite is set up for a daemon that writes while it serves reads: WAL
journal, foreign keys on, a busy timeout, and write transactions that start
with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of
failing half-way with "database is locked". Read-only work can ask for a
deferred ``BEGIN`` with ``execution_options(readonly=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from monitor.errors import StoreError

DB_FILE = "sla-monitor.db"
BUSY_TIMEOUT_MS = 30_000


def state_directory() -> Path:
    """``$STATE_DIRECTORY`` when systemd sets it (the first, if several), else the cwd."""
    configured = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(configured) if configured else Path.cwd()


def default_url() -> str:
    return f"sqlite+aiosqlite:///{state_directory() / DB_FILE}"


def resolve_url(configured: str | None) -> str:
    """The storage URL to use: the configured one, else SQLite in the state directory."""
    url = configured or default_url()
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreError(f"storage.url: {url!r} is not a database URL ({exc})") from exc
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise StoreError(
            f"storage.url: driver {parsed.drivername!r} is not supported; "
            "allowed: sqlite+aiosqlite, postgresql+asyncpg"
        )
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    database = engine.url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so that we can make it IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get("readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def inserted_id(result: Any) -> int:
    """The primary key of the row an ``insert()`` just wrote."""
    key = result.inserted_primary_key
    if not key or key[0] is None:
        raise StoreError("the database returned no id for the inserted row")
    return int(key[0])


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def transaction(engine: AsyncEngine) -> Any:
    """``async with transaction(engine) as session:``: one write transaction, committed on exit."""
    return _Transaction(engine)


class _Transaction:
    def __init__(self, engine: AsyncEngine) -> None:
        self.session = AsyncSession(engine, expire_on_commit=False)

    async def __aenter__(self) -> AsyncSession:
        await self.session.__aenter__()
        await self.session.begin()
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if exc[0] is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()
