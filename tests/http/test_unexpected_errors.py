"""An unexpected error in a handler is a 500 without details, one short log line per
request and a counter; its traceback is logged once per distinct error per minute, never
per request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.http import Readiness, make_app
from monitor.http.failures import TRACEBACK_EVERY, UnexpectedErrors

COUNTER = "sla_monitor_http_unexpected_errors_total"


async def ready() -> Readiness:
    return Readiness({"database": True}, targets=0)


async def broken(_request: web.Request) -> web.Response:
    raise KeyError("a secret from the request, never logged")


async def broken_elsewhere(_request: web.Request) -> web.Response:
    raise ValueError("another kind of error")


@pytest.fixture
async def failing() -> AsyncIterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    app = make_app(registry, ready)
    app.router.add_get("/boom", broken)
    app.router.add_get("/api/boom", broken)
    app.router.add_get("/other", broken_elsewhere)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", registry
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_a_failing_handler_hit_200_times_logs_one_traceback(
        failing: tuple[str, CollectorRegistry], caplog: pytest.LogCaptureFixture) -> None:
    url, registry = failing
    caplog.set_level(logging.INFO, logger="monitor.http")
    async with aiohttp.ClientSession() as session:

        async def hit(path: str) -> tuple[int, str]:
            async with session.get(url + path) as response:
                return response.status, await response.text()

        answers = await asyncio.gather(*(hit("/boom") for _ in range(200)))
    assert [status for status, _ in answers] == [500] * 200
    assert {text for _, text in answers} == {"An unexpected error; it is logged.\n"}
    records = [r for r in caplog.records if r.name == "monitor.http.failures"]
    assert len(records) == 200  # one line per request
    assert sum(1 for r in records if r.exc_info) == 1  # one traceback
    assert {(r.getMessage(), r.error, r.path) for r in records} == {  # type: ignore[attr-defined]
        ("request failed", "KeyError", "/boom")}
    assert all("secret" not in r.getMessage() + str(vars(r).get("where")) for r in records)
    assert registry.get_sample_value(COUNTER) == 200


async def test_each_distinct_error_gets_its_traceback(
        failing: tuple[str, CollectorRegistry], caplog: pytest.LogCaptureFixture) -> None:
    url, registry = failing
    caplog.set_level(logging.INFO, logger="monitor.http")
    async with aiohttp.ClientSession() as session:
        for path in ["/boom", "/other", "/boom", "/other", "/api/boom"]:
            async with session.get(url + path) as response:
                assert response.status == 500
                if path.startswith("/api/"):
                    assert (await response.json())["error"] == "internal"
    tracebacks = [r.error for r in caplog.records if r.exc_info]  # type: ignore[attr-defined]
    assert tracebacks == ["KeyError", "ValueError"]  # /api/boom: the same place as /boom
    assert registry.get_sample_value(COUNTER) == 5


def test_the_traceback_comes_back_after_a_minute() -> None:
    now = [1000.0]
    errors = UnexpectedErrors(CollectorRegistry(), clock=lambda: now[0])

    def failure() -> KeyError:
        try:
            raise KeyError("x")
        except KeyError as exc:
            return exc

    assert errors.traceback_due(failure())
    now[0] += TRACEBACK_EVERY - 1
    assert not errors.traceback_due(failure())
    now[0] += 1
    assert errors.traceback_due(failure())


async def test_the_counter_is_exposed_at_zero(failing: tuple[str, CollectorRegistry]) -> None:
    url, _ = failing
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        assert f"{COUNTER} 0.0" in await response.text()
