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

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.testing.smtp import SMTPSink
from tests.support import DaemonProcess, editable_install_of

PG_ENV = "SLA_MONITOR_TEST_PG_URL"

# No wall-clock deadline on a property's example (hypothesis' default is 200 ms): speed is
# measured in benchmarks, never asserted in tests, and two cores shared by parallel tests
# made a text table's example miss it ("DeadlineExceeded", not a wrong table).
settings.register_profile("sla-monitor", deadline=None)
settings.load_profile("sla-monitor")
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


#: What the run may add to the directory it runs in: pytest's and hypothesis's own caches.
_RUN_MAY_ADD = {".pytest_cache", ".hypothesis"}
_CWD_BEFORE = pytest.StashKey[set[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """What the directory the tests run in holds before they run (the controller's view:
    its workers run in the same directory)."""
    if not hasattr(config, "workerinput"):
        config.stash[_CWD_BEFORE] = set(os.listdir(Path.cwd()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Nothing is left on disk: a test that writes into the current directory (a daemon's
    default Maildir or database, a statement's file) fails the run, naming what it left.
    Tests write under their ``tmp_path``."""
    before = session.config.stash.get(_CWD_BEFORE, None)
    if before is None:
        return
    left = sorted(set(os.listdir(Path.cwd())) - before - _RUN_MAY_ADD)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", f"the tests left {', '.join(left)} in {Path.cwd()} "
                               "(write under tmp_path)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: in parallel runs (each worker taking the next test as it is
    nearly done: ``-n 4 --maxschedchunk=1``, as README.md and .ci/run give it) the long
    ones start at once on every worker and the many short ones fill the gaps at the end,
    rather than one long test finishing alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"${PG_ENV} is not set: CI must run the PostgreSQL tests")
    return url


def _pg_admin_dsn() -> tuple[Any, str]:
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"no PostgreSQL: set ${PG_ENV} (bash .ci/run does)")
    url = make_url(admin)
    return url, url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_create() -> str:
    """A new, empty PostgreSQL database: its URL."""
    url, dsn = _pg_admin_dsn()
    name = f"slamon_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return str(url.set(database=name).render_as_string(hide_password=False))


async def _pg_drop(database_url: str) -> None:
    _url, dsn = _pg_admin_dsn()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def _pg_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database, dropped after."""
    url = await _pg_create()
    try:
        yield url
    finally:
        await _pg_drop(url)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test."""
    async with _pg_database() as url:
        yield url


class _Migrated:
    """Databases at the schema's head for the tests that ask for it (``engine``, ``db``):
    migrated once per test process, not once per test (the migrations cost about half a
    second). SQLite: a copy of one migrated file. PostgreSQL: one database per test process,
    emptied before each test (the other sessions on it ended, every row deleted, every
    sequence restarted): about 10 ms, where a new database costs 0.15 s and a ``TRUNCATE``
    of every table 0.2 s. Removed at the session's end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sqlite: Path | None = None
        self.postgres: str | None = None
        self.tables: list[str] = []

    async def sqlite_copy(self, target: Path) -> None:
        if self.sqlite is None:
            path = self.directory / "head.db"
            await _migrate(f"sqlite+aiosqlite:///{path}")
            self.sqlite = path
        shutil.copyfile(self.sqlite, target)

    async def postgres_emptied(self) -> str:
        if self.postgres is None:
            url = await _pg_create()
            self.postgres = url
            await _migrate(url)
        dsn = make_url(self.postgres).set(drivername="postgresql").render_as_string(
            hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            # What a test left connected (a pool, a daemon it killed) lets go of its locks.
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if not self.tables:
                self.tables = [row[0] for row in await connection.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'")]
            # As a replica, no trigger fires: neither the ledger's append-only ones (R-C3)
            # nor the foreign keys'. DELETE, not TRUNCATE: a few small tables are emptied
            # in milliseconds, where TRUNCATE makes new files for each table and index.
            deletes = " ".join(f'DELETE FROM "{table}";' for table in self.tables)
            await connection.execute(
                f"SET session_replication_role = replica; {deletes} "
                "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S';")
        finally:
            await connection.close()
        return self.postgres

    def close(self) -> None:
        if self.postgres is not None:
            asyncio.run(_pg_drop(self.postgres))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Migrated]:
    found = _Migrated(tmp_path_factory.mktemp("migrated"))
    yield found
    found.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sla-monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The test runs once on SQLite and once on PostgreSQL: an empty database, or one at
    the schema's head when the test also asks for ``engine``, ``db`` or ``schema_at_head``."""
    at_head = not {"engine", "schema_at_head"}.isdisjoint(request.fixturenames)
    if request.param == "sqlite":
        path = tmp_path / "sla-monitor.db"
        if at_head:
            await request.getfixturevalue("migrated").sqlite_copy(path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        if at_head:
            yield await request.getfixturevalue("migrated").postgres_emptied()
        else:
            async with _pg_database() as url:
                yield url


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db_url(request: pytest.FixtureRequest, migrated: _Migrated,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database at the schema's head shared by a module's tests, once per backend, for
    tests that only read it or prove that they change nothing (they count its rows before
    and after): what they need is seeded once, not once per test."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "sla-monitor.db"
        asyncio.run(migrated.sqlite_copy(path))
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = asyncio.run(_pg_create())
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        asyncio.run(_pg_drop(url))


@pytest.fixture
def schema_at_head() -> None:
    """Asked for beside ``db_url``: that database is already at the schema's head (a
    command's ``db upgrade`` then finds nothing to do, as on a running installation)."""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's database (once per backend) at the schema's head."""
    engine = create_engine(db_url)
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
