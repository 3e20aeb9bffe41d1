"""The HTTP probe against a real local server: status, conditions, redirects, timings."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.errors import ConfigError
from monitor.probes import HTTPCheck, ProbeResult, ProbeSessions, TCPCheck, build_probe
from monitor.probes.http import expected_statuses, json_equal, json_path
from monitor.testing.targets import UNRESOLVABLE_HOST, BlackholePort, TargetServer, unused_port
from tests.support import MARGIN, http_config, tcp_config


async def check(sessions: ProbeSessions, url: str, **settings: object) -> ProbeResult:
    return await build_probe("web", http_config(url, **settings), sessions).check()


async def test_up_with_timings(sessions: ProbeSessions, server: TargetServer) -> None:
    before = dt.datetime.now(dt.UTC)
    result = await check(sessions, server.url("/"))
    assert result.state == "up" and result.is_up
    assert (result.target_id, result.failure_class, result.detail) == ("web", None, "")
    assert result.http_status == 200
    assert before <= result.at <= dt.datetime.now(dt.UTC)
    # An IP-literal URL resolves nothing; HTTP has no handshake of its own.
    assert result.dns is None and result.tls is None
    assert result.connect is not None and result.first_byte is not None
    assert result.total is not None
    assert 0 < result.connect <= result.first_byte <= result.total < 1
    assert result.cert_not_after is None


async def test_a_host_name_is_resolved_and_timed(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    result = await check(sessions, server.url("/", host="localhost"))
    assert result.state == "up"
    assert result.dns is not None and result.dns >= 0


async def test_each_check_opens_a_new_connection(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    """force_close: connect is measured every time, not hidden behind a pooled socket."""
    probe = build_probe("web", http_config(server.url("/")), sessions)
    results = [await probe.check() for _ in range(3)]
    assert all(r.state == "up" and r.connect is not None for r in results)


async def test_at_comes_from_the_injected_clock(server: TargetServer) -> None:
    start = dt.datetime(2026, 3, 21, 8, 0, tzinfo=dt.UTC)
    async with ProbeSessions(4, clock=FakeClock(start)) as sessions:
        result = await check(sessions, server.url("/"))
    assert result.at == start


async def test_unexpected_status(sessions: ProbeSessions, server: TargetServer) -> None:
    server.set_status(503)
    result = await check(sessions, server.url("/"))
    assert (result.state, result.failure_class) == ("down", "http_status")
    assert result.http_status == 503
    assert result.detail == "HTTP 503 Service Unavailable (expected 2xx)"
    assert result.first_byte is not None


@pytest.mark.parametrize(
    ("status", "expected", "state"),
    [
        (503, [503], "up"),
        (204, ["2xx"], "up"),
        (404, [200, "4xx"], "up"),
        (500, [200, "4xx"], "down"),
        (200, [201], "down"),
    ],
)
async def test_expected_status_codes_and_classes(
    sessions: ProbeSessions, server: TargetServer, status: int, expected: list[object], state: str
) -> None:
    server.set_status(status)
    result = await check(sessions, server.url("/"), expected_status=expected)
    assert result.state == state


async def test_probes_on_one_session_keep_their_own_rules(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    # Probes with equal settings share one set of rules; any setting that differs (the
    # expected status, a header, the method) gives a probe its own, and an https probe
    # (no lean request) first does not leave its equals without theirs.
    build_probe("s", http_config("https://127.0.0.1:1/t/s"), sessions)
    probes = [
        build_probe("a", http_config(server.url("/t/a")), sessions),
        build_probe("b", http_config(server.url("/t/b"), expected_status=[503]), sessions),
        build_probe("c", http_config(server.url("/t/c"), expected_status=["5xx"]), sessions),
        build_probe("d", http_config(server.url("/t/d"), headers={"X-Probe": "d"}), sessions),
        build_probe("e", http_config(server.url("/t/e"), method="HEAD"), sessions),
        build_probe("f", http_config(server.url("/t/f")), sessions),
    ]
    server.statuses.update({name: 503 for name in "abcdef"})
    seen = []
    for probe in probes:
        result = await probe.check()
        seen.append((result.target_id, result.state, server.last_method,
                     server.requests[f"/t/{result.target_id}"],
                     server.last_headers.get("X-Probe")))
    assert seen == [
        ("a", "down", "GET", 1, None),
        ("b", "up", "GET", 1, None),
        ("c", "up", "GET", 1, None),
        ("d", "down", "GET", 1, "d"),
        ("e", "down", "HEAD", 1, None),
        ("f", "down", "GET", 1, None),  # the rules of "a" (and of the https probe)
    ]


def test_expected_statuses_are_precomputed() -> None:
    statuses = expected_statuses([200, "3xx"])
    assert 200 in statuses and 301 in statuses and 399 in statuses
    assert 201 not in statuses and 400 not in statuses


async def test_method_and_headers_are_sent(sessions: ProbeSessions, server: TargetServer) -> None:
    result = await check(
        sessions, server.url("/"), method="POST", headers={"X-Probe": "sla", "Host": "panel.test"}
    )
    assert result.state == "up"
    assert server.last_method == "POST"
    assert server.last_headers["X-Probe"] == "sla"
    assert server.last_headers["Host"] == "panel.test"
    assert server.last_headers["User-Agent"].startswith("sla-monitor/")


async def test_head_reads_no_body(sessions: ProbeSessions, server: TargetServer) -> None:
    result = await check(sessions, server.url("/"), method="HEAD")
    assert result.state == "up" and server.last_method == "HEAD"


async def test_body_contains(sessions: ProbeSessions, server: TargetServer) -> None:
    server.set_body("Welcome: پنل طراحی")  # a Persian page, as in 004
    assert (await check(sessions, server.url("/"), body_contains="پنل")).state == "up"
    missing = await check(sessions, server.url("/"), body_contains="maintenance")
    assert (missing.state, missing.failure_class) == ("down", "condition")
    assert missing.detail == "body does not contain 'maintenance'"


@pytest.mark.parametrize(
    ("path", "equals"),
    [("status", "ok"), ("checks.0.ok", True), ("checks.-1.name", "db"), ("version", 3.0)],
)
async def test_json_condition_met(
    sessions: ProbeSessions, server: TargetServer, path: str, equals: object
) -> None:
    result = await check(sessions, server.url("/json"), json={"path": path, "equals": equals})
    assert result.state == "up", result.detail


@pytest.mark.parametrize(
    ("path", "equals", "detail"),
    [
        ("status", "degraded", "json condition on 'status': found \"ok\", expected \"degraded\""),
        ("checks.0.ok", 1, "json condition on 'checks.0.ok': found true, expected 1"),
        ("uptime", 1, "json condition on 'uptime': no key 'uptime' in the JSON body"),
        ("checks.4.ok", True, "json condition on 'checks.4.ok': index 4 outside a list of 1"),
        ("checks.first", True, "json condition on 'checks.first': 'first' cannot be looked up in a list of 1"),
        ("status.code", 1, "json condition on 'status.code': 'code' cannot be looked up in \"ok\""),
        ("checks", None, "json condition on 'checks': found a list of 1, expected null"),
    ],
)  # fmt: skip
async def test_json_condition_not_met(
    sessions: ProbeSessions, server: TargetServer, path: str, equals: object, detail: str
) -> None:
    result = await check(sessions, server.url("/json"), json={"path": path, "equals": equals})
    assert (result.state, result.failure_class, result.detail) == ("down", "condition", detail)


def test_json_helpers() -> None:
    assert json_path("checks.0.ok") == (("checks", None), ("0", 0), ("ok", None))
    assert json_equal(True, True) and json_equal(1, 1.0) and json_equal(None, None)
    assert not json_equal(True, 1) and not json_equal(0, False) and not json_equal([], None)


async def test_too_slow(sessions: ProbeSessions, server: TargetServer) -> None:
    server.set_delay(0.3)
    result = await check(sessions, server.url("/"), max_response_time=0.1, timeout=3)
    assert (result.state, result.failure_class) == ("down", "too_slow")
    assert result.detail.startswith("answered in 0.3")
    assert result.detail.endswith("max_response_time is 0.1 s")


async def test_a_wrong_status_wins_over_slowness(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    server.set_status(500)
    server.set_delay(0.2)
    result = await check(sessions, server.url("/"), max_response_time=0.1)
    assert result.failure_class == "http_status"


@pytest.mark.slow
async def test_timeout_is_a_deadline_for_the_whole_check(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    server.set_delay(5)
    started = time.monotonic()
    # 1 s: its deadline noticed up to 0.1 s late is still on time (R-M2; a loaded CI).
    result = await check(sessions, server.url("/"), timeout=1)
    assert time.monotonic() - started < 1 + MARGIN
    assert (result.state, result.failure_class) == ("down", "timeout")
    assert result.detail == "no response headers within the 1 s timeout"
    assert result.connect is not None and result.first_byte is None
    assert result.total is not None and result.total >= 1


async def test_redirects_followed_up_to_the_limit(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    result = await check(sessions, server.url("/redirect/3"), max_redirects=3)
    assert result.state == "up" and result.http_status == 200
    result = await check(sessions, server.url("/redirect/4"), max_redirects=3)
    assert (result.state, result.failure_class) == ("down", "redirect_loop")
    assert result.detail == "4 redirects without an answer; last to /"


async def test_redirect_not_followed_is_judged_by_status(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    unfollowed = await check(sessions, server.url("/redirect/1"), follow_redirects=False)
    assert (unfollowed.failure_class, unfollowed.http_status) == ("http_status", 302)
    assert unfollowed.detail == "HTTP 302 Found (expected 2xx); Location /"
    accepted = await check(
        sessions, server.url("/redirect/1"), follow_redirects=False, expected_status=["3xx"]
    )
    assert accepted.state == "up"
    # max_redirects 0: follow none.
    none = await check(sessions, server.url("/redirect/1"), max_redirects=0)
    assert none.failure_class == "http_status"


async def test_down_then_up_on_the_same_port(sessions: ProbeSessions) -> None:
    async with TargetServer() as server:
        port = server.port
        probe = build_probe("web", http_config(server.url("/")), sessions)
        assert (await probe.check()).state == "up"
        await server.set_down()
        refused = await probe.check()
        assert (refused.failure_class, refused.detail) == (
            "connect_refused",
            f"connection to 127.0.0.1:{port} refused",
        )
        await server.set_up()
        assert server.port == port
        assert (await probe.check()).state == "up"


async def test_dns_failure(sessions: ProbeSessions) -> None:
    result = await check(sessions, f"http://{UNRESOLVABLE_HOST}/", timeout=3)
    assert (result.state, result.failure_class) == ("down", "dns")
    assert UNRESOLVABLE_HOST in result.detail


async def test_connection_refused(sessions: ProbeSessions) -> None:
    result = await check(sessions, f"http://127.0.0.1:{unused_port()}/")
    assert (result.state, result.failure_class) == ("down", "connect_refused")
    assert result.connect is None and result.first_byte is None


@pytest.mark.slow
async def test_connect_timeout(sessions: ProbeSessions) -> None:
    async with BlackholePort() as blackhole:
        started = time.monotonic()
        # 1 s: its deadline noticed up to 0.1 s late is still on time (R-M2; a loaded CI).
        result = await check(sessions, blackhole.url("/"), timeout=1)
    assert time.monotonic() - started < 1 + MARGIN
    assert (result.state, result.failure_class) == ("down", "connect_timeout")
    assert result.detail == "TCP connect not finished within the 1 s timeout"


@pytest.mark.slow
async def test_concurrency_is_bounded_by_the_shared_semaphore(server: TargetServer) -> None:
    server.set_delay(0.2)
    async with ProbeSessions(max_concurrency=2) as sessions:
        probes = [build_probe(f"t{i}", http_config(server.url("/")), sessions) for i in range(6)]
        results = await asyncio.gather(*(p.check() for p in probes))
    assert all(r.state == "up" for r in results)
    assert server.max_in_flight == 2
    # The deadline starts once a probe holds a slot: waiting does not count as slowness.
    assert all(r.total is not None and r.total < 0.5 for r in results)


def test_result_is_small_and_frozen() -> None:
    result = ProbeResult("web", "up", dt.datetime.now(dt.UTC))
    assert not hasattr(result, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.state = "down"  # type: ignore[misc]


async def test_build_probe_picks_the_kind(sessions: ProbeSessions) -> None:
    assert isinstance(build_probe("a", http_config("http://127.0.0.1:1/"), sessions), HTTPCheck)
    assert isinstance(build_probe("b", tcp_config("127.0.0.1", 1), sessions), TCPCheck)


async def test_unreadable_ca_file_is_a_config_error(
    sessions: ProbeSessions, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.pem")
    config = http_config("https://127.0.0.1:1/", tls={"ca_file": missing})
    with pytest.raises(ConfigError) as caught:
        build_probe("panel", config, sessions)
    message = str(caught.value)
    assert "target 'panel'" in message and "probe.tls.ca_file" in message
    assert "No such file or directory" in message


async def test_closed_sessions_refuse_new_probes() -> None:
    sessions = ProbeSessions(1)
    await sessions.close()
    with pytest.raises(RuntimeError, match="closed"):
        build_probe("web", http_config("http://127.0.0.1:1/"), sessions)


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrency must be at least 1, got 0"):
        ProbeSessions(0)
