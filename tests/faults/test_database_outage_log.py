"""A database outage under the running daemon is said in one log line when the database
stops answering (with the error's class) and one when it answers again (with how long it
did not): no traceback per loop round. Before, each node logged a full traceback about
twice a second (the heartbeat every 0.5 s, the outbox senders, the flush...).

PostgreSQL is reached through a TCP relay that the test cuts for 10 s (the server itself
keeps running, as in a network cut; a stopped server looks the same to the client)."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from sqlalchemy.engine import make_url

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import Database, create_engine
from monitor.store.models import DaemonSession
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually, rows

from .helpers import TcpProxy, free_port, scenario

pytestmark = pytest.mark.slow


@pytest.mark.slow
async def test_a_database_outage_is_one_line_down_and_one_line_back(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    real = make_url(pg_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = create_engine(pg_url)  # the test reads past the relay
    try:
        async with TargetServer() as target, SMTPSink() as sink:
            daemon = Daemon(parse_config(scenario(target, sink, url,
                                                  f"storage: {{url: '{url}'}}")))
            await daemon.start()
            try:
                await eventually(lambda: rows(engine, DaemonSession))
                caplog.clear()
                caplog.set_level(logging.INFO, logger="monitor")
                await proxy.stop()
                await asyncio.sleep(10.0)
                during = list(caplog.records)
                await proxy.start()
                beat = max(d.last_beat_at for d in await rows(engine, DaemonSession))

                async def back() -> list[logging.LogRecord]:
                    return [r for r in caplog.records
                            if r.getMessage().startswith("database available again")]

                again = await eventually(back, within=20)
                assert await eventually(lambda: _beat_since(engine, beat), within=10)
            finally:
                await daemon.stop()
        down = [r for r in caplog.records if r.getMessage().startswith("database unavailable")]
        assert len(down) == 1, [r.getMessage() for r in down]
        assert down[0].levelno == logging.ERROR
        assert down[0].error_class in ("ConnectionRefusedError", "InterfaceError",  # type: ignore[attr-defined]
                                       "OperationalError", "ConnectionResetError")
        assert down[0].error_class in down[0].getMessage()  # type: ignore[attr-defined]
        assert len(again) == 1
        took = float(re.findall(r"after ([0-9.]+) s", again[0].getMessage())[0])
        assert 9.0 <= took <= 30.0 and again[0].down_seconds == took  # type: ignore[attr-defined]
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # no traceback
        # Nothing else per round: the loops were quiet while the database was away.
        errors = [r.getMessage() for r in during if r.levelno >= logging.ERROR]
        assert errors == [down[0].getMessage()], errors
    finally:
        await engine.dispose()
        await proxy.stop()


async def _beat_since(engine, before) -> bool:  # type: ignore[no-untyped-def]
    return max(d.last_beat_at for d in await rows(engine, DaemonSession)) > before


async def test_a_closed_port_is_said_once_then_reminded_at_most_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database(create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"))
    db.availability.remind_every = 0.5
    caplog.set_level(logging.INFO, logger="monitor")
    try:
        for _ in range(8):  # 8 rounds over 0.8 s, as a loop retrying every 0.1 s
            with pytest.raises(OSError) as failed:
                async with db.reading():
                    pass
            assert db.outage(failed.value)  # the caller logs nothing more
            await asyncio.sleep(0.1)
        assert not db.outage(OSError("an SMTP server's, not the database's"))
        assert not db.outage(ValueError("a fault of the work"))
        said = [r.getMessage().split(":")[0] for r in caplog.records]
        assert said == ["database unavailable", "database still unavailable"], said
        assert caplog.records[0].error_class == "ConnectionRefusedError"  # type: ignore[attr-defined]
    finally:
        await db.dispose()
