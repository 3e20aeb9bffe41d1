"""A database's schema as a normalized, reviewable description, and the committed one
(``schema_at_head.json``) that the migration must produce on SQLite and PostgreSQL.

:func:`describe` reads a migrated database with SQLAlchemy's inspector and the catalogs:
per table the columns in order (one line each: name, type as the backend spells it,
``NOT NULL``, server default), the primary key, unique constraints, foreign keys (with ON DELETE/UPDATE),
check constraints and indexes (unique, partial-index predicate, and the index's own
definition: ``sqlite_master.sql`` on SQLite, ``pg_get_indexdef`` on PostgreSQL); then the
triggers (``sqlite_master.sql``, ``pg_get_triggerdef``) and, on PostgreSQL, the functions
of the ``public`` schema (``pg_get_functiondef``). ``alembic_version`` is left out.

Regenerate the description after a deliberate schema change (a new migration), from the
checkout, with a PostgreSQL server for the second backend::

    SLA_MONITOR_TEST_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:54329/postgres \\
        python -m tests.store.schema_description

and review the diff of ``tests/store/schema_at_head.json`` like any other change.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

FIXTURE = Path(__file__).with_name("schema_at_head.json")
LEFT_OUT = ("alembic_version",)


def _sql(statement: str | None) -> str | None:
    """SQL text with its whitespace collapsed, so a re-indented statement compares equal."""
    return None if statement is None else re.sub(r"\s+", " ", statement).strip()


def _column(column: dict[str, Any], connection: Connection) -> str:
    """One line a reader checks at a glance: ``name TYPE [NOT NULL] [DEFAULT x]``."""
    words = [column["name"], column["type"].compile(dialect=connection.dialect)]
    if not column["nullable"]:
        words.append("NOT NULL")
    if column.get("default") is not None:
        words.append(f"DEFAULT {column['default']}")
    return " ".join(words)


def _index(index: dict[str, Any], definitions: dict[str, str]) -> dict[str, Any]:
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return {
        "name": index["name"],
        "columns": list(index["column_names"]),
        "unique": bool(index["unique"]),
        "where": None if where is None else _sql(str(where)),
        "definition": _sql(definitions.get(index["name"])),
    }


def _index_definitions(connection: Connection) -> dict[str, str]:
    if connection.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    return {name: sql for name, sql in connection.execute(text(query))}


def _triggers(connection: Connection) -> dict[str, str | None]:
    if connection.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = ("SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                 "JOIN pg_class c ON c.oid = t.tgrelid "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'public' AND NOT t.tgisinternal")
    return {name: _sql(sql) for name, sql in connection.execute(text(query))}


def _functions(connection: Connection) -> dict[str, str | None]:
    if connection.dialect.name == "sqlite":
        return {}
    query = ("SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
             "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")
    return {name: _sql(sql) for name, sql in connection.execute(text(query))}


def describe(connection: Connection) -> dict[str, Any]:
    """The schema of the database behind ``connection`` (a synchronous connection, e.g.
    inside ``AsyncConnection.run_sync``), as plain JSON-able data, in a stable order."""
    inspector = inspect(connection)
    definitions = _index_definitions(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table in LEFT_OUT:
            continue
        key = inspector.get_pk_constraint(table)
        tables[table] = {
            "columns": [_column(c, connection) for c in inspector.get_columns(table)],
            "primary_key": {"name": key.get("name"),
                            "columns": list(key.get("constrained_columns") or [])},
            "unique_constraints": sorted(
                ({"name": u["name"], "columns": list(u["column_names"])}
                 for u in inspector.get_unique_constraints(table)),
                key=lambda u: (str(u["name"]), u["columns"])),
            "foreign_keys": sorted(
                ({"name": f["name"], "columns": list(f["constrained_columns"]),
                  "referred_table": f["referred_table"],
                  "referred_columns": list(f["referred_columns"]),
                  "options": dict(sorted(f.get("options", {}).items()))}
                 for f in inspector.get_foreign_keys(table)),
                key=lambda f: (str(f["name"]), f["columns"])),
            "check_constraints": sorted(
                ({"name": c["name"], "sqltext": _sql(c["sqltext"])}
                 for c in inspector.get_check_constraints(table)),
                key=lambda c: (str(c["name"]), str(c["sqltext"]))),
            "indexes": sorted((_index(i, definitions) for i in inspector.get_indexes(table)),
                              key=lambda i: str(i["name"])),
        }
    return {"tables": tables, "triggers": _triggers(connection),
            "functions": _functions(connection)}


async def describe_url(url: str) -> dict[str, Any]:
    """:func:`describe` of the database at ``url``."""
    from monitor.store import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(describe)
    finally:
        await engine.dispose()


#: The tables each revision after the squashed one adds (their schema is in the description
#: too; tests/store/test_schema.py checks that the squashed revision makes the rest).
LATER_TABLES = {"incident_updates": ("incident_updates",),
                "operator_deliveries": ("operator_deliveries",),
                "maintenance_updates": ("maintenance_updates",),
                "subscribers": ("subscribers", "outbox_list_unsubscribe"),
                "evidence_chain": ("evidence_chain", "evidence_checkpoints", "evidence_keys"),
                "month_terms": ("month_terms",),
                "recurring_maintenance": ("recurring_occurrences",),
                "last_pushes": ("last_pushes",)}
#: The columns each revision after the squashed one adds to a table it did not make.
LATER_COLUMNS = {"cluster_config_digest": {"cluster_nodes": ("config_digest",)},
                 "outbox_requeued": {"outbox": ("requeued_at",)}}


def _to_revision(sync_connection: Any, url: str, revision: str) -> None:
    from alembic import command
    from monitor.store.migrate import alembic_config

    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


async def migrate_to(url: str, revision: str) -> None:
    """Bring the database at ``url`` to ``revision`` (not further), as alembic does."""
    from monitor.store import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_revision, url, revision)
    finally:
        await engine.dispose()


def without_later_tables(description: dict[str, Any]) -> dict[str, Any]:
    """``description`` less the tables and columns the revisions after the squashed one
    add."""
    later = {table for tables in LATER_TABLES.values() for table in tables}
    tables = {name: table for name, table in description["tables"].items()
              if name not in later}
    for added in LATER_COLUMNS.values():
        for name, columns in added.items():
            tables[name] = {**tables[name], "columns": [
                line for line in tables[name]["columns"] if line.split()[0] not in columns]}
    return {**description, "tables": tables}


def load() -> dict[str, Any]:
    """The committed description: ``{"sqlite": ..., "postgresql": ...}``."""
    found: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return found


def dump(description: dict[str, Any]) -> str:
    return json.dumps(description, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


async def _at_head(url: str) -> dict[str, Any]:
    from monitor.store import create_engine
    from monitor.store.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return await describe_url(url)


async def _regenerate(pg_admin_url: str) -> dict[str, Any]:
    import asyncpg

    with tempfile.TemporaryDirectory() as directory:
        sqlite = await _at_head(f"sqlite+aiosqlite:///{Path(directory) / 'schema.db'}")
    admin = make_url(pg_admin_url)
    name = f"slamon_schema_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        postgresql = await _at_head(admin.set(database=name).render_as_string(hide_password=False))
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
    return {"sqlite": sqlite, "postgresql": postgresql}


def main() -> int:
    """Write ``schema_at_head.json``: the schema this checkout's migrations make on both backends."""
    pg = os.environ.get("SLA_MONITOR_TEST_PG_URL")
    if not pg:
        print("set SLA_MONITOR_TEST_PG_URL to a PostgreSQL server (a database is created "
              "and dropped on it)", file=sys.stderr)
        return 2
    FIXTURE.write_text(dump(asyncio.run(_regenerate(pg))), encoding="utf-8")
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
