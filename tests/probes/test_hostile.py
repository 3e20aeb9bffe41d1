"""Hostile targets (SPEC section 8): every probe ends within its timeout, with the right
failure class, having read a bounded number of bytes.

The elapsed-time assertions are correctness bounds, not benchmarks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from monitor.probes import ProbeResult, ProbeSessions, build_probe
from monitor.testing.targets import HUGE_LENGTH, TargetServer
from tests.support import MARGIN, http_config

MiB = 1 << 20
# What may pile up beyond max_body_bytes + 1: kernel socket buffers on loopback and
# aiohttp's read-ahead, both bounded whatever the target sends.
BUFFERED = 16 * MiB


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class RSSWatch:
    """The largest growth of this process's resident memory while the block runs."""

    def __init__(self) -> None:
        self.baseline = rss()
        self.peak = self.baseline

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def sample(self) -> None:
        self.peak = max(self.peak, rss())


@asynccontextmanager
async def watch_memory() -> AsyncIterator[RSSWatch]:
    watch = RSSWatch()

    async def sampler() -> None:
        while True:
            watch.sample()
            await asyncio.sleep(0.005)

    task = asyncio.create_task(sampler())
    try:
        yield watch
    finally:
        task.cancel()
        watch.sample()


async def timed_check(
    sessions: ProbeSessions, url: str, **settings: Any
) -> tuple[ProbeResult, float]:
    probe = build_probe("hostile", http_config(url, **settings), sessions)
    started = time.monotonic()
    result = await probe.check()
    return result, time.monotonic() - started


def within(elapsed: float, timeout: float) -> bool:
    return elapsed < timeout + MARGIN


async def test_endless_body_is_cut_at_the_byte_bound(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    async with watch_memory() as memory:
        result, elapsed = await timed_check(
            sessions, server.url("/hostile/endless"), body_contains="needle", timeout=2
        )
    assert within(elapsed, 2)
    assert (result.failure_class, result.detail) == (
        "too_large",
        "body exceeds max_body_bytes (1048576 bytes)",
    )
    assert server.bytes_sent["/hostile/endless"] < MiB + BUFFERED
    assert memory.growth < BUFFERED


async def test_endless_body_is_not_read_without_a_body_check(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    result, elapsed = await timed_check(sessions, server.url("/hostile/endless"), timeout=2)
    assert result.state == "up" and within(elapsed, 2)
    assert server.bytes_sent["/hostile/endless"] < BUFFERED


@pytest.mark.slow
async def test_endless_body_under_a_large_bound_ends_at_the_deadline(
    sessions: ProbeSessions,
) -> None:
    async with TargetServer(drip_interval=0.01) as server:
        result, elapsed = await timed_check(
            sessions,
            server.url("/hostile/drip"),
            body_contains="needle",
            max_body_bytes=64 * MiB,
            timeout=0.6,
        )
    assert within(elapsed, 0.6)
    assert result.failure_class == "timeout"


@pytest.mark.slow
async def test_slow_drip_ends_at_the_deadline(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    result, elapsed = await timed_check(
        sessions, server.url("/hostile/drip"), json={"path": "status", "equals": "ok"}, timeout=1
    )
    assert within(elapsed, 1) and elapsed >= 1
    assert (result.failure_class, result.detail) == (
        "timeout",
        "response body not complete within the 1 s timeout",
    )
    assert result.http_status == 200 and result.first_byte is not None
    assert server.bytes_sent["/hostile/drip"] <= 3


async def test_redirect_loop(sessions: ProbeSessions, server: TargetServer) -> None:
    result, elapsed = await timed_check(
        sessions, server.url("/hostile/redirect-loop"), max_redirects=5, timeout=2
    )
    assert within(elapsed, 2)
    assert (result.failure_class, result.detail) == (
        "redirect_loop",
        "6 redirects without an answer; last to /hostile/redirect-loop",
    )
    assert server.requests["/hostile/redirect-loop"] == 6


async def test_huge_declared_body_fails_without_reading(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    async with watch_memory() as memory:
        result, elapsed = await timed_check(
            sessions, server.url("/hostile/huge"), body_contains="needle", timeout=2
        )
    assert within(elapsed, 2)
    assert (result.failure_class, result.detail) == (
        "too_large",
        f"Content-Length {HUGE_LENGTH} bytes exceeds max_body_bytes (1048576)",
    )
    assert server.bytes_sent["/hostile/huge"] < BUFFERED
    assert memory.growth < BUFFERED


async def test_huge_body_is_released_unread_without_a_body_check(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    async with watch_memory() as memory:
        result, elapsed = await timed_check(sessions, server.url("/hostile/huge"), timeout=2)
    assert result.state == "up" and within(elapsed, 2)
    assert server.bytes_sent["/hostile/huge"] < BUFFERED
    assert memory.growth < BUFFERED


async def test_gzip_bomb_is_cut_at_the_byte_bound(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    url = server.url("/hostile/gzip-bomb")
    await timed_check(sessions, url, timeout=5)  # the server builds the bomb once
    async with watch_memory() as memory:
        result, elapsed = await timed_check(sessions, url, body_contains="needle", timeout=2)
    assert within(elapsed, 2)
    assert result.failure_class == "too_large"
    assert memory.growth < BUFFERED


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (
            "/hostile/wrong-type",
            "json condition on 'status' needs a JSON body; got Content-Type text/html; charset=utf-8",
        ),
        (
            "/hostile/not-json",
            "json condition on 'status': body is not valid JSON (Expecting property name "
            "enclosed in double quotes: line 1 column 17 (char 16))",
        ),
        ("/hostile/deep-json", "json condition on 'status': body is JSON nested too deeply to check"),
    ],
)  # fmt: skip
async def test_bodies_that_are_not_the_json_expected(
    sessions: ProbeSessions, server: TargetServer, path: str, detail: str
) -> None:
    result, elapsed = await timed_check(
        sessions, server.url(path), json={"path": "status", "equals": "ok"}, timeout=2
    )
    assert within(elapsed, 2)
    assert (result.failure_class, result.detail) == ("condition", detail)


@pytest.mark.slow
async def test_very_slow_first_byte(sessions: ProbeSessions, server: TargetServer) -> None:
    result, elapsed = await timed_check(sessions, server.url("/hostile/slow-first-byte"), timeout=1)
    assert within(elapsed, 1)
    assert (result.failure_class, result.detail) == (
        "timeout",
        "no response headers within the 1 s timeout",
    )


def _hostile_cases() -> Iterator[tuple[str, dict[str, Any], str]]:
    yield "/hostile/endless", {"body_contains": "x-not-there"}, "too_large"
    yield "/hostile/drip", {"body_contains": "x-not-there"}, "timeout"
    yield "/hostile/redirect-loop", {}, "redirect_loop"
    yield "/hostile/huge", {"body_contains": "x"}, "too_large"
    yield "/hostile/wrong-type", {"json": {"path": "status", "equals": "ok"}}, "condition"
    yield "/hostile/slow-first-byte", {}, "timeout"


@pytest.mark.slow
async def test_all_at_once_end_within_their_timeout(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    """A monitor probing many hostile targets together is not slowed by any of them."""
    cases = list(_hostile_cases()) * 5
    started = time.monotonic()
    results = await asyncio.gather(
        *(timed_check(sessions, server.url(path), timeout=1, **settings) for path, settings, _ in cases)
    )  # fmt: skip
    assert within(time.monotonic() - started, 1)
    assert [r.failure_class for r, _ in results] == [expected for _, _, expected in cases]
