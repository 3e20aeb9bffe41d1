"""What every command shares: finding the configuration and opening the database."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import Config, load_config
from monitor.store import create_engine, resolve_url

DEFAULT_CONFIG_PATHS = (Path("/etc/sla-monitor/config.yaml"),)
CONFIG_ENV = "SLA_MONITOR_CONFIG"


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


def open_engine(config: Config) -> AsyncEngine:
    return create_engine(resolve_url(config.storage.url))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table for operators' terminals."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def actor() -> str:
    """Who is acting, for the audit log: the sudo user, else the login user."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli"


@asynccontextmanager
async def database(config: Config) -> AsyncIterator[AsyncEngine]:
    """The configured database on a schema at head (the upgrade is a no-op when it already
    is), disposed of on exit."""
    from monitor.store.migrate import upgrade

    engine = open_engine(config)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


def add_time_help(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Times are ISO 8601 (2026-03-21T14:30); without an offset they are in the configured "
        "time zone (provider.timezone)."
    )


def run_async(
    coroutine: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """A command handler that runs an async command in a fresh event loop."""
    return lambda args: asyncio.run(coroutine(args))
