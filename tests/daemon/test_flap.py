"""A flap under the real daemon (R-M1's decision: a failure within five minutes of a
recovery reopens the incident): the customer told "Restored" is told again when the
reopened incident ends, once it stays up for the flap window (tests/notify/
test_recovery_after_flap.py drives the e-mails' times; here the daemon's incident book
calls them). Real local targets and a real SMTP sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.sla import FLAP_WINDOW
from monitor.store import create_engine
from monitor.store.models import AuditEvent, Incident, OutboxMessage
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually, rows

from .test_reload import config_text, started

pytestmark = pytest.mark.slow


async def test_a_reopened_incident_tells_its_end_again_after_the_flap_window(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with TargetServer() as panel, TargetServer() as api, SMTPSink() as sink:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(panel.url("/"), api.url("/"), sink, sqlite_url))
        engine = create_engine(sqlite_url)
        try:
            async with started(path):
                panel.set_status(503)
                (opened,) = await eventually(
                    lambda: rows(engine, Incident, Incident.end.is_(None)), within=15)
                panel.set_status(200)
                await eventually(lambda: rows(engine, OutboxMessage,
                                              OutboxMessage.kind == "recovery",
                                              OutboxMessage.status == "sent"), within=15)
                panel.set_status(503)  # seconds later: within the flap window
                await eventually(lambda: rows(engine, Incident, Incident.end.is_(None)),
                                 within=15)
                panel.set_status(200)
                again = await eventually(lambda: rows(
                    engine, OutboxMessage, OutboxMessage.dedupe_key.contains(":again-")),
                    within=15)
                (ended,) = await rows(engine, Incident)
        finally:
            await engine.dispose()
    assert ended.id == opened.id and ended.end is not None  # one incident, reopened
    assert [(m.dedupe_key, m.status) for m in again] == [
        (f"recovery:{opened.id}:acme:again-1", "pending")]
    # Due once the service has stayed up for the flap window (not sent within the test).
    assert again[0].next_attempt_at == ended.end + FLAP_WINDOW
    assert "Restored again" in again[0].subject
    reopened = [a.object_id for a in await _audit(sqlite_url) if a.action == "incident.reopen"]
    assert reopened == [str(opened.id)]
    assert not [m for m in sink.messages if "Restored again" in m.parsed()["Subject"]]


async def _audit(url: str) -> list[AuditEvent]:
    engine = create_engine(url)
    try:
        return await rows(engine, AuditEvent)
    finally:
        await engine.dispose()

