"""``sla-monitor db upgrade``: apply the migrations (idempotent); ``db stats``: what the
database holds and how fast the probe history grows (R-M7); ``db backup``: a copy of an
SQLite database made while the daemon runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.actions.storage import backup_database, database_stats
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    add_format,
    command,
    load,
    print_json,
    run_async,
    whole_number,
)
from monitor.present import format_bytes, format_duration, format_time, text_table
from monitor.store import Database
from monitor.store.migrate import head_revision


async def _upgrade(args: argparse.Namespace) -> int:
    db = Database.open(load(args).storage.url)
    try:
        before, after = await db.upgrade()
    finally:
        await db.dispose()
    where = db.where()
    if args.format == "json":
        print_json(
            {
                "database": where,
                "before": before,
                "after": after,
                "head": head_revision(db.engine.url.render_as_string(hide_password=False)),
                "changed": before != after,
            }
        )
    elif before == after:
        print(f"{where}: schema already at revision {after}; nothing to do")
    else:
        print(f"{where}: upgraded schema from {before or 'empty'} to revision {after}")
    return 0


@command
async def _stats(run: Run) -> int:
    settings = run.settings
    found = await run.act(database_stats, settings, now=run.now)
    if run.args.format == "json":
        print_json(found)
        return 0

    def number(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    rows = [
        [
            t.table,
            f"{t.rows:,}",
            format_bytes(t.bytes),
            number(t.bytes_per_row, 0),
            number(t.rows_per_target_day, 2),
            format_bytes(t.bytes_per_target_day),
        ]
        for t in found.tables
    ]
    rows.append(
        [
            "total",
            f"{found.rows:,}",
            format_bytes(found.bytes),
            "",
            number(found.rows_per_target_day, 2),
            format_bytes(found.bytes_per_target_day),
        ]
    )
    print(text_table(
        ["table", "rows", "bytes", "bytes/row", "rows/target-day", "bytes/target-day"], rows
    ))
    zone, calendar = settings.provider.timezone, settings.provider.calendar
    if found.window_start is None:
        print(f"\n{found.database}: no probe history yet ({found.targets} targets configured).")
    else:
        print(
            f"\n{found.database}: growth of the probe history over "
            f"{format_time(found.window_start, zone, calendar)} to "
            f"{format_time(found.window_end, zone, calendar)}, "
            f"per target ({found.targets} configured) and day (R-M7)."
        )
    return 0


@command
async def _backup(run: Run) -> int:
    made = await run.act(backup_database, backup_path=run.args.path, keep=run.args.keep,
                         now=run.now)
    if run.args.format == "json":
        print_json(made)
        return 0
    head = ("an empty evidence chain" if made.chain_seq is None else
            f"the evidence chain through entry {made.chain_seq} ({made.chain_hash})")
    print(f"backed up {made.source} to {made.target}: {format_bytes(made.bytes)}, schema "
          f"{made.revision or 'empty'}, {head}; SQLite's check passed; "
          f"in {format_duration(made.seconds)}")
    if made.removed:
        print(f"removed {len(made.removed)} older backup(s), keeping the newest "
              f"{run.args.keep}: {', '.join(Path(path).name for path in made.removed)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "db", help=summary("db"), description="Database maintenance."
    )
    sub = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = sub.add_parser(
        "upgrade",
        help="create or upgrade the schema (safe to repeat)",
        description="Apply every pending Alembic migration to the configured "
        "database (storage.url, default SQLite in $STATE_DIRECTORY or the "
        "current directory). Running it again changes nothing.",
    )
    add_format(up, "text", "json")
    up.set_defaults(handler=run_async(_upgrade))
    stats = sub.add_parser(
        "stats",
        help="rows and bytes per table, growth per target-day",
        description="What the configured database holds: rows and bytes per table (with its "
        "indexes), and for the probe history (runs, failures, latency roll-ups) the rows and "
        "bytes added per target and day over the last day, or since the history began if it "
        "is younger (R-M7). Read-only.",
    )
    add_format(stats)
    stats.set_defaults(handler=_stats)
    backup = sub.add_parser(
        "backup",
        help="copy the SQLite database while the daemon runs",
        description="Copy the configured SQLite database to PATH as one moment of it, while "
        "the daemon runs (SQLite's online backup: its writes go on and are not in the copy). "
        "The copy is checked (PRAGMA quick_check), written beside its name (.partial), "
        "synced and then renamed: a copy interrupted leaves no file under its name. It says "
        "the copy's schema revision and the evidence chain's last entry, which a restored "
        "database is checked against (sla-monitor evidence check). PostgreSQL is backed up "
        "with pg_dump.",
    )
    backup.add_argument(
        "path", metavar="PATH",
        help="the file to write (it must not exist), or a directory to write "
        "sla-monitor-<UTC time>.db into (what a timer runs)")
    backup.add_argument(
        "--keep", type=whole_number, metavar="N",
        help="with a directory: keep the newest N backups named by their time in it, this one "
        "among them, and remove the older ones")
    add_format(backup, "text", "json")
    backup.set_defaults(handler=_backup)
