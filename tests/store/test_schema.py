"""The migrations make exactly the committed schema (``schema_at_head.json``: tables,
columns, keys, indexes with their predicates, triggers, functions) on SQLite and
PostgreSQL, and take all of it away again. The squashed revision (``initial_schema``)
alone makes the development migrations' head, which :mod:`monitor.store.migrate`
restamps: the description less the tables later revisions add
(:data:`tests.store.schema_description.LATER_TABLES`). After a deliberate schema change,
regenerate it (see :mod:`tests.store.schema_description`) and review its diff."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from alembic import command
from monitor.store import create_engine
from monitor.store.migrate import SQUASHED, alembic_config, head_revision, upgrade
from tests.store.schema_description import (
    LATER_COLUMNS,
    LATER_TABLES,
    describe,
    describe_url,
    load,
    migrate_to,
    without_later_tables,
)


def _backend(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def _differences(found: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What differs, table by table, so a failure names the table and the part."""
    out = []
    for table in sorted(set(found["tables"]) | set(expected["tables"])):
        mine, theirs = found["tables"].get(table), expected["tables"].get(table)
        if mine is None or theirs is None:
            out.append(f"{table}: {'missing' if mine is None else 'not expected'}")
            continue
        out.extend(f"{table}.{part}: {mine[part]!r} != {theirs[part]!r}"
                   for part in sorted(set(mine) | set(theirs))
                   if mine.get(part) != theirs.get(part))
    out.extend(f"{kind}: {found[kind]!r} != {expected[kind]!r}"
               for kind in ("triggers", "functions") if found[kind] != expected[kind])
    return out


@pytest.mark.slow
async def test_the_migration_makes_the_committed_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    found = await describe_url(db_url)
    expected = load()[_backend(db_url)]
    assert _differences(found, expected) == []
    assert found == expected
    # The description holds what an equality on names alone would miss.
    incidents = expected["tables"]["incidents"]["indexes"]
    assert [(i["name"], i["unique"], i["where"] is not None) for i in incidents
            if i["name"] == "uq_incidents_open_service"] == [("uq_incidents_open_service", True,
                                                              True)]
    assert len(expected["triggers"]) == 2


@pytest.mark.slow
async def test_the_squashed_revision_makes_the_schema_less_later_tables(db_url: str) -> None:
    """What a database of the development's head is (restamped ``initial_schema``), and
    what each later revision adds to it: its tables and columns, nothing else."""
    await migrate_to(db_url, SQUASHED)
    found = await describe_url(db_url)
    expected = load()[_backend(db_url)]
    assert _differences(found, without_later_tables(expected)) == []
    assert found == without_later_tables(expected)
    later = {table for tables in LATER_TABLES.values() for table in tables}
    assert later and later <= set(expected["tables"])
    assert set(LATER_TABLES) | set(LATER_COLUMNS) | {SQUASHED} >= {head_revision(db_url)}


def test_a_difference_is_named_by_table_and_part() -> None:
    expected = load()["sqlite"]
    changed: dict[str, Any] = {**expected, "tables": dict(expected["tables"])}
    changed["tables"]["outbox"] = {**expected["tables"]["outbox"], "indexes": []}
    del changed["tables"]["statements"]
    assert [line.split(":")[0] for line in _differences(changed, expected)] == [
        "outbox.indexes", "statements"]


def _downgrade_to_base(sync_connection: Any, url: str) -> list[str]:
    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.downgrade(config, "base")
    return sorted(inspect(sync_connection).get_table_names())


@pytest.mark.slow
async def test_downgrade_takes_the_whole_schema_away(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            left = await connection.run_sync(_downgrade_to_base, db_url)
            nothing = await connection.run_sync(describe)
    finally:
        await engine.dispose()
    assert left == ["alembic_version"]
    assert nothing == {"tables": {}, "triggers": {}, "functions": {}}
