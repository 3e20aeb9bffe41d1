"""The server's own limits, with raw sockets: a connection that sends nothing, half a
header or a header a byte at a time is closed within ``http.header_timeout`` (plus
slack); connections beyond ``http.max_connections`` are answered 503 and closed, while
those open go on and a new client is served once one of them closes; malformed requests
are answered 400 and said in one line, without a traceback or their bytes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.config.schema import HTTPServer
from monitor.http import Readiness, make_app
from monitor.http.serving import CappedListener, runner_options

SLACK = 1.0  # seconds past the timeout (a loaded CI machine)
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


async def ready() -> Readiness:
    return Readiness({"database": True}, targets=0)


@asynccontextmanager
async def server(header_timeout: float, max_connections: int
                 ) -> AsyncIterator[tuple[int, CollectorRegistry]]:
    http = HTTPServer(header_timeout=header_timeout, max_connections=max_connections)
    registry = CollectorRegistry()
    runner = web.AppRunner(make_app(registry, ready), access_log=None,
                           **runner_options(http, registry))
    await runner.setup()
    listener = CappedListener(max_connections=http.max_connections, registry=registry)
    port = await listener.start(runner, "127.0.0.1", 0)
    try:
        yield port, registry
    finally:
        listener.close()
        await runner.cleanup()
        await listener.wait_closed()


async def closed_after(port: int, send: Callable[[asyncio.StreamWriter], asyncio.Future[None]]
                       | None = None, within: float = 10.0) -> tuple[float, bytes]:
    """Seconds until the server closes a connection fed by ``send``, and what it sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    feeding = asyncio.ensure_future(send(writer)) if send is not None else None
    try:
        data = await asyncio.wait_for(reader.read(), timeout=within)
    except ConnectionResetError:  # closed with bytes it had not read: a reset
        data = b""
    finally:
        if feeding is not None:
            feeding.cancel()
        writer.close()
    return time.monotonic() - started, data


@pytest.mark.slow
async def test_an_idle_connection_is_closed_after_the_header_timeout() -> None:
    async with server(header_timeout=0.5, max_connections=10) as (port, _):
        took, data = await closed_after(port)
        assert 0.4 <= took <= 0.5 + SLACK
        assert data == b""


@pytest.mark.slow
async def test_half_a_header_is_closed_after_the_header_timeout() -> None:
    async def half(writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

    async def a_byte_at_a_time(writer: asyncio.StreamWriter) -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    async with server(header_timeout=0.5, max_connections=10) as (port, _):
        for feed in (half, a_byte_at_a_time):
            took, data = await closed_after(port, feed)
            assert took <= 0.5 + SLACK, feed.__name__
            assert data == b"", feed.__name__


@pytest.mark.slow
async def test_a_complete_request_is_answered_and_kept_alive_until_the_timeout() -> None:
    async with server(header_timeout=0.5, max_connections=10) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEALTHZ)
        answer = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), timeout=5)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # then idle: closed
        assert time.monotonic() - started <= 0.5 + SLACK
        writer.close()


async def test_connections_over_the_cap_are_refused_until_one_closes() -> None:
    async with server(header_timeout=30.0, max_connections=5) as (port, registry):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        await asyncio.sleep(0.1)
        # The sixth: 503 and closed at once (or reset, had the server not read it yet).
        took, data = await closed_after(port, within=5)
        assert took < SLACK
        assert data == b"" or data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert registry.get_sample_value("sla_monitor_http_connections_refused_total") == 1
        # Those open are still served.
        reader, writer = held[0]
        writer.write(HEALTHZ)
        answer = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), timeout=5)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        # One closes: a new client's /healthz is answered.
        held[1][1].close()
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEALTHZ)
        answer = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), timeout=5)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        writer.close()
        for _, open_writer in held:
            open_writer.close()


async def answer_to(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(100), timeout=5)
    finally:
        writer.close()


MALFORMED = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit-token\x00\r\n\r\n",
    b"GET /\xff\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\x7f\r\n\r\n",
)


async def test_malformed_requests_are_refused_in_one_line_without_traceback_or_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with server(header_timeout=30.0, max_connections=5) as (port, registry):
        for request in MALFORMED:
            assert (await answer_to(port, request)).startswith(b"HTTP/1.0 400 Bad Request")
        assert (await answer_to(port, HEALTHZ)).startswith(b"HTTP/1.1 200 OK")
    counted = registry.get_sample_value("sla_monitor_http_malformed_requests_total")
    assert counted == len(MALFORMED)
    said = [r for r in caplog.records if r.name in ("aiohttp.server", "monitor.http.serving")
            and r.levelno >= logging.WARNING]
    # Once a minute at most: the first one, with the parser's reason, at warning.
    assert [(r.levelname, r.getMessage()) for r in said] == [
        ("WARNING", "malformed HTTP request refused (400)")]
    assert said[0].exc_info is None and said[0].reason == "Invalid header value char"
    assert said[0].remote == "127.0.0.1"
    assert "sekrit-token" not in caplog.text


def test_the_defaults_are_a_production_operators() -> None:
    http = HTTPServer()
    assert (http.header_timeout, http.max_connections, http.max_config_bytes) == (
        10.0, 1000, 8 * 1024 * 1024)
