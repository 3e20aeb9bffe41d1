"""End to end: the running daemon detects a real outage and mails a real SMTP server
(aiosmtpd on 127.0.0.1): one outage e-mail per affected eligible customer, then recovery."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import Incident, Notification
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.daemon.conftest import FAST, MONITOR, eventually, rows


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
