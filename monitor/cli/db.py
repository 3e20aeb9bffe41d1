"""``sla-monitor db upgrade``: apply the migrations (idempotent)."""

from __future__ import annotations

import argparse

from monitor.cli.common import add_format, load, print_json, run_async
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


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "db", help="database maintenance", description="Database maintenance."
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
