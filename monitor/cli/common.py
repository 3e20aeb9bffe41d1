"""What every command shares: finding the configuration and opening the database."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

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
