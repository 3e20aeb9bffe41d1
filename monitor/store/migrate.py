"""Apply the Alembic migrations, from the CLI or on a connection the daemon hands in; and
check, without changing anything, that a database is at this version's schema.

Only :func:`upgrade` creates: ``sla-monitor db upgrade`` and ``run`` call it. Every other
command opens the database with :meth:`monitor.store.Database.open_existing`, which
calls :func:`require_current` and raises :class:`~monitor.errors.SchemaError` for a
database that is missing, holds no schema of ours, or is at another revision.

*Decision* (databases from before 0.1.0): the development's chain of migrations was
squashed into one, ``initial_schema``, which makes the very schema the chain ended with
(``tests/store/test_schema.py`` proves it on SQLite and PostgreSQL). A database stamped
with the chain's last revision (:data:`DEVELOPMENT_HEAD`: the developers' own databases,
a demo's) is restamped ``initial_schema`` by :func:`upgrade` (``db upgrade``, ``run``), with
a log line, and nothing else changes; every other command calls it ``behind`` and says to
run ``db upgrade``. A database at an earlier revision of the chain
(:data:`DEVELOPMENT_REVISIONS`) is refused by both (``pre-release``): it must be brought
to the chain's last revision with the development version that wrote it first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.errors import SchemaError, StoreError

# alembic is imported where a migration runs or a revision is looked up, not to check that
# a database is current (every command but db upgrade and run): see head_revision.
if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

#: The last revision of the development's chain of migrations before 0.1.0, and the
#: revision that makes the same schema: a database stamped with it is restamped.
DEVELOPMENT_HEAD = "0009_i15"
SQUASHED = "initial_schema"
#: The chain's earlier revisions: schemas this version cannot upgrade.
DEVELOPMENT_REVISIONS = frozenset(
    {"0001", "0002_i9", "0003_i10", "0004_traps", "0008_i14", "0005_i12", "0006_i13", "0007_i11"}
)


def load_alembic(url: str | None = None) -> None:
    """Import alembic now, unless the SQLite database at ``url`` is at this version's head
    already (:func:`upgrade` then runs no migration and imports nothing of alembic). The daemon
    (``run``, ``demo``) calls this before it sets up its logs: alembic logs its plugins'
    set-up (INFO) on import, which is no daemon event. Not importing it when nothing is to
    migrate keeps alembic, mako and pygments (about 10 MB, measured) out of a daemon that
    runs for months. None imports alembic (the demo's database is new)."""
    if url is not None and _sqlite_at_head(url):
        return
    from alembic import command  # noqa: F401


def _sqlite_at_head(url: str) -> bool:
    """Whether ``url`` is a SQLite database at this version's head. One that is not a
    database URL is not: the daemon's start says so as the configuration error it is
    (:func:`monitor.store.db.resolve_url`, exit 2), where this check printed a traceback."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # no URL at all; a port that is not a number, ...
        return False
    path = sqlite_path(parsed)
    if path is None or not path.is_file():
        return False
    try:
        return _sqlite_revision(path) == head_revision(url)
    except (StoreError, OSError):
        return False  # said by upgrade, which opens it


def script_location() -> str:
    """The migration scripts: packaged as ``monitor/migrations`` in a wheel, ``alembic/`` in a checkout."""
    packaged = resources.files("monitor") / "migrations"
    if packaged.is_dir() and (packaged / "env.py").is_file():
        return str(packaged)
    source = Path(__file__).resolve().parents[2] / "alembic"
    return str(source)


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", script_location())
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision(url: str) -> str | None:
    """This version's head revision: read from the migration scripts' ``revision`` and
    ``down_revision`` lines, without importing alembic and every script (as alembic's
    ``get_current_head`` does); alembic's answer when the scripts are not one line of
    revisions (a branch, a merge, an assignment this reading does not understand)."""
    found = _script_head(Path(script_location()) / "versions")
    return found if found is not None else _alembic_head(url)


def _alembic_head(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.*?)\s*(?:#.*)?$", re.MULTILINE)
_PLAIN = re.compile(r"""None|"([^"\\]*)"|'([^'\\]*)'""")


def _script_head(versions: Path) -> str | None:
    """The one revision no script names as its ``down_revision``; None if there is not
    exactly one such, or a script's revisions are not plain strings. Read from the
    scripts' top-level ``revision`` and ``down_revision`` lines, not parsed as Python (the
    squashed first script is long: parsing it cost every command 50 ms)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        values: dict[str, str | None] = {}
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            plain = _PLAIN.fullmatch(value)
            if plain is None or name in values:
                return None
            values[name] = None if value == "None" else (plain[1] or plain[2] or "")
        revision, down = values.get("revision"), values.get("down_revision")
        if not revision or "down_revision" not in values:
            return None
        revisions.add(revision)
        if down is not None:
            downs.add(down)
    heads = revisions - downs
    return next(iter(heads)) if len(heads) == 1 and downs <= revisions else None


def _upgrade(sync_connection: Any, url: str) -> None:
    from alembic import command

    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


def _stamped(sync_connection: Any) -> str | None:
    """The one revision in ``alembic_version``, read with plain SQL (not alembic's
    MigrationContext, whose import is alembic's and mako's); None when there is no such
    table or not exactly one row (then alembic reads it, and says what is wrong)."""
    if not inspect(sync_connection).has_table("alembic_version"):
        return None
    rows = sync_connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def _current(sync_connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(sync_connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Bring the schema to head; return (revision before, revision after). Idempotent.

    The one place that creates a database (an SQLite file and its directory)."""
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(engine.url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Several daemons of a cluster may start at once on one database: one
            # migrates, the others wait here and then find the schema current.
            await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('sla-monitor "
                                          "schema upgrade'))"))
        stamped = await connection.run_sync(_stamped)
        if stamped is not None and stamped == head_revision(url):
            return stamped, stamped  # current: no migration to run (alembic not imported)
        before = await connection.run_sync(_current)
        if before in DEVELOPMENT_REVISIONS:
            raise _pre_release(engine.url, before, head_revision(url))
        if before == DEVELOPMENT_HEAD:
            await _restamp(connection)
        elif before is not None and not _known(url, before):
            # A newer version upgraded it: nothing here can go forward or back safely.
            raise SchemaError(where(engine.url), "unknown", revision=before,
                              head=head_revision(url))
        await connection.run_sync(_upgrade, url)
        after = await connection.run_sync(_current)
    if before == DEVELOPMENT_HEAD:  # said once it is committed
        log.info(
            f"schema revision {DEVELOPMENT_HEAD} of the development before 0.1.0 restamped "
            f"{SQUASHED}, the same schema",
            extra={"database": where(engine.url), "revision_before": DEVELOPMENT_HEAD,
                   "revision_after": SQUASHED},
        )
    return before, after


def _pre_release(url: URL, revision: str, head: str | None) -> SchemaError:
    return SchemaError(where(url), "pre-release",
                       f"only its last revision, {DEVELOPMENT_HEAD}, carries over",
                       revision=revision, head=head)


async def _restamp(connection: AsyncConnection) -> None:
    """Stamp a database at :data:`DEVELOPMENT_HEAD` with :data:`SQUASHED`, the same schema."""
    await connection.execute(text("UPDATE alembic_version SET version_num = :new "
                                  "WHERE version_num = :old"),
                             {"new": SQUASHED, "old": DEVELOPMENT_HEAD})


async def current_revision(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(_current)


def sqlite_path(url: URL) -> Path | None:
    """The absolute path of an SQLite database file; None for other databases and memory."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).absolute()


def where(url: URL) -> str:
    """How messages name a database: the SQLite file, else the URL without its password."""
    path = sqlite_path(url)
    return str(path) if path is not None else url.render_as_string(hide_password=True)


def _sqlite_revision(path: Path) -> str | None:
    """The revision stamped in an existing SQLite file, read without changing it (no WAL
    switch, no header written into an empty file, nothing created beside it)."""
    if path.stat().st_size == 0:
        return None
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from None
    try:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if found is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.DatabaseError as exc:  # not a database, encrypted, ...
        raise SchemaError(where(make_url(f"sqlite:///{path}")), "empty", str(exc)) from None
    finally:
        connection.close()


async def current_of(url: str) -> str | None:
    """The schema revision of the existing database at ``url``; :class:`SchemaError`
    (``missing``) if there is none. Creates and changes nothing."""
    parsed = make_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        if not path.is_file():
            raise SchemaError(where(parsed), "missing", "the file does not exist")
        return await asyncio.to_thread(_sqlite_revision, path)
    engine = create_async_engine(url)  # PostgreSQL: nothing of SQLite's set-up applies
    try:
        async with engine.connect() as connection:
            return await current_revision(connection)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "3D000":  # invalid_catalog_name
            raise SchemaError(
                where(parsed),
                "missing",
                f'database "{parsed.database}" does not exist on the server',
            ) from None
        # Worded as Database.unavailable words it: one message, whoever opens it.
        raise StoreError(f"storage: cannot use the database {where(parsed)}: {exc.orig}") from None
    except OSError as exc:
        raise StoreError(f"storage: cannot use the database {where(parsed)}: {exc}") from None
    finally:
        await engine.dispose()


async def require_current(url: str) -> str:
    """This version's head revision, if the database at ``url`` is at it; else
    :class:`SchemaError` saying what was found. Creates and changes nothing."""
    parsed = make_url(url)
    current = await current_of(url)
    head = head_revision(url)
    if current is None:
        raise SchemaError(where(parsed), "empty")
    if current == head:
        return current
    if current in DEVELOPMENT_REVISIONS:
        raise _pre_release(parsed, current, head)
    behind = current == DEVELOPMENT_HEAD or _known(url, current)  # db upgrade restamps it
    raise SchemaError(
        where(parsed), "behind" if behind else "unknown", revision=current, head=head,
    )


def _known(url: str, revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config(url)).get_revision(revision) is not None
    except CommandError:
        return False
