"""End to end: the running daemon detects a real outage and mails a real SMTP server
(aiosmtpd on 127.0.0.1): one outage e-mail per affected eligible customer, then recovery."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import Incident, Notification, OutboxMessage, ProbeRun
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, DaemonProcess, eventually, rows


def config_text(host: TargetServer, sink: SMTPSink, db_url: str) -> str:
    return f"""
{MONITOR}
provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
servers:
  - id: srv-1
    name: Tehran host 1
    probe: {{type: tcp, host: 127.0.0.1, port: {host.port}, {FAST}}}
services:
  - id: acme-survey
    kind: project
    server: srv-1
    probe: {{type: http, url: "{host.url("/")}", {FAST}}}
  - id: dorna-census
    kind: project
    server: srv-1
    probe: {{type: http, url: "{host.url("/")}", {FAST}}}
customers:
  - id: acme
    name: ACME Research
    contacts:
      technical: {{email: tech@acme.example}}
      executive: {{email: ceo@acme.example}}
    fee: {{amount: 1000, currency: EUR}}
    services: [acme-survey]
    sites: [{{domain: acme.example}}]
  - id: dorna
    name: Dorna (clone)
    contacts: {{technical: {{email: ops@dorna.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    services: [dorna-census]
    clone: true
    sites: [{{domain: dorna.example}}]
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


@pytest.mark.slow
async def test_daemon_outage_mails_each_customer_once_and_then_recovery(sqlite_url: str) -> None:
    async with TargetServer() as host, SMTPSink() as sink:
        daemon = Daemon(
            parse_config(config_text(host, sink, sqlite_url)),
            notifier_options={"poll_interval": 0.1},
        )
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            await asyncio.sleep(1.0)
            await host.set_down()  # the whole host: server and both projects fail
            incident = (await eventually(lambda: rows(engine, Incident)))[0]
            assert incident.service_id == "srv-1"

            async def mail_to(address: str) -> list[object]:
                return [m for m in sink.messages if address in m.rcpt_tos]

            await eventually(lambda: mail_to("tech@acme.example"))
            await eventually(lambda: mail_to("noc@rabit.example"))
            await asyncio.sleep(1.5)  # more failures must not produce more mail
            outage = await mail_to("tech@acme.example")
            assert len(outage) == 1
            assert sorted(outage[0].rcpt_tos) == ["ceo@acme.example", "tech@acme.example"]
            parsed = outage[0].parsed()
            assert parsed["Message-ID"] and parsed["Date"] and parsed["List-Id"]
            assert "srv-1" in parsed["Subject"]
            assert await mail_to("ops@dorna.example") == []  # a clone gets none (R-EX6)
            # The operators read why the probe failed and what it probed: the failure that
            # opened the incident is stored before their e-mail is written.
            [ops] = await mail_to("noc@rabit.example")
            ops_text = ops.parsed().get_body(("plain",)).get_content()
            assert "Probed:" in ops_text and f"tcp://127.0.0.1:{host.port}" in ops_text
            assert re.search(r"Failure: +\w", ops_text) and "not recorded" not in ops_text
            # R-N1 evidence: the SMTP acceptance is the notification time for acme.
            async with AsyncSession(engine) as session:
                notes = (await session.execute(Notification.__table__.select())).all()
            assert [(n.incident_id, n.customer_id, n.channel) for n in notes] == [
                (incident.id, "acme", "email")
            ]

            await host.set_up()
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))

            async def recovery() -> list[object]:
                return [
                    m
                    for m in await mail_to("tech@acme.example")
                    if "Restored" in m.parsed()["Subject"]
                ]

            restored = await eventually(recovery)
            assert len(restored) == 1 and "available again after" in restored[0].parsed()["Subject"]
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_daemon_killed_during_retries_delivers_once_after_restart(
    tmp_path: Path, sqlite_url: str, daemon_process: Callable[[Path], DaemonProcess]
) -> None:
    # D-2: SMTP is down while the outage mail is retried; the daemon is killed with -9;
    # SMTP comes back and the daemon is restarted: the mail is delivered exactly once.
    async with TargetServer() as host, SMTPSink() as sink:
        config = tmp_path / "config.yaml"
        config.write_text(config_text(host, sink, sqlite_url))
        engine = create_engine(sqlite_url)
        try:
            await sink.go_down()
            first = daemon_process(config)
            first.start()
            await eventually(lambda: rows(engine, ProbeRun), within=30)  # probing
            await host.set_down()
            await eventually(
                lambda: rows(engine, OutboxMessage, OutboxMessage.kind == "outage"), within=30
            )

            async def attempted() -> bool:
                found = await rows(engine, OutboxMessage, OutboxMessage.kind == "outage")
                return bool(found) and found[0].attempts >= 1

            await eventually(attempted, within=30)
            first.signal(signal.SIGKILL)
            first.wait()
            assert sink.messages == []
            await sink.come_up()
            second = daemon_process(config)
            second.start()

            async def delivered() -> list[object]:
                return [m for m in sink.messages if "tech@acme.example" in m.rcpt_tos]

            await eventually(delivered, within=60)
            await asyncio.sleep(2.0)  # no second copy follows
            outage = [m for m in await delivered() if "Outage" in m.parsed()["Subject"]]
            assert len(outage) == 1
            sent = await rows(engine, OutboxMessage, OutboxMessage.kind == "outage")
            assert [m.status for m in sent] == ["sent"] and sent[0].accepted_at is not None
            second.signal(signal.SIGTERM)
            assert second.wait() == 0
        finally:
            await engine.dispose()
