"""A command run where no sla-monitor database exists creates nothing and says where it
looked (trap 1): only ``db upgrade`` and ``run`` create a database.

Every other command, read or write, needs the database the daemon writes, at this
version's schema: run in the wrong directory, a read would report 100 % for everyone
and a write would record into a fresh database nobody reads. They exit 2 naming the
database they looked for and how to point at the right one (``-c``, ``STATE_DIRECTORY``,
``storage.url``) or to create it (``db upgrade``). A database behind this version's
schema is not migrated on the way: the command says so. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from alembic import command
from monitor.cli import main
from monitor.store import create_engine
from monitor.store.migrate import (
    DEVELOPMENT_HEAD,
    DEVELOPMENT_REVISIONS,
    SQUASHED,
    alembic_config,
    head_revision,
)

MONTH = "2026-03"
#: Every command but ``db upgrade``, ``run``, ``check-config`` and ``demo``: reads and writes.
COMMANDS = [
    ("incident", "list"),
    ("maintenance", "list"),
    ("report", "--month", MONTH),
    ("report", "--month", MONTH, "--format", "json"),
    ("report", "close", "--month", MONTH),
    ("incident", "add", "--service", "panel", "--start", "2026-03-01T00:00Z",
     "--end", "2026-03-01T01:00Z"),
    ("incident", "cause", "1", "--cause", "external", "--reason", "cut-off"),
    ("incident", "notified", "1", "--at", "2026-03-01T00:10Z", "--channel", "phone"),
    ("maintenance", "add", "--services", "panel", "--start", "2026-03-01T00:00Z",
     "--end", "2026-03-01T01:00Z", "--reason", "upgrade"),
]
PANEL = "services: [{id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9}}]\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no $STATE_DIRECTORY and no $SLA_MONITOR_CONFIG."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("SLA_MONITOR_CONFIG", raising=False)
    return cwd


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def refused_by_reads_and_by_db_upgrade(
        capsys: pytest.CaptureFixture[str], config: Path) -> list[str]:
    """``incident list`` and ``db upgrade`` each exit 2 without a traceback: their errors."""
    errors = []
    for args in (("incident", "list"), ("db", "upgrade")):
        code, _, err = await asyncio.to_thread(run, capsys, "-c", str(config), *args)
        assert code == 2, err
        assert "Traceback" not in err
        errors.append(err)
    return errors


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_database_here_creates_nothing_and_says_where_it_looked(
    here: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    config = tmp_path / "config.yaml"  # no storage.url: the default SQLite file
    config.write_text(PANEL)
    before = files(tmp_path)
    code, out, err = run(capsys, "-c", str(config), *args)
    assert code == 2, out + err
    assert "Traceback" not in err and out == ""
    expected = here / "sla-monitor.db"
    assert f"no sla-monitor database at {expected} (the file does not exist)" in err
    # Why there, and how to point at the right one or create it.
    assert f"{config} does not set storage.url" in err
    assert "$STATE_DIRECTORY is not set" in err
    for hint in ("-c CONFIG", "STATE_DIRECTORY=", "storage.url", f"sla-monitor -c {config} db upgrade"):
        assert hint in err
    assert files(tmp_path) == before  # no file, no directory


def test_state_directory_without_a_database_is_named_and_not_created(
    here: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "var" / "lib" / "sla-monitor"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    code, _, err = run(capsys, "incident", "list")  # embedded defaults: no configuration file
    assert code == 2
    assert f"no sla-monitor database at {state / 'sla-monitor.db'}" in err
    assert f"$STATE_DIRECTORY is {state}" in err
    assert "there is no configuration file (the embedded defaults)" in err
    assert not (tmp_path / "var").exists()


def test_an_empty_sqlite_file_is_no_database(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "sla-monitor.db").touch()
    code, _, err = run(capsys, "report", "--month", MONTH)
    assert code == 2
    assert f"{here / 'sla-monitor.db'} holds no sla-monitor schema" in err
    assert "sla-monitor db upgrade" in err
    assert (here / "sla-monitor.db").stat().st_size == 0  # still empty


def test_db_upgrade_creates_it_and_then_commands_work(
    here: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(PANEL)
    assert run(capsys, "-c", str(config), "db", "upgrade")[0] == 0
    assert (here / "sla-monitor.db").is_file()
    code, out, err = run(capsys, "-c", str(config), "incident", "list")
    assert code == 0, err
    assert out.splitlines()[0].startswith("id")


# --- PostgreSQL: a database without our schema is the same case ----------------------------------


def _tables(sync_connection: Any) -> set[str]:
    return set(inspect(sync_connection).get_table_names())


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_tables)
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_database_without_the_schema_is_refused_and_left_empty(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(PANEL + f"storage: {{url: '{pg_url}'}}\n")
    for args in (("incident", "list"), ("report", "--month", MONTH),
                 ("maintenance", "add", "--services", "panel", "--start", "2026-03-01T00:00Z",
                  "--end", "2026-03-01T01:00Z", "--reason", "upgrade")):
        code, _, err = await asyncio.to_thread(run, capsys, "-c", str(config), *args)
        assert code == 2, err
        shown = make_url(pg_url).render_as_string(hide_password=True)
        assert f"{shown} holds no sla-monitor schema" in err
        assert f"{config} sets storage.url" in err
        assert f"sla-monitor -c {config} db upgrade" in err
    assert await _table_names(pg_url) == set()


@pytest.mark.postgres
async def test_postgres_database_that_does_not_exist_is_named(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = make_url(pg_url).set(database=f"slamon_missing_{uuid.uuid4().hex[:8]}")
    config = tmp_path / "config.yaml"
    config.write_text(PANEL + f"storage: {{url: '{missing.render_as_string(hide_password=False)}'}}\n")
    code, _, err = await asyncio.to_thread(run, capsys, "-c", str(config), "incident", "list")
    assert code == 2
    assert f"no sla-monitor database at {missing.render_as_string(hide_password=True)}" in err
    assert f'(database "{missing.database}" does not exist on the server)' in err


# --- a database behind this version's schema: say so, do not migrate on a read -------------------


def _upgrade_to(sync_connection: Any, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


async def _stamp(url: str, revision: str) -> None:
    """The squashed revision's schema (the development's last revision before 0.1.0 made
    the same) stamped ``revision``; stamped as it is for ``SQUASHED``, a database behind
    the revisions after it."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, url, SQUASHED)
            await connection.execute(text("UPDATE alembic_version SET version_num = :revision"),
                                     {"revision": revision})
    finally:
        await engine.dispose()


async def _current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("behind", [DEVELOPMENT_HEAD, SQUASHED])
async def test_a_database_behind_head_is_not_migrated_by_a_command(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], behind: str
) -> None:
    await _stamp(db_url, behind)
    config = tmp_path / "config.yaml"
    config.write_text(PANEL + f"storage: {{url: '{db_url}'}}\n")
    for args in (("incident", "list"), ("report", "--month", MONTH)):
        code, _, err = await asyncio.to_thread(run, capsys, "-c", str(config), *args)
        assert code == 2, err
        assert (f"is at schema revision {behind}, behind this version's "
                f"{head_revision(db_url)}") in err
        assert "sla-monitor -c" in err and "db upgrade" in err
    assert await _current(db_url) == behind  # nothing migrated behind the operator's back
    code, out, _ = await asyncio.to_thread(run, capsys, "-c", str(config), "db", "upgrade")
    assert code == 0
    assert f"upgraded schema from {behind} to revision {head_revision(db_url)}" in out
    assert (await asyncio.to_thread(run, capsys, "-c", str(config), "incident", "list"))[0] == 0


@pytest.mark.slow
async def test_a_database_of_an_earlier_development_revision_is_refused(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = sorted(DEVELOPMENT_REVISIONS)[-1]
    await _stamp(db_url, earlier)
    config = tmp_path / "config.yaml"
    config.write_text(PANEL + f"storage: {{url: '{db_url}'}}\n")
    for err in await refused_by_reads_and_by_db_upgrade(capsys, config):
        assert (f"is at schema revision {earlier} of sla-monitor's development before 0.1.0, "
                "which this version cannot upgrade") in err
        assert "or start a new database" in err
    assert await _current(db_url) == earlier


@pytest.mark.slow
async def test_a_database_from_a_newer_version_is_refused_by_reads_and_by_db_upgrade(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, db_url, "head")
            await connection.execute(text("UPDATE alembic_version SET version_num = '0099_x'"))
    finally:
        await engine.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(PANEL + f"storage: {{url: '{db_url}'}}\n")
    for err in await refused_by_reads_and_by_db_upgrade(capsys, config):
        assert "is at schema revision 0099_x, which this version of sla-monitor does not " \
               "know" in err
