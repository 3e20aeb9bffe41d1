"""Shared fixtures: databases on SQLite and on a real PostgreSQL, a real SMTP sink, and
daemon subprocesses stopped in teardown.

``db_url`` runs a test once per backend; ``engine`` and ``db`` are that database at the
schema's head. PostgreSQL comes from
``$SLA_MONITOR_TEST_PG_URL`` (``.ci/run`` starts a throwaway server and sets
it); each test gets a database of its own, dropped in teardown, so tests are
parallel-safe. Outside CI a missing server skips the PostgreSQL variants;
in CI (``$CI`` set) it is an error, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.testing.smtp import SMTPSink
from tests.support import DaemonProcess, editable_install_of

PG_ENV = "SLA_MONITOR_TEST_PG_URL"
CHECKOUT = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Test an installed product: a wheel (CI, ``pip install '.[test]'``) or an editable
    install of this very checkout (development, ``pip install -e '.[test]'``). Refused: the
    checkout's ``monitor/`` picked up from the current directory while a wheel, or nothing,
    is installed, which would silently test other code than the one installed."""
    import monitor

    location = Path(monitor.__file__).resolve()
    # A venv inside the checkout (.venv/) is an installation; only ./monitor/ is the source.
    if location.is_relative_to(CHECKOUT / "monitor") and not editable_install_of(CHECKOUT):
        raise pytest.UsageError(
            f"monitor is imported from the checkout ({location}) but is not installed from "
            "it: pip install -e '.[test]' (development) or pip install '.[test]' and run "
            "the venv's pytest, which uses --import-mode=importlib"
        )


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"${PG_ENV} is not set: CI must run the PostgreSQL tests")
    return url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test."""
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"no PostgreSQL: set ${PG_ENV} (bash .ci/run does)")
    url = make_url(admin)
    name = f"slamon_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    yield url.set(database=name).render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sla-monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sla-monitor.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's database (once per backend), migrated to head."""
    engine = create_engine(db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def db(engine: AsyncEngine) -> Database:
    return Database(engine)


@pytest.fixture
async def sink() -> AsyncIterator[SMTPSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, stopped in teardown."""
    async with SMTPSink() as running:
        yield running


@pytest.fixture
def example_config_path() -> Path:
    return Path(__file__).resolve().parents[1] / "config.example.yaml"


@pytest.fixture
def daemon_process(tmp_path: Path) -> Iterator[Callable[[Path], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def make(config: Path) -> DaemonProcess:
        process = DaemonProcess(config, tmp_path / f"daemon-{len(started)}.log")
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()
