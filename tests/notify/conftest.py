"""Fixtures for the e-mail duties: a FakeClock, a session factory on the test database, and
notifiers that are stopped in teardown (the database and the SMTP sink: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import Config, Settings
from monitor.notify import Notifier
from monitor.store import Database, session_factory

from .helpers import BACKOFF, T0


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


NotifierFactory = Callable[..., Notifier]


@pytest.fixture
async def make_notifier(db: Database, clock: FakeClock) -> AsyncIterator[NotifierFactory]:
    """Build notifiers on the test database; every one is stopped in teardown."""
    made: list[Notifier] = []

    def build(config: Config, **options: Any) -> Notifier:
        options.setdefault("backoff", BACKOFF)
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
