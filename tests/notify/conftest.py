"""Fixtures for the e-mail duties: a migrated database (SQLite and PostgreSQL), a real SMTP
sink on 127.0.0.1, a FakeClock, and notifiers that are stopped in teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import Config, Settings
from monitor.notify import Notifier
from monitor.store import Database, create_engine, session_factory
from monitor.store.migrate import upgrade
from monitor.testing.smtp import SMTPSink

from .helpers import FAST, T0


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def db(engine: AsyncEngine) -> Database:
    return Database(engine)


@pytest.fixture
async def sink() -> AsyncIterator[SMTPSink]:
    async with SMTPSink() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


NotifierFactory = Callable[..., Notifier]


@pytest.fixture
async def make_notifier(db: Database, clock: FakeClock) -> AsyncIterator[NotifierFactory]:
    """Build notifiers on the test database; every one is stopped in teardown."""
    made: list[Notifier] = []

    def build(config: Config, **options: Any) -> Notifier:
        options.setdefault("backoff", FAST)
        notifier = Notifier(
            Settings.from_config(config),
            options.pop("database", db),
            options.pop("clock", clock),
            options.pop("registry", CollectorRegistry()),
            **options,
        )
        made.append(notifier)
        return notifier

    yield build
    for notifier in made:
        await notifier.stop()
