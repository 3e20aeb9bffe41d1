"""The operators' channels besides e-mail (``operators.notify``, through Apprise): with the
SMTP server down, the outage and the "phone the customer now" alert reach two real local
receivers (Apprise's ``json://`` and ``form://`` targets on 127.0.0.1), each once; a
receiver that fails is tried again; nothing goes twice, not after a restart, not with two
processes at once; the URLs' tokens reach no log and no row. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.config.schema import Operators
from monitor.errors import ConfigError
from monitor.notify.channels import channels_of
from monitor.store.models import OperatorDelivery
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, sink_smtp

TOKEN = "s3cret-channel-token"


class Receiver:
    """An HTTP server on 127.0.0.1 recording what Apprise posts to it (JSON or a form)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.Response(status=self.status)
        if request.content_type == "application/json":
            self.posts.append(json.loads(await request.read()))
        else:
            self.posts.append(dict(await request.post()))
        return web.Response(text="ok")

    def titles(self) -> list[str]:
        return [str(post["title"]) for post in self.posts]


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver]]:
    found = (Receiver(), Receiver())
    runners = []
    for receiver in found:
        app = web.Application()
        app.router.add_post("/{tail:.*}", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        receiver.port = runner.addresses[0][1]
        runners.append(runner)
    yield found
    for runner in runners:
        await runner.cleanup()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_with_smtp_down_the_operators_hear_it_on_every_channel_once(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, clock: FakeClock,
    make_notifier: NotifierFactory, receivers: tuple[Receiver, Receiver], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    as_json, as_form = receivers
    channels_file = tmp_path / "operator-channels"  # a systemd credential, say
    channels_file.write_text(f"# the on-call form\nform://127.0.0.1:{as_form.port}/{TOKEN}\n")
    operators = {"notify": [f"json://127.0.0.1:{as_json.port}/hook?token={TOKEN}"],
                 "notify_file": str(channels_file), "timeout": 5}
    config = make_config(sink_smtp(sink), operators=operators)
    registry = CollectorRegistry()
    notifier = make_notifier(config, registry=registry)
    # What start() does, without the background tasks (the test runs each round itself).
    notifier.channels.use(channels_of(config.operators), config.operators.timeout)
    await sink.go_down()
    incident_id = await add_incident(sessions, start=T0)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()  # the SMTP server is unreachable: nothing accepted

    as_form.status = 503  # one channel fails: counted, kept, tried again; the other takes it
    with caplog.at_level(logging.DEBUG):
        assert await notifier.channels.relay_once() == 1
    assert value(registry, "sla_monitor_operator_channel_deliveries_total",
                 service="form", result="failed") == 1
    assert len(as_json.posts) == 1 and as_form.posts == []
    outage = as_json.posts[0]
    assert "srv-1" in outage["title"] and outage["type"] == "failure"
    as_form.status = 200
    assert await notifier.channels.relay_once() == 1  # the form's, now
    assert as_form.titles() == as_json.titles()

    # 90 minutes in, nobody was told: "phone the customer now" goes to both channels.
    clock.advance(90 * 60)
    await notifier.run_once()
    assert (await notifier.check_duties()).queued == 1
    assert await notifier.channels.relay_once() == 2
    assert "+98 21 5555 0101" in as_json.posts[-1]["message"]  # the phone number
    assert "+98 21 5555 0101" in as_form.posts[-1]["message"]

    # Nothing twice: not by this relay, not after a restart.
    assert await notifier.channels.relay_once() == 0
    restarted = make_notifier(config, registry=CollectorRegistry())
    restarted.channels.use(channels_of(config.operators), config.operators.timeout)
    assert await restarted.channels.relay_once() == 0
    assert len(as_json.posts) == len(as_form.posts) == 2
    assert value(registry, "sla_monitor_operator_channel_deliveries_total",
                 service="json", result="ok") == 2

    # The tokens are in no log line and no row: a channel is a digest of its URL.
    # (Only this test's own receivers log the path they were asked for.)
    assert not [r for r in caplog.records
                if TOKEN in r.getMessage() + repr(r.__dict__) and r.name != "aiohttp.access"]
    assert any("operator channel did not take an alert" in r.getMessage()
               for r in caplog.records)
    async with sessions() as session:
        rows = (await session.execute(OperatorDelivery.__table__.select())).all()
    assert len(rows) == 4 and all(TOKEN not in repr(tuple(row)) for row in rows)


async def test_two_processes_at_once_deliver_each_alert_once(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink,
    make_notifier: NotifierFactory, receivers: tuple[Receiver, Receiver],
) -> None:
    as_json, _ = receivers
    config = make_config(sink_smtp(sink), operators={
        "notify": [f"json://127.0.0.1:{as_json.port}/hook"]})
    first, second = (make_notifier(config) for _ in range(2))
    for notifier in (first, second):
        notifier.channels.use(channels_of(config.operators), 5.0)
    await sink.go_down()
    for hour in range(3):  # three outages of the server, one after the other
        start = T0.replace(hour=8 + hour)
        incident_id = await add_incident(sessions, start=start,
                                         end=start.replace(minute=30))
        await first.on_incident_opened(incident_id)
    taken = await asyncio.gather(first.channels.relay_once(), second.channels.relay_once())
    assert sum(taken) == 3
    assert sorted(as_json.titles()) == sorted(set(as_json.titles())) and len(as_json.posts) == 3


@pytest.mark.parametrize(("operators", "expected"), [
    ({"notify": ["nope://example"]}, "operators.notify[0]: nope://… is not valid: no "
     "Apprise service takes this URL"),
    ({"notify": ["json://127.0.0.1:9/x", f"slack://{TOKEN}"]}, "operators.notify[1]: "
     "slack://… is not valid: no Apprise service takes this URL"),
])
def test_a_url_no_apprise_service_takes_stops_the_start(operators: dict[str, Any],
                                                       expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        channels_of(Operators.model_validate(operators))
    assert expected in str(caught.value) and TOKEN not in str(caught.value)


def test_a_channel_file_that_cannot_be_read_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        channels_of(Operators(notify_file=str(tmp_path / "missing")))
    assert "operators.notify_file" in str(caught.value)
    (tmp_path / "bad").write_text(f"json://127.0.0.1:9/ok\n\nnope://{TOKEN}\n")
    with pytest.raises(ConfigError) as caught:
        channels_of(Operators(notify_file=str(tmp_path / "bad")))
    assert "operators.notify_file line 3: nope://… is not valid" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_channel_is_an_url_with_a_scheme() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("operators: {notify: ['hooks.slack.com/x']}")
    assert ("operators.notify[0]: 'hooks.slack.com/x' is not valid: expected an Apprise URL"
            in str(caught.value))
