"""The TCP connect probe: resolve, connect, close at once; up when the connect succeeds.

``dns`` is the resolution (None for an IP address), ``connect`` the TCP
handshake of the address that answered, ``total`` the whole check. The name is
resolved here rather than inside ``create_connection`` so that a dead resolver
is classified ``dns`` and not hidden in a connect failure (R-M2 depends on
telling the two apart), through the probes' one resolver (``monitor.resolver``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

from monitor.config.schema import TCPProbe
from monitor.errors import ConnectTimeout, DNSError, ProbeError
from monitor.probes.base import ProbeResult, classify_exception, judged, noticed_late
from monitor.probes.sessions import ProbeSessions

_Address = tuple[int, str, int]  # family, host, port


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TCPCheck:
    """Checks that one host:port accepts TCP connections."""

    __slots__ = (
        "_clock",
        "_host",
        "_literal",
        "_port",
        "_resolve_with",
        "_semaphore",
        "_stalls",
        "_timeout",
        "_where",
        "target_id",
    )

    def __init__(self, target_id: str, config: TCPProbe, sessions: ProbeSessions) -> None:
        self.target_id = target_id
        self._semaphore = sessions.semaphore
        self._stalls = sessions.stalls
        self._clock = sessions.clock
        self._resolve_with = sessions.resolve
        self._host = config.host
        self._port = config.port
        self._timeout = config.timeout
        self._where = f"{config.host}:{config.port}"
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
                    await self._connect(addresses)
                    connect = time.monotonic() - connect_started
            except TimeoutError as error:
                if deadline.expired():
                    limit = f"within the {self._timeout:g} s timeout"
                    if phase == "dns":
                        failure = DNSError(f"DNS lookup not finished {limit}")
                    else:
                        failure = ConnectTimeout(f"TCP connect to {self._where} not finished {limit}")
                    late = noticed_late(deadline, self._timeout, self._stalls, started)
                else:
                    failure = classify_exception(error, self._where)
            except Exception as error:  # any target behaviour becomes evidence, never a crash
                failure = classify_exception(error, self._where)
            state, detail = judged(failure, late)
            return ProbeResult(
                target_id=self.target_id,
                state=state,
                at=at,
                failure_class=None if failure is None else failure.failure_class,
                detail=detail,
                dns=dns,
                connect=connect,
                total=time.monotonic() - started,
            )

    async def _connect(self, addresses: tuple[_Address, ...]) -> None:
        """Try each address in the resolver's order, as a client would; the last error wins."""
        loop = asyncio.get_running_loop()
        last_error: OSError | None = None
        for family, host, port in addresses:
            try:
                transport, _ = await loop.create_connection(
                    asyncio.Protocol, host, port, family=family
                )
            except OSError as error:
                last_error = error
                continue
            transport.close()
            return
        assert last_error is not None  # getaddrinfo never returns an empty list
        raise last_error
