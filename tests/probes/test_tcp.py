"""The TCP connect probe against real local listeners."""

from __future__ import annotations

import time

import pytest

from monitor.probes import ProbeResult, ProbeSessions, build_probe
from monitor.testing.targets import UNRESOLVABLE_HOST, BlackholePort, TargetServer, unused_port
from tests.support import MARGIN, tcp_config


async def check(sessions: ProbeSessions, host: str, port: int, **settings: object) -> ProbeResult:
    return await build_probe("db", tcp_config(host, port, **settings), sessions).check()


async def test_up(sessions: ProbeSessions, server: TargetServer) -> None:
    result = await check(sessions, "127.0.0.1", server.port)
    assert (result.target_id, result.state, result.failure_class) == ("db", "up", None)
    assert result.dns is None  # an address needs no resolver
    assert result.connect is not None and result.total is not None
    assert 0 < result.connect <= result.total < 1
    assert result.http_status is None and result.first_byte is None


async def test_a_host_name_is_resolved_and_timed(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    result = await check(sessions, "localhost", server.port)
    assert result.state == "up"
    assert result.dns is not None and result.connect is not None


async def test_refused(sessions: ProbeSessions) -> None:
    port = unused_port()
    result = await check(sessions, "127.0.0.1", port)
    assert (result.state, result.failure_class) == ("down", "connect_refused")
    assert result.detail == f"connection to 127.0.0.1:{port} refused"
    assert result.connect is None


async def test_refused_on_every_address_of_a_name(sessions: ProbeSessions) -> None:
    result = await check(sessions, "localhost", unused_port())
    assert result.failure_class == "connect_refused"


async def test_dns_failure(sessions: ProbeSessions) -> None:
    result = await check(sessions, UNRESOLVABLE_HOST, 5432, timeout=3)
    assert (result.state, result.failure_class) == ("down", "dns")
    assert result.detail.startswith(f"DNS lookup for {UNRESOLVABLE_HOST}:5432 failed")


@pytest.mark.slow
async def test_connect_timeout(sessions: ProbeSessions) -> None:
    async with BlackholePort() as blackhole:
        started = time.monotonic()
        # 1 s: its deadline noticed up to 0.1 s late is still on time (R-M2; a loaded CI).
        result = await check(sessions, blackhole.host, blackhole.port, timeout=1)
    assert time.monotonic() - started < 1 + MARGIN
    assert (result.state, result.failure_class) == ("down", "connect_timeout")
    assert result.detail == (
        f"TCP connect to 127.0.0.1:{blackhole.port} not finished within the 1 s timeout"
    )


async def test_follows_the_target_down_and_up(sessions: ProbeSessions) -> None:
    async with TargetServer() as server:
        probe = build_probe("db", tcp_config("127.0.0.1", server.port), sessions)
        assert (await probe.check()).state == "up"
        await server.set_down()
        assert (await probe.check()).failure_class == "connect_refused"
        await server.set_up()
        assert (await probe.check()).state == "up"
