"""What every command shares: finding the configuration, opening the database, the words
of the command line (fields → flags), and printing results.

Command modules only parse arguments, call the actions (:mod:`monitor.actions`) and
render what they return (:mod:`monitor.present`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from monitor.config import Config, Settings, load_config
from monitor.present import as_json
from monitor.store import Database

DEFAULT_CONFIG_PATHS = (Path("/etc/sla-monitor/config.yaml"),)
CONFIG_ENV = "SLA_MONITOR_CONFIG"

# Fields the command line spells differently from --field-name (positional arguments).
POSITIONAL = {"incident_id": "ID", "window_id": "ID", "customer_id": "ID"}


def flag(field: str) -> str:
    """The command line's word for an action's field: ``end`` → ``--end``,
    ``notified_at`` → ``--notified-at``, ``incident_id`` → ``ID``. The one place."""
    return POSITIONAL.get(field, "--" + field.replace("_", "-"))


def config_path(args: argparse.Namespace) -> Path | None:
    """``-c PATH``, else ``$SLA_MONITOR_CONFIG``, else /etc/sla-monitor/config.yaml if present.

    None means: no file, run on the embedded defaults (no targets, SQLite in the
    state directory, mail to a local Maildir).
    """
    if args.config:
        return Path(args.config)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return next((path for path in DEFAULT_CONFIG_PATHS if path.is_file()), None)


def load(args: argparse.Namespace) -> Config:
    path = config_path(args)
    return load_config(path) if path is not None else Config()


def settings(args: argparse.Namespace) -> Settings:
    """The configuration, turned once into what the actions read."""
    return Settings.from_config(load(args))


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database on a schema at head (the upgrade is a no-op when it already
    is), disposed of on exit."""
    db = Database.open(settings.storage.url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


def print_json(value: object) -> None:
    print(json.dumps(as_json(value), indent=2, ensure_ascii=False))


def actor() -> str:
    """Who is acting, for the audit log: the sudo user, else the login user."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli"


def add_time_help(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Times are ISO 8601 (2026-03-21T14:30); without an offset they are in the configured "
        "time zone (provider.timezone)."
    )


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    kinds = choices or ("table", "json")
    parser.add_argument("--format", choices=kinds, default=kinds[0], help=f"default: {kinds[0]}")


def run_async(
    coroutine: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """A command handler that runs an async command in a fresh event loop."""
    return lambda args: asyncio.run(coroutine(args))
