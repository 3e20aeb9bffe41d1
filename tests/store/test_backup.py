"""``sla-monitor db backup FILE``: a copy of the SQLite database made while it is written,
as one moment of it, checked, owner-only, whole or absent; refusals that change nothing.
A restore is the copy put back: its evidence chain checks whole (``evidence check``)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from monitor import actions
from monitor.actions.evidence import check_chain
from monitor.cli import main
from monitor.store import Database
from monitor.store.models import Incident
from tests.actions.contract import NOW, SETTINGS, at
from tests.support import rows

CONFIG = "storage: {{url: '{url}'}}\n"


async def incidents(db: Database, count: int, first_day: int = 1) -> None:
    for day in range(first_day, first_day + count):
        await actions.add_incident(db, SETTINGS, service="panel", start=at(day, 8),
                                   end=at(day, 9), actor="ops", now=NOW)


def cli(config: Path, *argv: str) -> int:
    return main(["-c", str(config), *argv])


def names(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir()]


def damage(database: Path, table: str) -> None:
    """The root page of ``table``: its header overwritten."""
    with sqlite3.connect(database) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                                  (table,)).fetchone()[0]
    with database.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * 64)


async def test_a_copy_made_while_a_writer_holds_its_lock_is_one_moment_of_it(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The daemon writes while the operator backs up: the copy does not wait for its write
    and holds none of it (not committed when the copy was read), and is whole: SQLite's
    check and the evidence chain pass on it, and it is what was said (schema, chain head)."""
    db = Database.open(sqlite_url)
    await db.upgrade()
    await incidents(db, 3)
    source = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    writer = sqlite3.connect(source, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the daemon in the middle of a write
    writer.execute("DELETE FROM incidents")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=sqlite_url))
    copy = tmp_path / "backups" / "monday.db"
    copy.parent.mkdir()
    try:
        code = await asyncio.to_thread(cli, config, "db", "backup", str(copy), "--format", "json")
    finally:
        writer.execute("COMMIT")
        writer.close()
    out, err = capsys.readouterr()
    assert code == 0, err
    said = json.loads(out)
    assert said["target"] == str(copy) and said["bytes"] == copy.stat().st_size
    # Owner-only (the customers' data and the evidence); no partial file, no journal beside.
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert await asyncio.to_thread(names, copy.parent) == ["monday.db"]
    restored = Database.open(f"sqlite+aiosqlite:///{copy}")
    try:
        assert len(await rows(restored, Incident)) == 3  # the uncommitted delete is not in it
        checked = await check_chain(restored)
        assert checked.ok and checked.entries > 0, checked.broken
        assert (checked.head_seq, checked.head_hash) == (said["chain_seq"], said["chain_hash"])
    finally:
        await restored.dispose()
    assert await rows(db, Incident) == []  # the writer's delete, committed after the copy
    await db.dispose()
    # The text form says the same, in one line.
    second = tmp_path / "backups" / "tuesday.db"
    assert await asyncio.to_thread(cli, config, "db", "backup", str(second)) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"backed up {source} to {second}: ") and "SQLite's check passed" in line


async def test_refusals_change_nothing(tmp_path: Path, sqlite_url: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = Database.open(sqlite_url)
    await db.upgrade()
    await incidents(db, 1)
    await db.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=sqlite_url))
    earlier = tmp_path / "earlier.db"
    earlier.write_bytes(b"an earlier backup")
    source = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    before = await asyncio.to_thread(source.read_bytes)
    for typed, allowed in (
            (str(earlier), "a file that does not exist yet (a backup never replaces a file), "
                           "or a directory"),
            (str(source), "a file that does not exist yet"),
            (str(tmp_path / "absent" / "x.db"),
             f"a file in a directory that exists ({tmp_path / 'absent'} does not)"),
            ("", "the file to write the copy to, or a directory to write it into")):
        assert await asyncio.to_thread(cli, config, "db", "backup", typed) == 2, typed
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("sla-monitor: error: PATH: '") and \
            "is not valid; allowed: " in err and allowed in err, err
        assert "Traceback" not in err
    for argv, flag, allowed in (
            ([str(tmp_path / "new.db"), "--keep", "3"], "--keep",
             "a directory as PATH (the backups kept are those named by their time in it)"),
            ([str(tmp_path), "--keep", "0"], "--keep", "1 or more")):
        assert await asyncio.to_thread(cli, config, "db", "backup", *argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"sla-monitor: error: {flag}: ") and allowed in err, err
    assert await asyncio.to_thread(earlier.read_bytes) == b"an earlier backup"
    assert await asyncio.to_thread(source.read_bytes) == before
    assert sorted(await asyncio.to_thread(names, tmp_path)) == sorted(
        ["config.yaml", "earlier.db", source.name])


async def test_a_directory_gets_backups_named_by_their_time_and_keeps_the_newest(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """What a timer runs: ``db backup DIR --keep N`` names each copy by its UTC time and
    removes all but the newest N so named, once the new one is whole; no other file."""
    db = Database.open(sqlite_url)
    await db.upgrade()
    await db.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=sqlite_url))
    backups = tmp_path / "backups"
    backups.mkdir()
    older = [f"sla-monitor-2026120{day}T000000Z.db" for day in (1, 2, 3)]
    others = ["notes.txt", "sla-monitor.db", "sla-monitor-20261201T000000Z.db.partial"]
    for name in [*older, *others]:
        (backups / name).write_bytes(b"x")
    assert await asyncio.to_thread(cli, config, "db", "backup", str(backups), "--keep", "2",
                                   "--format", "json") == 0
    said = json.loads(capsys.readouterr().out)
    made = Path(said["target"])
    assert made.parent == backups and made.name > older[-1], made  # now, in UTC
    assert made.name.startswith("sla-monitor-") and made.name.endswith("Z.db")
    assert said["removed"] == [str(backups / older[0]), str(backups / older[1])]
    assert sorted(await asyncio.to_thread(names, backups)) == sorted(
        [made.name, older[2], *others])


async def test_a_copy_that_fails_its_check_leaves_no_file(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A database with a damaged page: the copy is made, fails SQLite's check, and goes.
    db = Database.open(sqlite_url)
    await db.upgrade()
    await incidents(db, 20)
    await db.dispose()
    source = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    await asyncio.to_thread(damage, source, "incidents")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=sqlite_url))
    copy = tmp_path / "copy.db"
    assert await asyncio.to_thread(cli, config, "db", "backup", str(copy)) == 1
    err = capsys.readouterr().err
    assert f"the copy of {source} fails SQLite's check" in err and "Traceback" not in err, err
    assert not copy.exists() and not (tmp_path / "copy.db.partial").exists()


@pytest.mark.postgres
async def test_postgresql_is_backed_up_with_its_own_tools(
        tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=pg_url))
    assert await asyncio.to_thread(cli, config, "db", "upgrade") == 0
    capsys.readouterr()
    assert await asyncio.to_thread(cli, config, "db", "backup", str(tmp_path / "x.db")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sla-monitor: error: db backup copies an SQLite database") and \
        "pg_dump" in err and "Traceback" not in err, err
    assert "@" not in err.split("configured one is ", 1)[1].split(":", 1)[0] or \
        "***" in err  # no password
    assert not (tmp_path / "x.db").exists()
