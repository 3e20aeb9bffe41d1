"""Operators' path that does not need SMTP (D-2): with the SMTP server
down, the outage, the SMTP server's state and the "phone the customer now" alert reach a
real HTTP receiver as Alertmanager webhook JSON, with the secret header from the
environment; a receiver that fails is retried, and nothing is posted twice, across a
restart too. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.notify.webhook import WebhookTarget
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp


class Receiver:
    """An HTTP server on 127.0.0.1 that records what is POSTed to it."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.Response(status=self.status)
        self.posts.append((dict(request.headers), json.loads(await request.read())))
        return web.Response(text="ok")

    def alerts(self) -> list[dict[str, Any]]:
        return [alert for _, body in self.posts for alert in body["alerts"]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/alerts", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield found, f"http://127.0.0.1:{port}/alerts"
    await runner.cleanup()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.mark.slow
async def test_with_smtp_down_the_operators_are_paged_through_the_webhook(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got, url = receiver
    monkeypatch.setenv("PAGER_TOKEN", "Bearer s3cret-token")
    webhook = {"url": url, "timeout": 2, "secret_header": "Authorization",
               "secret_env": "PAGER_TOKEN"}
    config = make_config(sink_smtp(sink), webhook=webhook)
    registry = CollectorRegistry()
    notifier = make_notifier(config, registry=registry)
    # What start() does, without the background tasks (the test runs each round itself).
    assert config.webhook is not None
    notifier.webhook.target = WebhookTarget.from_config(config.webhook)  # reads the secret
    await sink.go_down()
    incident_id = await add_incident(sessions, start=T0)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()  # the SMTP server is unreachable: nothing accepted

    got.status = 503  # the receiver fails first: counted, kept, tried again
    assert await notifier.webhook.relay_once() == 0
    assert value(registry, "sla_monitor_webhook_deliveries_total", result="failed") >= 1
    got.status = 200
    assert await notifier.webhook.relay_once() == 2  # the SMTP state and the outage
    headers, first = got.posts[0]
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert first["version"] == "4" and first["status"] == "firing"
    names = [a["labels"]["alertname"] for a in got.alerts()]
    assert names == ["SlaMonitorSmtpUnreachable", "SlaMonitorIncident"]
    outage = got.alerts()[1]
    assert outage["labels"]["incident"] == str(incident_id)
    assert outage["labels"]["severity"] == "critical"
    assert outage["startsAt"] == "2026-05-01T08:00:00Z" and outage["endsAt"].startswith("0001")
    assert "srv-1" in outage["annotations"]["summary"]

    # 90 minutes in, nobody was told: the D-2 "phone the customer now" alert goes out
    # through the webhook although its e-mail cannot.
    clock.advance(90 * 60)
    await notifier.run_once()
    assert (await notifier.check_duties()).queued == 1
    assert await notifier.webhook.relay_once() == 1
    risk = got.alerts()[-1]
    assert risk["labels"]["alertname"] == "SlaMonitorNotificationDutyAtRisk"
    assert "+98 21 5555 0101" in risk["annotations"]["description"]  # the phone number
    assert [m.status for m in await outbox(sessions) if m.kind == "ops_duty_warning"] == [
        "pending"]  # its e-mail still waits for the SMTP server

    # Nothing is posted twice: not by this relay, not after a restart.
    assert await notifier.webhook.relay_once() == 0
    restarted = make_notifier(config, registry=CollectorRegistry())
    restarted.webhook.target = WebhookTarget.from_config(config.webhook)
    assert await restarted.webhook.relay_once() == 0
    assert len(got.alerts()) == 3

    # The SMTP server is back: the unreachable alert resolves, the queue goes out.
    await sink.come_up()
    assert await notifier.worker.probe_server()
    assert await notifier.webhook.relay_once() == 1
    resolved = got.alerts()[-1]
    assert (resolved["labels"]["alertname"], resolved["status"]) == (
        "SlaMonitorSmtpUnreachable", "resolved")
    assert resolved["fingerprint"] == got.alerts()[0]["fingerprint"]
    await notifier.run_once()
    assert len(sink.messages) >= 3


def test_webhook_settings_are_checked() -> None:
    base = "webhook: {url: 'http://127.0.0.1:9/alerts', %s}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(base % "secret_header: Authorization")
    assert [str(i) for i in caught.value.issues] == [
        "line 1: webhook.secret_header: a secret_header needs secret_file or secret_env"]
    with pytest.raises(ConfigError) as caught:
        parse_config(base % "timeout: 10 min")
    assert "webhook.timeout: '10 min' is not valid: expected a duration from 0.1 s to 1 min" in (
        str(caught.value))
    with pytest.raises(ConfigError) as caught:
        parse_config("webhook: {url: 'ftp://x/'}\n")
    assert "webhook.url: 'ftp://x/' is not valid" in str(caught.value)


async def test_a_missing_webhook_secret_stops_the_start(
    sink: SMTPSink, make_notifier: NotifierFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    config = make_config(sink_smtp(sink), webhook={
        "url": "http://127.0.0.1:9/", "secret_header": "Authorization",
        "secret_env": "NO_SUCH_TOKEN"})
    with pytest.raises(ConfigError) as caught:
        await make_notifier(config).start()
    assert "webhook.secret_env: environment variable 'NO_SUCH_TOKEN' is not set" in str(
        caught.value)
    assert dt.UTC  # (the secret itself is never in an error: there is none here)
