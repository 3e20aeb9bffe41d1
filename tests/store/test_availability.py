"""The database's reachability, said once per change (monitor.store.db.Availability): a
transaction that never reached the database (nothing to write) is no sign it answers.

Seen with a node cut off from PostgreSQL: "database unavailable" / "database available again
after 0.0 s" six times in eight seconds, because a flush with nothing to write completed
"successfully" without a connection and was taken for the database answering."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.store import Database
from tests.faults.helpers import TcpProxy


@pytest.mark.slow
async def test_an_empty_transaction_during_an_outage_is_no_answer(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    real = make_url(pg_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    db = Database.open(real.set(host="127.0.0.1", port=proxy.port)
                       .render_as_string(hide_password=False))
    caplog.set_level(logging.INFO, logger="monitor.store.db")
    try:
        async with db.transaction() as tx:
            await tx.execute(text("SELECT 1"))
        await proxy.stop()
        await db.engine.dispose()  # no pooled connection survives the cut
        with pytest.raises(Exception) as raised:
            async with db.transaction() as tx:
                await tx.execute(text("SELECT 1"))
        assert db.outage(raised.value)
        async with db.transaction():
            pass  # nothing to write: no connection asked for
        assert db.availability.down
        await proxy.start()
        async with db.transaction() as tx:
            await tx.execute(text("SELECT 1"))
        assert not db.availability.down
    finally:
        await proxy.stop()
        await db.dispose()
    said = [r.getMessage().split(":")[0].split(" after")[0] for r in caplog.records]
    assert said == ["database unavailable", "database available again"]
