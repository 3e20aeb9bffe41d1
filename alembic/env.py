"""Alembic environment for sla-monitor.

Two ways in:

* the daemon or ``sla-monitor db upgrade`` hands in a connection of its own
  event loop through ``config.attributes["connection"]`` (see
  :mod:`monitor.store.migrate`);
* the ``alembic`` command (``alembic upgrade head``, ``alembic check``) opens
  an async engine itself, on ``sqlalchemy.url`` or ``$SLA_MONITOR_DB_URL``.

``render_as_batch`` lets ALTER TABLE work on SQLite.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from sqlalchemy.engine import Connection

from alembic import context
from monitor.store.db import create_engine, resolve_url
from monitor.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import the models (they change later): UTCDateTime is a
    # timezone-aware DateTime in the database.
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = os.environ.get("SLA_MONITOR_DB_URL") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(resolve_url(url or None))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    url = os.environ.get("SLA_MONITOR_DB_URL") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=resolve_url(url or None),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (handed_in := config.attributes.get("connection")) is not None:
    _configure(handed_in)
else:
    asyncio.run(_run_async())
