"""TLS on a mail server's ports through a real SMTP server (aiosmtpd, ``SMTPSink``): a TCP
probe with ``tls`` on an implicit-TLS port (SMTPS), and with ``starttls: smtp`` on a port
that upgrades (the greeting, EHLO and STARTTLS first, RFC 3207); then the certificate check
of both. And servers that do not get that far: no STARTTLS offered, a refusing greeting,
one that talks without end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from monitor.probes import ProbeResult, ProbeSessions, build_certificate_check, build_probe
from monitor.probes.starttls import REPLY_LIMIT
from monitor.probes.tls import CertificateCheck
from monitor.testing.smtp import SMTPSink
from tests.support import tcp_config


async def check(sessions: ProbeSessions, port: int, **settings: object) -> ProbeResult:
    return await build_probe("mail", tcp_config("127.0.0.1", port, **settings),
                             sessions).check()


async def test_smtps_is_a_tls_port(sessions: ProbeSessions, tmp_path: Path) -> None:
    async with SMTPSink(implicit_tls=True) as sink:
        ca = str(sink.write_ca(tmp_path / "ca.pem"))
        result = await check(sessions, sink.port, tls={"ca_file": ca})
        unknown_ca = await check(sessions, sink.port, tls=True)
    assert (result.state, result.failure_class, result.detail) == ("up", None, "")
    assert result.tls is not None and result.cert_not_after is not None
    assert (unknown_ca.state, unknown_ca.failure_class) == ("down", "tls")


async def test_starttls_upgrades_an_smtp_port(sessions: ProbeSessions, tmp_path: Path) -> None:
    async with SMTPSink(tls=True) as sink:
        ca = str(sink.write_ca(tmp_path / "ca.pem"))
        config = tcp_config("127.0.0.1", sink.port, starttls="smtp", tls={"ca_file": ca})
        assert config.address == f"starttls://127.0.0.1:{sink.port}"
        result = await build_probe("mail", config, sessions).check()
        # Without the dialogue, a handshake on the same port gets the greeting instead.
        at_once = await check(sessions, sink.port, tls={"ca_file": ca}, timeout=2)
        certificate = build_certificate_check("mail", config, sessions)
        assert isinstance(certificate, CertificateCheck)
        read = await certificate.check()
        assert sink.messages == []  # no message was sent
    assert (result.state, result.failure_class, result.detail) == ("up", None, "")
    assert result.connect is not None and result.tls is not None
    assert result.cert_not_after is not None
    assert (at_once.state, at_once.failure_class) == ("down", "tls")
    assert (read.verify_ok, read.failure_class, read.not_after) == (
        True, None, result.cert_not_after)


async def test_starttls_not_offered(sessions: ProbeSessions) -> None:
    async with SMTPSink() as sink:  # plain SMTP: no STARTTLS among its extensions
        port = sink.port
        result = await check(sessions, port, starttls="smtp")
    assert (result.state, result.failure_class) == ("down", "tls")
    assert result.detail.startswith(f"127.0.0.1:{port} offers no STARTTLS (its "
                                    "extensions: ")
    assert "SIZE" in result.detail


Talk = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def talker() -> AsyncIterator[Callable[[Talk], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def serve(talk: Talk) -> int:
        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await talk(reader, writer)
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(session, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield serve
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_a_refusing_greeting_is_its_detail(
        sessions: ProbeSessions, talker: Callable[[Talk], Awaitable[int]]) -> None:
    async def busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 mx.example Service not available\r\n")
        await writer.drain()

    port = await talker(busy)
    result = await check(sessions, port, starttls="smtp")
    assert (result.state, result.failure_class) == ("down", "error")
    assert result.detail == (f"SMTP greeting of 127.0.0.1:{port}: 421 4.3.2 mx.example "
                             "Service not available")


async def test_a_server_that_speaks_no_smtp(
        sessions: ProbeSessions, talker: Callable[[Talk], Awaitable[int]]) -> None:
    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()

    port = await talker(ssh)
    result = await check(sessions, port, starttls="smtp")
    assert (result.state, result.failure_class) == ("down", "error")
    assert result.detail == (f"127.0.0.1:{port} answered no SMTP reply: "
                             "'SSH-2.0-OpenSSH_9.2'")


async def test_a_server_that_talks_without_end_is_cut(
        sessions: ProbeSessions, talker: Callable[[Talk], Awaitable[int]]) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.example ESMTP\r\n")
        await reader.readline()  # EHLO
        while True:
            writer.write(b"250-" + b"X" * 60 + b"\r\n")
            await writer.drain()

    port = await talker(endless)
    result = await check(sessions, port, starttls="smtp", timeout=5)
    assert (result.state, result.failure_class) == ("down", "error")
    assert result.detail == (f"127.0.0.1:{port} sent more than {REPLY_LIMIT // 1024} KiB "
                             "before the TLS handshake")


async def test_a_silent_server_times_out(
        sessions: ProbeSessions, talker: Callable[[Talk], Awaitable[int]]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await talker(silent)
    result = await check(sessions, port, starttls="smtp", timeout=0.5)
    assert (result.state, result.failure_class) == ("down", "connect_timeout")
    assert result.detail == (f"STARTTLS and the TLS handshake with 127.0.0.1:{port} not "
                             "finished within the 0.5 s timeout")
