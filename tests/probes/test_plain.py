"""The lean path of plain HTTP checks (monitor.probes.plain) against raw local servers: it
sends what the full client sends, and every answer it does not judge itself is judged and
worded exactly as the full client (aiohttp) judges it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from yarl import URL

from monitor.probes import ProbeResult, ProbeSessions, build_probe
from monitor.probes.plain import HEAD_LIMIT, LINE_LIMIT, plain_request
from tests.support import http_config


@asynccontextmanager
async def raw_server(answer: bytes) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server on 127.0.0.1 that records each request's head and writes ``answer``."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(answer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", heads
    finally:
        server.close()
        await server.wait_closed()


async def lean_and_full(
    sessions: ProbeSessions, url: str, **settings: object
) -> tuple[ProbeResult, ProbeResult]:
    """The same check by the lean path and by the full client (a body check that always
    holds on any body that is not empty, "", makes a check take the full client)."""
    lean = await build_probe("web", http_config(url, **settings), sessions).check()
    full = await build_probe(
        "web", http_config(url, body_contains="", **settings), sessions
    ).check()
    return lean, full


def test_only_plain_http_without_a_body_check_is_lean() -> None:
    agent = "sla-monitor/test"
    assert plain_request(URL("http://127.0.0.1:8080/a?b=c"), "GET", None, agent) is not None
    assert plain_request(URL("http://example.com/"), "HEAD", {"X-A": "b"}, agent) is not None
    assert plain_request(URL("https://example.com/"), "GET", None, agent) is None
    assert plain_request(URL("http://example.com/"), "POST", None, agent) is None
    assert plain_request(URL("http://example.com/"), "GET", {"Host": "other"}, agent) is None
    # Credentials in the URL: aiohttp sends them as an Authorization header.
    assert plain_request(URL("http://user:secret@example.com/"), "GET", None, agent) is None


async def test_the_lean_request_is_the_full_clients(sessions: ProbeSessions) -> None:
    async with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") as (url, heads):
        lean, full = await lean_and_full(
            sessions, url + "/a%20b?c=d", headers={"X-Token": "t", "Accept": "text/plain"}
        )
    assert (lean.state, full.state) == ("up", "up")
    lean_head, full_head = heads
    assert lean_head.split(b"\r\n")[0] == b"GET /a%20b?c=d HTTP/1.1"
    # The same request line and the same headers (in any order).
    assert sorted(lean_head.split(b"\r\n")) == sorted(full_head.split(b"\r\n"))


async def test_equal_request_parts_are_kept_once(sessions: ProbeSessions) -> None:
    # A lean request's headers after its Host line are the same for every target with the
    # same headers: one object for them all (the test above shows what is sent is unchanged).
    first = sessions.shared(b"User-Agent: x\r\nConnection: close\r\n\r\n")
    again = sessions.shared(bytes(bytearray(b"User-Agent: x\r\nConnection: close\r\n\r\n")))
    other = sessions.shared(b"Connection: close\r\n\r\n")
    assert first is again and other is not first and other == b"Connection: close\r\n\r\n"


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n",
        b"HTTP/1.0 404\r\n\r\n",
        b"",  # closed without a word
        b"HTTP/1.1 200 OK\r\nContent-Len",  # closed in the middle of the headers
        b"ICY 200 OK\r\n\r\n",  # not HTTP
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (HEAD_LIMIT + 10) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Line: " + b"a" * (LINE_LIMIT + 10) + b"\r\n\r\n",
    ],
    ids=["503", "302-unfollowed", "no-reason", "closed", "cut", "icy", "status", "header", "huge", "line"],
)
async def test_every_answer_is_judged_as_the_full_client_judges_it(
    sessions: ProbeSessions, answer: bytes
) -> None:
    async with raw_server(answer) as (url, _heads):
        lean, full = await lean_and_full(sessions, url + "/", follow_redirects=False)
    assert (lean.state, lean.failure_class, lean.http_status, lean.detail) == (
        full.state, full.failure_class, full.http_status, full.detail
    )
    assert lean.connect is not None and full.connect is not None


async def test_a_redirect_is_followed_once_per_hop(sessions: ProbeSessions) -> None:
    async with (
        raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as (final, final_heads),
        raw_server(
            f"HTTP/1.1 301 Moved\r\nLocation: {final}/there\r\n\r\n".encode()
        ) as (first, first_heads),
    ):
        result = await build_probe("web", http_config(first + "/"), sessions).check()
    assert (result.state, result.http_status) == ("up", 200)
    assert len(first_heads) == 1 and len(final_heads) == 1
    assert final_heads[0].startswith(b"GET /there HTTP/1.1")
