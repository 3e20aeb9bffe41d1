"""The DNS probe against a real nameserver on 127.0.0.1 (UDP and TCP): each way a
nameserver answers, and the failure class and detail each one is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from monitor.config.schema import DNSProbe
from monitor.probes import ProbeResult, ProbeSessions, build_probe
from monitor.testing.dns import DNSMode, DNSServer
from monitor.testing.targets import unused_port

RECORDS = {
    "example.com.": [("A", "192.0.2.10"), ("A", "192.0.2.11"), ("AAAA", "2001:db8::10"),
                     ("MX", "10 Mail.Example.com."), ("TXT", '"v=spf1 " "-all"'),
                     ("NS", "ns1.example.com.")],
    "www.example.com.": [("CNAME", "example.com.")],
}


@pytest.fixture
async def nameserver() -> AsyncIterator[DNSServer]:
    async with DNSServer(RECORDS, ttl=300) as server:
        yield server


def dns_config(port: int, **settings: Any) -> DNSProbe:
    return DNSProbe.model_validate({"type": "dns", "server": "127.0.0.1", "port": port,
                                    "name": "example.com", "timeout": 2, **settings})


async def check(sessions: ProbeSessions, port: int, **settings: Any) -> ProbeResult:
    return await build_probe("ns", dns_config(port, **settings), sessions).check()


async def test_an_answer_with_a_record_of_the_type_is_up(
        sessions: ProbeSessions, nameserver: DNSServer) -> None:
    result = await check(sessions, nameserver.port)
    assert (result.target_id, result.state, result.failure_class, result.detail) == (
        "ns", "up", None, "")
    assert result.total is not None and 0 < result.total < 2
    assert result.dns is None and result.connect is None  # only the whole question is timed
    assert nameserver.transports == {"udp": 1}


@pytest.mark.parametrize(("settings", "expected"), [
    ({"expected": ["192.0.2.11"]}, "up"),
    ({"expected": ["192.0.2.10", "192.0.2.11"]}, "up"),
    ({"record": "AAAA", "expected": ["2001:DB8:0::10"]}, "up"),  # one address, two spellings
    ({"record": "MX", "expected": ["mail.example.com"]}, "up"),  # the host alone, case ignored
    ({"record": "MX", "expected": ["10 mail.example.com."]}, "up"),
    ({"record": "TXT", "expected": ["v=spf1 -all"]}, "up"),  # the strings joined, unquoted
    ({"record": "NS", "expected": ["NS1.example.com"]}, "up"),
    ({"name": "www.example.com", "expected": ["192.0.2.10"]}, "up"),  # through its CNAME
    ({"name": "www.example.com", "record": "CNAME", "expected": ["example.com"]}, "up"),
    ({"expected": ["192.0.2.99"]}, "condition"),
    ({"expected": ["192.0.2.10", "192.0.2.99"]}, "condition"),  # every value must be there
    ({"record": "TXT", "expected": ["v=spf1 -ALL"]}, "condition"),  # a text keeps its case
])
async def test_expected_values(sessions: ProbeSessions, nameserver: DNSServer,
                               settings: dict[str, Any], expected: str) -> None:
    result = await check(sessions, nameserver.port, **settings)
    assert (result.failure_class or result.state) == expected, result.detail


async def test_a_missing_value_is_named_with_what_was_answered(
        sessions: ProbeSessions, nameserver: DNSServer) -> None:
    result = await check(sessions, nameserver.port, expected=["192.0.2.10", "192.0.2.99"])
    assert (result.state, result.failure_class) == ("down", "condition")
    assert result.detail == (f"example.com A from 127.0.0.1:{nameserver.port}: expected "
                             "192.0.2.99; answered 192.0.2.10, 192.0.2.11")


async def test_an_unknown_name_is_a_dns_answer_failure(
        sessions: ProbeSessions, nameserver: DNSServer) -> None:
    result = await check(sessions, nameserver.port, name="gone.example.com")
    assert (result.state, result.failure_class) == ("down", "dns_answer")
    assert result.detail == (f"the nameserver 127.0.0.1:{nameserver.port} answered "
                             "NXDOMAIN for gone.example.com A")


async def test_no_record_of_the_type(sessions: ProbeSessions, nameserver: DNSServer) -> None:
    result = await check(sessions, nameserver.port, record="SRV")
    assert (result.state, result.failure_class) == ("down", "dns_answer")
    assert result.detail == (f"the nameserver 127.0.0.1:{nameserver.port} has no record "
                             "for example.com SRV")


@pytest.mark.parametrize("mode", ["servfail", "refused"])
async def test_an_error_code(sessions: ProbeSessions, nameserver: DNSServer,
                             mode: DNSMode) -> None:
    nameserver.set_mode(mode)
    result = await check(sessions, nameserver.port)
    assert (result.state, result.failure_class) == ("down", "dns_answer")
    assert result.detail.endswith(f"answered {mode.upper()} for example.com A")


async def test_a_truncated_answer_is_asked_again_over_tcp(
        sessions: ProbeSessions, nameserver: DNSServer) -> None:
    nameserver.set_mode("truncate")
    result = await check(sessions, nameserver.port, expected=["192.0.2.10"])
    assert result.state == "up", result.detail
    assert nameserver.transports == {"udp": 1, "tcp": 1}


async def test_tcp_alone(sessions: ProbeSessions, nameserver: DNSServer) -> None:
    result = await check(sessions, nameserver.port, transport="tcp", expected=["192.0.2.10"])
    assert result.state == "up", result.detail
    assert nameserver.transports == {"tcp": 1}


async def test_silence_is_a_timeout(sessions: ProbeSessions, nameserver: DNSServer) -> None:
    nameserver.set_mode("silent")
    result = await check(sessions, nameserver.port, timeout=0.5)
    assert (result.state, result.failure_class) == ("down", "timeout")
    assert result.detail == (f"no answer from the nameserver 127.0.0.1:{nameserver.port} "
                             "within the 0.5 s timeout")


async def test_silence_over_tcp_is_a_timeout(
        sessions: ProbeSessions, nameserver: DNSServer) -> None:
    nameserver.set_mode("silent")
    result = await check(sessions, nameserver.port, timeout=0.5, transport="tcp")
    assert (result.state, result.failure_class) == ("down", "timeout")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_bytes_that_are_no_answer(sessions: ProbeSessions, nameserver: DNSServer,
                                        transport: str) -> None:
    nameserver.set_mode("garbage")
    result = await check(sessions, nameserver.port, transport=transport)
    assert (result.state, result.failure_class) == ("down", "dns_answer")
    assert result.detail.startswith(f"the answer of the nameserver 127.0.0.1:"
                                    f"{nameserver.port} could not be read: ")


async def test_nothing_listening(sessions: ProbeSessions) -> None:
    port = unused_port()
    result = await check(sessions, port, transport="tcp")
    assert (result.state, result.failure_class) == ("down", "connect_refused")
    assert result.detail == (f"the nameserver 127.0.0.1:{port} refused: nothing listens "
                             "on its port")


async def test_each_question_is_fresh(sessions: ProbeSessions, nameserver: DNSServer) -> None:
    """No answer is kept: a nameserver that fails after an answer fails the next check."""
    probe = build_probe("ns", dns_config(nameserver.port), sessions)
    assert (await probe.check()).state == "up"
    nameserver.set_mode("servfail")
    assert (await probe.check()).failure_class == "dns_answer"
    assert nameserver.transports == {"udp": 2}
