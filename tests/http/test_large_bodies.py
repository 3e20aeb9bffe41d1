"""A large page (the month's report of thousands of customers over the API) is written to
its client in pieces, the event loop free between them: written whole, aiohttp copied all
of it onto the connection in one step, and four clients served one 94 MB report at once
held the daemon's loop (its probes' starts) for 0.47 s at p99 (``benchmarks/bench_pages.py``
at 10,000 customers; 0.1 s with one client).

What is measured here is what the loop holds for the client at any moment: the bytes
waiting in the connection's buffer, sampled on the loop while the client reads slowly. Written
whole, that was nearly the whole body; in pieces, at most a piece and aiohttp's limit."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
from aiohttp import web

from monitor.http.cache import PIECE, CachedPage

SIZE = 24 * 2**20  # far more than the loopback connection's own buffers


async def test_a_large_page_is_written_in_pieces_the_loop_free_between_them() -> None:
    body = b"[" + b'"sla",' * (SIZE // 6) + b'"end"]'
    page = CachedPage(body, "application/json", headers=(("Cache-Control", "no-cache"),))
    transports: list[asyncio.Transport] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        transports.append(request.transport)  # type: ignore[arg-type]
        return page.response(request)

    app = web.Application()
    app.router.add_get("/report", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    most = 0
    reading = True

    async def sample() -> None:  # on the server's loop, as often as it turns
        nonlocal most
        while reading:
            for transport in transports:
                most = max(most, transport.get_write_buffer_size())
            await asyncio.sleep(0)

    sampler = asyncio.create_task(sample())
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/report") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Length"] == str(len(body))
            assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
            assert answer.headers["ETag"] == page.etag
            got = hashlib.sha256()
            async for chunk in answer.content.iter_chunked(2**20):
                got.update(chunk)
                await asyncio.sleep(0.002)  # a slow reader: the server's buffer fills
            assert got.hexdigest() == hashlib.sha256(body).hexdigest()
        # The client that has the page gets 304, whole or not.
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/report", headers={"If-None-Match": page.etag}) as again:
            assert again.status == 304
    finally:
        reading = False
        await sampler
        await runner.cleanup()
    assert transports and most > 0  # the buffer was seen in use
    assert most <= 2 * PIECE, f"{most:,} bytes buffered at once (a piece is {PIECE:,})"
