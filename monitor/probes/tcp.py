"""The TCP connect probe: resolve, connect, close at once; up when the connect succeeds.
With ``tls``, a TLS handshake follows the connect (a port that speaks TLS at once: SMTPS,
IMAPS, LDAPS ...; with ``starttls: smtp``, after the SMTP dialogue that asks for it,
:mod:`monitor.probes.starttls`), and the check is up when it completes: the certificate verified as
``tls`` says (chain and host name, the system's trust store plus ``ca_file``), unless
``verify`` is false.

``dns`` is the resolution (None for an IP address), ``connect`` the TCP
handshake of the address that answered, ``tls`` the TLS handshake, ``total`` the whole
check. The name is
resolved here rather than inside ``create_connection`` so that a dead resolver
is classified ``dns`` and not hidden in a connect failure (R-M2 depends on
telling the two apart), through the probes' one resolver (``monitor.resolver``).
The presented certificate's expiry is the result's ``cert_not_after`` (parsed when the
certificate changes); the certificate check (:mod:`monitor.probes.tls`) reads it at its
own cadence, as for an ``https://`` target.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import time

from monitor.config.schema import TCPProbe
from monitor.errors import ConnectTimeout, DNSError, ProbeError
from monitor.probes.base import ProbeResult, checked, classify_exception, noticed_late
from monitor.probes.sessions import ProbeSessions, SlotCheck
from monitor.probes.tls import certificate_not_after, connect_first, shake_hands

_Address = tuple[int, str, int]  # family, host, port


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TCPCheck(SlotCheck):
    """Checks that one host:port accepts TCP connections."""

    __slots__ = ("_cert_der", "_cert_not_after", "_context", "_host", "_literal", "_port",
                 "_resolve_with", "_starttls", "_where")

    def __init__(self, target_id: str, config: TCPProbe, sessions: ProbeSessions) -> None:
        super().__init__(target_id, config.timeout, sessions)
        self._resolve_with = sessions.resolve
        self._host = config.host
        self._port = config.port
        self._where = f"{config.host}:{config.port}"
        # tls: verify false still shakes hands (the port must speak TLS), judging nothing.
        self._context: ssl.SSLContext | None = None
        if config.tls is not None:
            self._context = (sessions.verifying_context(config.tls, owner=target_id)
                             if config.tls.verify else sessions.not_verifying_context())
        self._starttls = config.starttls is not None and self._context is not None
        self._cert_der: bytes | None = None
        self._cert_not_after: dt.datetime | None = None
        # An IP literal needs no resolver (and no executor thread) on every check.
        self._literal: tuple[_Address, ...] | None = None
        if _is_ip_address(config.host):
            family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
            self._literal = ((family, config.host, config.port),)

    async def check(self) -> ProbeResult:
        async with self._semaphore:
            at = self._clock.now()
            started = time.monotonic()
            dns: float | None = None
            connect: float | None = None
            handshake: float | None = None
            cert_not_after: dt.datetime | None = None
            phase = "dns"
            deadline = asyncio.timeout(self._timeout)
            failure: ProbeError | None = None
            late: float | None = None  # the deadline noticed late: this monitor stalled
            try:
                async with deadline:
                    addresses = self._literal
                    if addresses is None:
                        addresses = tuple(await self._resolve_with(self._host, self._port))
                        dns = time.monotonic() - started
                    phase = "connect"
                    connect_started = time.monotonic()
                    transport = await connect_first(addresses, self._starttls)
                    connect = time.monotonic() - connect_started
                    if self._context is None:
                        transport.close()
                    else:
                        phase = "tls"
                        der = await shake_hands(transport, self._context, self._host,
                                                self._where)
                        handshake = time.monotonic() - connect_started - connect
                        cert_not_after = self._not_after(der)
            except TimeoutError as error:
                if deadline.expired():
                    limit = f"within the {self._timeout:g} s timeout"
                    if phase == "dns":
                        failure = DNSError(f"DNS lookup not finished {limit}")
                    elif phase == "tls":
                        what = "STARTTLS and the TLS handshake" if self._starttls else (
                            "TLS handshake")
                        failure = ConnectTimeout(f"{what} with {self._where} not finished "
                                                 f"{limit}")
                    else:
                        failure = ConnectTimeout(f"TCP connect to {self._where} not finished {limit}")
                    late = noticed_late(deadline, self._timeout, self._stalls, started)
                else:
                    failure = classify_exception(error, self._where)
            except Exception as error:  # any target behaviour becomes evidence, never a crash
                failure = classify_exception(error, self._where)
            return checked(self.target_id, at, started, failure, late, dns=dns,
                           connect=connect, tls=handshake, cert_not_after=cert_not_after)

    def _not_after(self, der: bytes | None) -> dt.datetime | None:
        """Expiry of the presented certificate; parsed only when the certificate changes."""
        if der is not None and der != self._cert_der:
            self._cert_not_after = certificate_not_after(der)
            self._cert_der = der
        return self._cert_not_after if der is not None else None
