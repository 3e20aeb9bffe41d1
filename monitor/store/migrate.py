"""Apply the Alembic migrations, from the CLI or on a connection the daemon hands in."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alembic import command


def script_location() -> str:
    """The migration scripts: packaged as ``monitor/migrations`` in a wheel, ``alembic/`` in a checkout."""
    packaged = resources.files("monitor") / "migrations"
    if packaged.is_dir() and (packaged / "env.py").is_file():
        return str(packaged)
    source = Path(__file__).resolve().parents[2] / "alembic"
    return str(source)


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", script_location())
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _upgrade(sync_connection: Any, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


def _current(sync_connection: Any) -> str | None:
    return MigrationContext.configure(sync_connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Bring the schema to head; return (revision before, revision after). Idempotent."""
    url = engine.url.render_as_string(hide_password=False)
    async with engine.begin() as connection:
        before = await connection.run_sync(_current)
        await connection.run_sync(_upgrade, url)
        after = await connection.run_sync(_current)
    return before, after


async def current_revision(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(_current)
