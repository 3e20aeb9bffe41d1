"""HTTPS probes and the certificate check against trustme certificates: valid, expired,
wrong host, self-signed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from monitor.probes import ProbeSessions, build_certificate_check, build_probe
from monitor.probes.tls import CertificateCheck
from monitor.testing.targets import TargetServer, TLSMode, unused_port
from tests.support import MARGIN, http_config, tcp_config

REJECTIONS = {
    "expired": "certificate has expired",
    "wrong_host": "IP address mismatch, certificate is not valid for '127.0.0.1'.",
    "self_signed": "self-signed certificate",
}


@pytest.fixture
async def https() -> AsyncIterator[TargetServer]:
    async with TargetServer(tls="valid") as server:
        yield server


async def test_valid_certificate(sessions: ProbeSessions, https: TargetServer) -> None:
    config = http_config(https.url("/"), tls={"ca_file": https.ca_file})
    probe = build_probe("panel", config, sessions)
    result = await probe.check()
    assert result.state == "up", result.detail
    assert result.cert_not_after == https.cert_not_after
    # aiohttp connects and shakes hands in one call: connect includes TLS.
    assert result.connect is not None and result.tls is None
    again = await probe.check()
    assert again.cert_not_after == https.cert_not_after


async def test_unknown_ca_is_rejected(sessions: ProbeSessions, https: TargetServer) -> None:
    result = await build_probe("panel", http_config(https.url("/")), sessions).check()
    assert (result.state, result.failure_class) == ("down", "tls")
    assert result.detail == (
        "TLS certificate of 127.0.0.1 rejected: unable to get local issuer certificate"
    )


@pytest.mark.parametrize("mode", ["expired", "wrong_host", "self_signed"])
async def test_bad_certificates_are_tls_failures(sessions: ProbeSessions, mode: TLSMode) -> None:
    async with TargetServer(tls=mode) as server:
        config = http_config(server.url("/"), tls={"ca_file": server.ca_file}, timeout=2)
        started = time.monotonic()
        result = await build_probe("panel", config, sessions).check()
        assert time.monotonic() - started < 2 + MARGIN
    assert (result.state, result.failure_class) == ("down", "tls")
    assert result.detail == f"TLS certificate of 127.0.0.1 rejected: {REJECTIONS[mode]}"


@pytest.mark.parametrize("mode", ["expired", "wrong_host", "self_signed"])
async def test_verify_off_accepts_and_still_reports_expiry(
    sessions: ProbeSessions, mode: TLSMode
) -> None:
    async with TargetServer(tls=mode) as server:
        config = http_config(server.url("/"), tls={"verify": False})
        result = await build_probe("panel", config, sessions).check()
    assert result.state == "up"
    assert result.cert_not_after == server.cert_not_after


async def test_certificate_check_of_a_valid_certificate(
    sessions: ProbeSessions, https: TargetServer
) -> None:
    config = http_config(https.url("/"), tls={"ca_file": https.ca_file})
    check = build_certificate_check("panel", config, sessions)
    assert isinstance(check, CertificateCheck)
    result = await check.check()
    assert (result.verify_ok, result.verify_error, result.failure_class) == (True, None, None)
    assert result.not_after == https.cert_not_after
    assert result.days_left is not None and 89.9 < result.days_left <= 90
    assert result.expiring is False
    assert result.connect is not None and result.tls is not None


async def test_certificate_check_warns_before_expiry(
    sessions: ProbeSessions, https: TargetServer
) -> None:
    config = http_config(
        https.url("/"), tls={"ca_file": https.ca_file, "cert_expiry_warning": "100d"}
    )
    check = build_certificate_check("panel", config, sessions)
    assert check is not None
    assert (await check.check()).expiring is True


@pytest.mark.parametrize(
    ("mode", "days_left"), [("expired", -2.0), ("wrong_host", 90.0), ("self_signed", None)]
)
async def test_certificate_check_reads_bad_certificates(
    sessions: ProbeSessions, mode: TLSMode, days_left: float | None
) -> None:
    async with TargetServer(tls=mode) as server:
        config = http_config(server.url("/"), tls={"ca_file": server.ca_file})
        check = build_certificate_check("panel", config, sessions)
        assert check is not None
        result = await check.check()
    assert result.failure_class is None
    assert (result.verify_ok, result.verify_error) == (False, REJECTIONS[mode])
    assert result.not_after == server.cert_not_after
    assert result.days_left is not None
    if days_left is not None:
        assert result.days_left == pytest.approx(days_left, abs=0.01)
    assert result.expiring is (mode == "expired")


async def test_certificate_check_of_a_closed_port(sessions: ProbeSessions) -> None:
    config = http_config(f"https://127.0.0.1:{unused_port()}/")
    check = build_certificate_check("panel", config, sessions)
    assert check is not None
    result = await check.check()
    assert (result.failure_class, result.not_after, result.verify_ok) == (
        "connect_refused",
        None,
        None,
    )


async def test_certificate_check_of_a_plain_http_server(
    sessions: ProbeSessions, server: TargetServer
) -> None:
    config = http_config(f"https://127.0.0.1:{server.port}/", timeout=2)
    check = build_certificate_check("panel", config, sessions)
    assert check is not None
    started = time.monotonic()
    result = await check.check()
    assert time.monotonic() - started < 2 + MARGIN
    assert result.failure_class == "tls"
    assert result.detail.startswith("TLS with 127.0.0.1:")


@pytest.mark.slow
async def test_certificate_check_of_a_server_that_never_answers(
    sessions: ProbeSessions,
) -> None:
    async def accept_and_stay_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    silent = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    try:
        port = silent.sockets[0].getsockname()[1]
        # 1 s: its deadline noticed up to 0.1 s late is still on time (R-M2; a loaded CI).
        config = http_config(f"https://127.0.0.1:{port}/", timeout=1)
        check = build_certificate_check("panel", config, sessions)
        assert check is not None
        started = time.monotonic()
        result = await check.check()
        assert time.monotonic() - started < 1 + MARGIN
    finally:
        silent.close()
        await silent.wait_closed()
    assert result.failure_class == "timeout"
    assert result.detail == (
        f"TLS handshake with 127.0.0.1:{port} not finished within the 1 s timeout"
    )
    assert result.connect is not None


async def test_no_certificate_check_without_https(sessions: ProbeSessions) -> None:
    assert build_certificate_check("a", http_config("http://127.0.0.1:1/"), sessions) is None
    assert build_certificate_check("b", tcp_config("127.0.0.1", 443), sessions) is None


@pytest.mark.parametrize("mode", ["expired", "self_signed"])
async def test_certificate_check_with_verify_off_reads_expiry_and_passes_no_verdict(
    sessions: ProbeSessions, mode: TLSMode
) -> None:
    # tls.verify: false (Gatus's client.insecure, Kuma's ignore_tls) says this certificate
    # is not to be verified; the check verified it anyway, so sla_monitor_certificate_valid
    # was 0 and CertificateInvalid fired for as long as the target was watched.
    async with TargetServer(tls=mode) as server:
        config = http_config(server.url("/"), tls={"verify": False})
        check = build_certificate_check("panel", config, sessions)
        assert check is not None
        result = await check.check()
    assert (result.failure_class, result.verify_ok, result.verify_error) == (None, None, None)
    assert result.not_after == server.cert_not_after  # its expiry is still read
    assert result.expiring is (mode == "expired")



# -- a TCP probe with tls: a port that speaks TLS at once (SMTPS, IMAPS ...) ----------------


async def test_a_tcp_probe_with_tls_shakes_hands_and_reads_the_expiry(
        sessions: ProbeSessions, https: TargetServer) -> None:
    config = tcp_config("127.0.0.1", https.port, tls={"ca_file": https.ca_file})
    assert config.address == f"tls://127.0.0.1:{https.port}"
    probe = build_probe("mail", config, sessions)
    result = await probe.check()
    assert (result.state, result.failure_class, result.detail) == ("up", None, "")
    assert result.cert_not_after == https.cert_not_after
    # The connect and the handshake are timed apart, both within the whole.
    assert result.connect is not None and result.tls is not None and result.total is not None
    assert result.connect + result.tls <= result.total
    assert (await probe.check()).cert_not_after == https.cert_not_after


async def test_a_tcp_probe_with_tls_rejects_an_unknown_ca(
        sessions: ProbeSessions, https: TargetServer) -> None:
    result = await build_probe("mail", tcp_config("127.0.0.1", https.port, tls=True),
                               sessions).check()
    assert (result.state, result.failure_class) == ("down", "tls")
    assert result.detail == (f"TLS certificate of 127.0.0.1:{https.port} rejected: unable "
                             "to get local issuer certificate")
    assert result.connect is not None and result.tls is None


@pytest.mark.parametrize("mode", ["expired", "wrong_host", "self_signed"])
async def test_a_tcp_probe_with_tls_fails_a_bad_certificate_unless_told_not_to_verify(
        sessions: ProbeSessions, mode: TLSMode) -> None:
    async with TargetServer(tls=mode) as server:
        judged = await build_probe("mail", tcp_config(
            "127.0.0.1", server.port, tls={"ca_file": server.ca_file}), sessions).check()
        unverified = await build_probe("mail", tcp_config(
            "127.0.0.1", server.port, tls={"verify": False}), sessions).check()
    assert (judged.state, judged.failure_class) == ("down", "tls")
    assert judged.detail == (f"TLS certificate of 127.0.0.1:{server.port} rejected: "
                             f"{REJECTIONS[mode]}")
    assert (unverified.state, unverified.cert_not_after) == ("up", server.cert_not_after)


async def test_a_tcp_probe_with_tls_on_a_port_that_speaks_none_fails(
        sessions: ProbeSessions) -> None:
    # A plain HTTP port: the server answers the ClientHello with HTTP 400 (not TLS).
    async with TargetServer() as plain:
        result = await build_probe("mail", tcp_config("127.0.0.1", plain.port, tls=True,
                                                      timeout=2), sessions).check()
        without = await build_probe("mail", tcp_config("127.0.0.1", plain.port),
                                    sessions).check()
    assert (result.state, result.failure_class) == ("down", "tls")
    assert result.detail.startswith(f"TLS with 127.0.0.1:{plain.port} failed: ")
    assert (without.state, without.tls, without.cert_not_after) == ("up", None, None)


@pytest.mark.slow
async def test_a_tcp_probe_with_tls_whose_handshake_hangs_times_out(
        sessions: ProbeSessions) -> None:
    async with BlackholeTLS() as port:
        started = time.monotonic()
        result = await build_probe("mail", tcp_config("127.0.0.1", port, tls=True, timeout=1),
                                   sessions).check()
    assert time.monotonic() - started < 1 + MARGIN
    assert (result.state, result.failure_class) == ("down", "connect_timeout")
    assert result.detail == (f"TLS handshake with 127.0.0.1:{port} not finished within the "
                             "1 s timeout")


class BlackholeTLS:
    """A port that accepts connections and then says nothing: a handshake never ends."""

    async def __aenter__(self) -> int:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # until the client gives up
            writer.close()

        self._server = await asyncio.start_server(silent, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()


async def test_the_certificate_check_of_a_tcp_probe_with_tls(
        sessions: ProbeSessions, https: TargetServer) -> None:
    plain = build_certificate_check("mail", tcp_config("127.0.0.1", https.port), sessions)
    assert plain is None  # no tls: no certificate to read
    check = build_certificate_check(
        "mail", tcp_config("127.0.0.1", https.port, tls={"ca_file": https.ca_file,
                                                         "cert_expiry_warning": "100d"}),
        sessions)
    assert isinstance(check, CertificateCheck)
    result = await check.check()
    assert (result.verify_ok, result.failure_class) == (True, None)
    assert result.not_after == https.cert_not_after
    assert result.expiring  # 90 days left, warned 100 days ahead
