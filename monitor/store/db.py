"""The database handle and the one transaction idiom: SQLite by default, PostgreSQL by URL.

Every read and write of sla-monitor goes through a :class:`Database`::

    db = Database.open(config.storage.url)
    async with db.transaction() as tx:       # a write: committed on exit, rolled back on error
        incident_id = await incidents.add_manual(tx, ...)
    async with db.reading() as tx:           # a read: never waits for the write lock
        found = await incidents.find(tx, ...)
    await db.run(work, retry_for=150.0)      # a write that must not be lost (the outbox's
                                             # outcomes): retried while the database is away

A ``transaction()`` or ``reading()`` opened while the same task is already inside a
``transaction()`` joins it: the HTTP API wraps an action and the record of its answer
(``Idempotency-Key``, :mod:`monitor.store.idempotency`) in one transaction, so both are
committed or neither is::

    async with db.transaction() as tx:
        incident = await actions.add_incident(db, ...)   # joins: no commit of its own
        await idempotency.store(tx, ...)                 # committed with it

**When the database does not answer** (a PostgreSQL server down or unreachable, an SQLite
file locked past the busy timeout or on a full disk), the daemon's loops keep failing
until it does. Each :class:`Database` handle on a URL shares one :class:`Availability`,
which logs **one line when the database stops answering** (``database unavailable``, with
the error's class and first line), **one when it answers again** (``database available
again``, with how long it did not), and at most one ``still unavailable`` reminder a minute
in between. A loop that catches an error asks :meth:`Database.outage` first and logs its
own traceback only for anything else: no traceback per round while the database is away.

``tx`` is the transaction's session; only the modules of :mod:`monitor.store`
hand it to SQLAlchemy. Code outside the store names it ``Tx`` (a type-only
alias) and never imports SQLAlchemy itself.

SQLite is set up for a daemon that writes while it serves reads: WAL
journal, foreign keys on, a busy timeout, and write transactions that start
with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of
failing half-way with "database is locked". Reads start with a deferred
``BEGIN``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Select, event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from monitor.errors import ConfigError, ConfigIssue, Fenced, StoreError, StoreLocationError
from monitor.redact import redact

__all__ = [
    "Availability",
    "Database",
    "SessionLimits",
    "Tx",
    "create_engine",
    "default_url",
    "dialect_insert",
    "guarded",
    "in_chunks",
    "inserted_id",
    "resolve_url",
    "rows_by",
    "selected_in",
    "session_factory",
    "state_directory",
]

log = logging.getLogger(__name__)

DB_FILE = "sla-monitor.db"
BUSY_TIMEOUT_MS = 30_000

Tx: TypeAlias = AsyncSession
"""A transaction in progress, as :meth:`Database.transaction` and :meth:`Database.reading` give it."""


def dialect_insert(tx: Tx) -> Callable[..., Any]:
    """The INSERT of ``tx``'s database, PostgreSQL's or SQLite's: the one with ``ON CONFLICT``
    (``on_conflict_do_update``, ``on_conflict_do_nothing``) that both speak alike."""
    return sqlite_insert if tx.get_bind().dialect.name == "sqlite" else pg_insert


T = TypeVar("T")


S = TypeVar("S", int, str)


def in_chunks(values: Iterable[S], size: int) -> Iterator[list[S]]:
    """``values`` once each, sorted, in lists of at most ``size``: each an ``IN (...)``
    list well under the bound parameters one statement may carry (SQLite 32,766, asyncpg
    32,767), however many values are asked about."""
    chosen = sorted(set(values))
    for index in range(0, len(chosen), size):
        yield chosen[index : index + size]


R = TypeVar("R")


async def selected_in(tx: Tx, query: Select[Any], record: Callable[[Any], R],
                      key: InstrumentedAttribute[Any], values: Iterable[S] | None) -> list[R]:
    """The entities ``query`` selects, each as ``record`` makes it, in the order of their
    ids; with ``values``, only those whose ``key`` is one of them, read a few hundred values
    a statement (a statement may bind about 32,000: SQLite 32,766, asyncpg 32,767)."""
    if values is None:
        return [record(row) for row in await tx.scalars(query)]
    found = [(row.id, record(row)) for chosen in in_chunks(values, 500)
             for row in await tx.scalars(query.where(key.in_(chosen)))]
    return [made for _, made in sorted(found, key=lambda pair: pair[0])]


async def rows_by(tx: Tx, key: InstrumentedAttribute[Any], ids: Iterable[int],
                  record: Callable[[Any], R]) -> dict[int, list[R]]:
    """The rows whose ``key`` column is one of ``ids``, each as ``record`` makes it, grouped
    by that id in the order they were written (their primary key); an id without a row is
    absent. A few hundred ids a statement (:func:`in_chunks`): a listing reads the rows of
    all it lists in a few round trips, not one per item."""
    entity = key.class_
    found: dict[int, list[R]] = {}
    for owner, made in await selected_in(
            tx, select(entity), lambda row: (getattr(row, key.key), record(row)), key, ids):
        found.setdefault(owner, []).append(made)
    return found


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
        parsed.port  # noqa: B018  (a port that is not a number fails here, not at connect)
    except Exception as exc:
        # A configuration error (exit 2), in the configuration's words, without the password.
        raise ConfigError(
            "storage",
            [ConfigIssue("storage.url", None,
                         f"{redact(url)!r} is not a database URL ({redact(str(exc))}); "
                         "allowed: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")],
        ) from None
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            "storage",
            [ConfigIssue("storage.url", None,
                         f"driver {parsed.drivername!r} is not supported; "
                         "allowed: sqlite+aiosqlite, postgresql+asyncpg")],
        )
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class SessionLimits:
    """How long any one PostgreSQL session of the daemon may hold what it holds, in seconds:
    set on every connection (``server_settings``), so that no session of a node that froze
    (SIGSTOP, a paused VM) or was cut off (a partition) keeps row locks another node waits
    for. In a cluster they come from ``cluster.lease_timeout`` (:meth:`for_lease`): every
    lock a frozen node holds is gone before its leases run out, so a take-over is never
    blocked. A daemon alone gets :data:`ALONE`. SQLite ignores them.

    * ``idle_in_transaction``: a session idle inside a transaction (its client stopped
      between two statements) is ended by the server;
    * ``statement``: a statement running longer is cancelled (the server), and the driver
      gives up waiting for its answer a second later (``command_timeout``);
    * ``lock``: a statement waiting longer for a lock fails (tried again next round);
    * ``keepalive``: the server probes a silent client after this, then every third of it,
      three times, and gives up on unacknowledged data after it (``tcp_user_timeout``): a
      client on the far side of a partition loses its session (and its locks) within about
      twice this, not the two hours of the kernel's default;
    * ``connect``: how long opening a connection may take.
    """

    idle_in_transaction: float
    statement: float
    lock: float
    keepalive: float
    connect: float

    @classmethod
    def for_lease(cls, lease_timeout: float) -> SessionLimits:
        """The limits of a cluster node: every one at most half the lease timeout (a lease is
        renewed at least every half timeout, so a frozen node's last renewal is at most a
        quarter timeout before it froze: its locks end before its leases do)."""
        half = lease_timeout / 2
        return cls(idle_in_transaction=half, statement=half, lock=lease_timeout / 4,
                   keepalive=lease_timeout / 4, connect=half)

    def server_settings(self) -> dict[str, str]:
        def ms(seconds: float) -> str:
            return str(max(1, round(seconds * 1000)))

        def whole(seconds: float) -> str:
            return str(max(1, round(seconds)))

        return {
            "idle_in_transaction_session_timeout": ms(self.idle_in_transaction),
            "statement_timeout": ms(self.statement),
            "lock_timeout": ms(self.lock),
            "tcp_keepalives_idle": whole(self.keepalive),
            "tcp_keepalives_interval": whole(self.keepalive / 3),
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": ms(self.keepalive * 2),
        }


    @classmethod
    def alone(cls) -> SessionLimits:
        """A daemon alone on PostgreSQL (no lease to protect): generous, never hours."""
        return cls(idle_in_transaction=60.0, statement=300.0, lock=60.0, keepalive=30.0,
                   connect=30.0)


def create_engine(
    url: str,
    *,
    busy_timeout: float = BUSY_TIMEOUT_MS / 1000,
    limits: SessionLimits | None = None,
    application_name: str | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """The engine of ``url``. On PostgreSQL, ``limits`` (:class:`SessionLimits`) go on every
    connection, and ``application_name`` names its sessions (``pg_stat_activity``)."""
    # Statements' parameters (e-mail bodies, probe evidence) never go into an error
    # message or a log line, whatever the log level.
    kwargs.setdefault("hide_parameters", True)
    if make_url(url).get_backend_name() == "postgresql" and (limits or application_name):
        settings = limits.server_settings() if limits is not None else {}
        if application_name:
            settings["application_name"] = application_name[:63]
        connect_args: dict[str, Any] = {"server_settings": settings}
        if limits is not None:
            connect_args["command_timeout"] = limits.statement + 1.0
            connect_args["timeout"] = limits.connect
        kwargs.setdefault("connect_args", connect_args)
        # A session the server ended (a timeout above) is found at checkout, not mid-work.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, round(busy_timeout * 1000))
    return engine


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    # No mkdir here: only migrate.upgrade creates a database (and its directory); a place
    # it cannot create is a StoreLocationError from Database.upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so that we can make it IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get("readonly", False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _busy_timeout(sync_connection: Any, milliseconds: int) -> None:
    """Set SQLite's busy timeout on this connection without beginning a transaction."""
    cursor = sync_connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    finally:
        cursor.close()


_READ_ONLY = ("readonly database", "read-only", "unable to open database file", "permission")


def _read_only(cause: str) -> bool:
    lowered = cause.lower()
    return any(text in lowered for text in _READ_ONLY)


#: PostgreSQL's SQLSTATEs of a server that does not answer: a connection exception (08),
#: an administrator's or a crash's shutdown, a server starting up or shutting down (57P01-3),
#: too many connections, a full disk or no memory (53).
_AWAY = ("08", "57P01", "57P02", "57P03", "53")


def unavailable_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database does not answer (rather than a fault of the work):
    a connection refused, reset or timed out, a closed or invalidated connection, a
    PostgreSQL server starting up, shutting down or out of connections or disk
    (:data:`_AWAY`), SQLite's ``OperationalError`` (locked, disk full, cannot open)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or ""
        return bool(exc.connection_invalidated) or code.startswith(_AWAY)
    return isinstance(exc, OSError)  # ConnectionRefusedError, TimeoutError, ... unwrapped


#: Seconds without a failed write before writes count as going through again (``/readyz``;
#: a full disk takes the small writes that fit and refuses the rest).
WRITES_SETTLE = 10.0


class Availability:
    """Whether a database answers, as every handle on it in this process sees it: one log
    line per change (see the module), a reminder at most every ``remind_every`` seconds.

    A database may answer some transactions and not others: SQLite on a full disk reads,
    and writes what fits its WAL, while the flush's writes fail. A failure within
    ``remind_every`` of the line that said it answered again is the same outage going on
    (it started when it was first said): reminded at most once a minute, and its end said
    only if it was (before, 37 "unavailable" and 36 "available again" lines a minute).
    """

    def __init__(self, where: str, remind_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.where = where
        self.remind_every = remind_every
        self.down_since: float | None = None  # clock()
        self._clock = clock
        self._reminded = 0.0  # when a line about it was last said
        self._back_at: float | None = None  # when "available again" was last said
        self._back_from = 0.0  # the start of the outage that line ended
        self._quiet = False  # the outage going on has not been said since that line
        # When a write transaction last failed, the database away or full (clock()).
        self.write_failed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    @property
    def writes_failing(self) -> bool:
        """A write transaction failed, the database away (or full: it may still answer
        reads, and take a write that fits), within the last :data:`WRITES_SETTLE` seconds."""
        failed = self.write_failed_at
        return failed is not None and self._clock() - failed < WRITES_SETTLE

    def failed(self, exc: BaseException, *, write: bool = False) -> None:
        """The database did not answer (``write``: a write transaction): said once, then
        reminded at most every minute."""
        now = self._clock()
        with self._lock:
            if write:
                self.write_failed_at = now
            flap = self._back_at is not None and now - self._back_at < self.remind_every
            if self.down_since is None and not flap:
                self.down_since = self._reminded = now
                self._quiet = False
                event = "database unavailable"
            else:
                if self.down_since is None:  # said less than a minute ago: it goes on
                    self.down_since, self._quiet = self._back_from, True
                if now - self._reminded < self.remind_every:
                    return
                self._reminded, self._quiet = now, False
                event = "database still unavailable"
            down_for = now - self.down_since
        error = error_line(exc)
        log.error(
            f"{event}: {error}; what needs it waits and is retried",
            extra={"database": self.where, "error_class": type(exc).__name__,
                   "down_seconds": round(down_for, 1)},
        )

    def answered(self, *, write: bool = False) -> None:
        """A transaction went through (``write``: a write transaction committed): if the
        database was away, say how long. A read that answers while writes fail
        (:attr:`writes_failing`: SQLite on a full disk, or locked by another writer; reads
        go on) ends nothing."""
        if self.down_since is None or (not write and self.writes_failing):
            return
        now = self._clock()
        with self._lock:
            if self.down_since is None:
                return
            since, quiet = self.down_since, self._quiet
            self.down_since = None
            if quiet:  # a flap of an outage said answered less than a minute ago
                return
            self._back_at, self._back_from, self._reminded = now, since, now
        down_for = now - since
        log.warning(
            f"database available again after {down_for:.1f} s",
            extra={"database": self.where, "down_seconds": round(down_for, 1)},
        )


def error_line(exc: BaseException) -> str:
    """An error's first line for a log line's ``error`` field: its type, no password, at
    most 300 characters of its text."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = redact(text.splitlines()[0])[:300] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


_FROM_DATABASE = "_sla_monitor_database_unavailable"
#: In a session's ``info`` once its transaction has a connection (SQLAlchemy's
#: ``after_begin``): only then did the database answer anything.
_REACHED = "sla_monitor_reached"


@event.listens_for(Session, "after_begin")
def _reached(session: Session, transaction: Any, connection: Any) -> None:
    session.info[_REACHED] = True

_AVAILABILITY: dict[str, Availability] = {}
_AVAILABILITY_LOCK = threading.Lock()


def _availability(where: str) -> Availability:
    with _AVAILABILITY_LOCK:
        found = _AVAILABILITY.get(where)
        if found is None:
            found = _AVAILABILITY[where] = Availability(where)
        return found


#: Write transactions committed in this process, per database (every handle on it): the
#: pages' cache reads its rows again after one (:mod:`monitor.http.cache`).
_WRITES: dict[str, int] = {}


#: Checked at the start of every write transaction of the current task (and the tasks it
#: starts): a cluster's leader-only job, whose every write holds the leader lease at its
#: epoch (:func:`guarded`).
Guard = Callable[["AsyncSession"], Awaitable[None]]
_GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("write_guard",
                                                                      default=None)


@contextmanager
def guarded(guard: Guard | None) -> Iterator[None]:
    """Every write transaction begun inside the block (by this task, or a task or thread it
    starts) first awaits ``guard(tx)``, which raises (:class:`~monitor.errors.Fenced`) to
    refuse it: nothing of that transaction is written. ``None``: no guard."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


def inserted_id(result: Any) -> int:
    """The primary key of the row an ``insert()`` just wrote."""
    key = result.inserted_primary_key
    if not key or key[0] is None:
        raise StoreError("the database returned no id for the inserted row")
    return int(key[0])


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _sqlite_workers_settled(within: float = 1.0) -> None:
    """Wait, while the event loop still runs, for aiosqlite's worker threads that are ending.

    An SQLite file that cannot be opened (a read-only state directory) makes aiosqlite stop
    the connection's thread without waiting for it; the thread then hands its last answer
    to the event loop, which ``asyncio.run`` may have closed meanwhile, and Python prints
    "Exception in thread … (_connection_worker_thread)" with a traceback under the user's
    one-line error. Threads of open connections do not end: they are given ``within``
    seconds in all, on this error path only."""
    deadline = time.monotonic() + within
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)") and thread.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.to_thread(thread.join, remaining)


class Database:
    """One database: its engine, and the transactions every part of sla-monitor uses."""

    def __init__(
        self,
        engine: AsyncEngine,
        limits: SessionLimits | None = None,
        application_name: str | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits
        self.application_name = application_name
        #: The handle this one is a sibling of (itself if none): what is kept of what was
        #: read through a handle is kept for its siblings too (each page of the daemon reads
        #: on a sibling of its own, :meth:`sibling`).
        self.origin: Database = self
        self._sessions = session_factory(engine)
        # Shared by every handle on this database in the process (a sibling on a thread too).
        self._where = self.where()
        self.availability = _availability(self._where)
        # The write transaction the current task is inside, if any (joined, not nested).
        # A task created inside it inherits the variable; the owner check keeps it out.
        self._current: contextvars.ContextVar[tuple[object, AsyncSession] | None] = (
            contextvars.ContextVar(f"transaction-{id(self)}", default=None)
        )

    @property
    def writes(self) -> int:
        """How many write transactions this process committed on this database (through
        any handle): a cache of what was read can tell that it may be stale."""
        return _WRITES.get(self._where, 0)

    def _joined(self) -> AsyncSession | None:
        current = self._current.get()
        if current is None or current[0] is not asyncio.current_task():
            return None
        return current[1]

    @classmethod
    def open(
        cls,
        url: str | None,
        busy_timeout: float = BUSY_TIMEOUT_MS / 1000,
        *,
        limits: SessionLimits | None = None,
        application_name: str | None = None,
    ) -> Database:
        """The configured database (``storage.url``), else SQLite in the state directory;
        ``busy_timeout`` (``storage.busy_timeout``, seconds) is how long an SQLite write
        waits for another writer's lock; ``limits`` and ``application_name`` go on every
        PostgreSQL session (:class:`SessionLimits`: the daemon's). Nothing is checked or
        created yet: :meth:`upgrade` creates it (``db upgrade``, ``run``); every other user
        calls :meth:`open_existing`."""
        engine = create_engine(resolve_url(url), busy_timeout=busy_timeout, limits=limits,
                               application_name=application_name)
        return cls(engine, limits, application_name)

    @classmethod
    async def open_existing(
        cls, url: str | None, busy_timeout: float = BUSY_TIMEOUT_MS / 1000
    ) -> Database:
        """The configured database, only if it exists at this version's schema: creates no
        file, directory or table and migrates nothing. Raises
        :class:`~monitor.errors.SchemaError` naming the database looked for (missing,
        without our schema, or at another revision)."""
        from monitor.store.migrate import require_current

        resolved = resolve_url(url)
        await require_current(resolved)
        return cls(create_engine(resolved, busy_timeout=busy_timeout))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    def sibling(self) -> Database:
        """Another handle on the same database, for another event loop (a worker thread's
        long read must not run on the daemon's loop); dispose of it there."""
        url = self.engine.url.render_as_string(hide_password=False)
        made = Database(create_engine(url, limits=self.limits,
                                      application_name=self.application_name),
                        self.limits, self.application_name)
        made.origin = self.origin
        return made

    def where(self) -> str:
        """How messages name the database: the SQLite file, else the URL without password."""
        from monitor.store.migrate import where

        return where(self.engine.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A write transaction, committed when the block ends and rolled back if it raises;
        inside another one of the same task, that one (committed when it ends)."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        reached = False
        try:
            async with self._sessions() as session, session.begin():
                token = self._current.set((asyncio.current_task(), session))
                try:
                    guard = _GUARD.get()
                    if guard is not None:
                        await guard(session)  # raises Fenced: nothing written
                    yield session
                finally:
                    self._current.reset(token)
                    reached = _REACHED in session.sync_session.info
        except BaseException as exc:
            self._failed(exc, write=True)
            raise
        finally:
            # Counted even when it failed: a commit may have happened before the error.
            _WRITES[self._where] = _WRITES.get(self._where, 0) + 1
        if reached:  # one with nothing to write asked for no connection: no answer
            self.availability.answered(write=True)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """A read-only transaction: a deferred ``BEGIN`` on SQLite, so it never queues
        behind a writer for the lock; inside a write transaction of the same task, that one."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        try:
            async with self._sessions() as session:
                await session.connection(execution_options={"readonly": True})  # begins it
                yield session
                await session.commit()  # not rollback(): that would expire what was read
        except BaseException as exc:
            self._failed(exc)
            raise
        self.availability.answered()

    def _failed(self, exc: BaseException, *, write: bool = False) -> None:
        if isinstance(exc, Exception) and unavailable_error(exc):
            try:  # an OSError is the database's only when it came out of a transaction
                setattr(exc, _FROM_DATABASE, True)
            except (AttributeError, TypeError):
                pass
            self.availability.failed(exc, write=write)

    def outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` is this database not answering: then it is logged here, once per
        outage (see the module), and the caller logs nothing more (nor for a write
        :class:`~monitor.errors.Fenced`: said where it was refused); anything else (a fault
        of the work, or an OSError of something else: SMTP, a webhook) is the caller's to
        log, with its traceback."""
        if isinstance(exc, Fenced):
            return True  # not an outage, but said and counted where it was refused
        if isinstance(exc, OSError) and not getattr(exc, _FROM_DATABASE, False):
            return False
        if not unavailable_error(exc):
            return False
        self.availability.failed(exc)
        return True

    async def run(
        self,
        work: Callable[[Tx], Awaitable[T]],
        *,
        retry_for: float = 0.0,
        readonly: bool = False,
    ) -> T:
        """``work`` in one transaction. With ``retry_for``, a database that is locked or
        unreachable is tried again (with backoff) for up to that many seconds: an outcome
        an SMTP server already gave must not be lost (SPEC section 8)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + retry_for
        delay = 0.05
        while True:
            try:
                if readonly:
                    async with self.reading() as tx:
                        return await work(tx)
                async with self.transaction() as tx:
                    return await work(tx)
            except DBAPIError as exc:
                retryable = (
                    isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated
                )
                if not retryable or loop.time() > give_up:
                    raise
                # Said once per outage (Availability); each retry only at debug level.
                log.debug(
                    "database unavailable; retrying the transaction",
                    extra={"error": str(exc.orig), "retry_in": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def ping(self, within: float = 2.0) -> bool:
        """Whether the database would take a write within ``within`` seconds (``/readyz``):
        False, about ``within`` later at most, when another writer holds an SQLite file
        locked or the server does not answer; never a wait of the 30 s busy timeout. False
        at once while write transactions fail (:attr:`Availability.writes_failing`): a full
        disk takes the lock and answers reads, and refuses the writes that do not fit."""
        if self.availability.writes_failing:
            return False
        try:
            return await asyncio.wait_for(self._ping(within), within + 0.5)
        except Exception:  # TimeoutError, a locked or unreachable database
            return False

    async def _ping(self, within: float) -> bool:
        async with self.engine.connect() as connection:
            if self.dialect != "sqlite":
                await connection.execute(text("SELECT 1"))
                return True
            # BEGIN IMMEDIATE (the write lock, as every write takes it), waiting at most
            # ``within`` on this connection; then the usual busy timeout again.
            await connection.run_sync(_busy_timeout, int(within * 1000))
            try:
                await connection.execute(text("SELECT 1"))
                await connection.rollback()
            finally:
                await connection.run_sync(_busy_timeout, BUSY_TIMEOUT_MS)
        return True

    async def upgrade(self) -> tuple[str | None, str | None]:
        """Bring the schema to head (a no-op when it is); (revision before, after).

        The first thing every command and the daemon do with the database, so a database
        that cannot be reached or written is said here in one line:
        :class:`StoreLocationError` (exit 2) for a read-only or forbidden place,
        :class:`StoreError` (exit 1) with the cause for anything else."""
        from monitor.store.migrate import upgrade

        # A migration may run long, and wait for another node's: the session limits are for
        # the daemon's own short transactions, so it runs on a connection without them.
        engine = self.engine
        if self.limits is not None and self.dialect == "postgresql":
            engine = create_engine(self.engine.url.render_as_string(hide_password=False),
                                   application_name=self.application_name)
        try:
            return await upgrade(engine)
        except (DBAPIError, OSError) as exc:
            if self.dialect == "sqlite":
                await _sqlite_workers_settled()
            raise self.unavailable(exc) from None
        finally:
            if engine is not self.engine:
                await engine.dispose()

    def unavailable(self, exc: BaseException) -> StoreError:
        """One clear error for a database that cannot be used, without its password."""
        text = str(getattr(exc, "orig", None) or exc).strip()
        cause = redact(text.splitlines()[0]) if text else type(exc).__name__
        if self.dialect == "sqlite" and _read_only(cause):
            return StoreLocationError(
                f"storage: cannot write the SQLite database {self.engine.url.database!r}: "
                f"{cause}; allowed: a file in a writable directory ($STATE_DIRECTORY, the "
                "working directory, or the one storage.url names)"
            )
        return StoreError(f"storage: cannot use the database {self.where()}: {cause}")

    async def dispose(self) -> None:
        await self.engine.dispose()
