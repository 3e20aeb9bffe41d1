"""What all probes share: HTTP client sessions, TLS contexts, the concurrency bound, the clock.

>>> async with ProbeSessions(max_concurrency=1000) as sessions:       # doctest: +SKIP
...     probe = build_probe("panel", config.services[0].probe, sessions)
...     result = await probe.check()

One long-lived ``aiohttp.ClientSession`` per TLS setting (verify on/off and
``ca_file``), so that 20,000 targets share a handful of sessions. Its connector
opens a fresh connection for every request (``force_close``) and does not cache
DNS: a probe must test resolution, connect and handshake each time, or a dead
resolver or a full accept queue would go unnoticed behind a pooled connection
(D-1). Create probes inside the running event loop, after entering this object.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from types import SimpleNamespace, TracebackType
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from monitor import __version__
from monitor.clock import Clock, SystemClock
from monitor.config.schema import TLSSettings
from monitor.errors import ConfigError, ConfigIssue

USER_AGENT = f"sla-monitor/{__version__} (uptime probe)"

_TLSKey = tuple[bool, str | None]


class Phases:
    """Monotonic timestamps of one request's connection phases, filled by trace callbacks.

    With ``force_close`` every redirect hop opens a new connection; each hop
    overwrites the previous one's stamps, so they describe the latest hop, which
    is also the one a deadline interrupts.
    """

    __slots__ = ("connect_end", "connect_start", "dns_end", "dns_start")

    def __init__(self) -> None:
        self.dns_start: float | None = None
        self.dns_end: float | None = None
        self.connect_start: float | None = None
        self.connect_end: float | None = None

    def dns(self) -> float | None:
        if self.dns_start is None or self.dns_end is None:
            return None
        return self.dns_end - self.dns_start

    def connect(self) -> float | None:
        """TCP connect plus, for HTTPS, the TLS handshake (aiohttp does both in one call)."""
        if self.connect_end is None:
            return None
        began = self.dns_end if self.dns_end is not None else self.connect_start
        return None if began is None else self.connect_end - began

    def unfinished(self) -> str | None:
        """The phase a deadline interrupted: ``dns``, ``connect`` or None (after connecting)."""
        if self.connect_start is None or self.connect_end is not None:
            return None
        if self.dns_start is not None and self.dns_end is None:
            return "dns"
        return "connect"


def _phases(context: SimpleNamespace) -> Phases | None:
    phases = context.trace_request_ctx
    return phases if isinstance(phases, Phases) else None


async def _on_connection_create_start(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    phases = _phases(context)
    if phases is not None:
        phases.connect_start = time.monotonic()
        phases.dns_start = phases.dns_end = phases.connect_end = None


async def _on_connection_create_end(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    phases = _phases(context)
    if phases is not None:
        phases.connect_end = time.monotonic()


async def _on_dns_start(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    phases = _phases(context)
    if phases is not None:
        phases.dns_start = time.monotonic()


async def _on_dns_end(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    phases = _phases(context)
    if phases is not None:
        phases.dns_end = time.monotonic()


class ProbeResponse(aiohttp.ClientResponse):
    """A response that keeps the peer's certificate (DER) from its connection.

    With ``force_close`` a small body often arrives with the headers and aiohttp
    releases (closes) the connection before ``request()`` returns, so the
    certificate must be taken while the connection is still there.
    """

    peer_certificate: bytes | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.peer_certificate = ssl_object.getpeercert(binary_form=True)
        return await super().start(connection)


def phase_trace_config() -> aiohttp.TraceConfig:
    """Trace callbacks that stamp a :class:`Phases` passed as ``trace_request_ctx``.

    aiohttp signals DNS only when it really resolves (not for IP literals) and
    "connection create" around resolve + connect + TLS handshake; there is no
    separate handshake signal, so HTTPS ``connect`` includes TLS.
    """
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(_on_connection_create_start)
    trace.on_connection_create_end.append(_on_connection_create_end)
    trace.on_dns_resolvehost_start.append(_on_dns_start)
    trace.on_dns_resolvehost_end.append(_on_dns_end)
    trace.freeze()
    return trace


class ProbeSessions:
    """The shared runtime of every probe; an async context manager that closes it all.

    ``semaphore`` bounds the probes in flight (config ``monitor.max_concurrency``);
    a probe's deadline starts only once it holds a slot, so a busy monitor does
    not make targets look slow. ``clock`` stamps ``ProbeResult.at``.
    """

    def __init__(
        self,
        max_concurrency: int = 1000,
        *,
        clock: Clock | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.semaphore = asyncio.Semaphore(max_concurrency)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.user_agent = user_agent
        self._trace = phase_trace_config()
        self._sessions: dict[_TLSKey, aiohttp.ClientSession] = {}
        self._verifying: dict[str | None, ssl.SSLContext] = {}
        self._not_verifying: ssl.SSLContext | None = None
        self._closed = False

    async def __aenter__(self) -> ProbeSessions:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    def verifying_context(self, tls: TLSSettings, owner: str = "probe") -> ssl.SSLContext:
        """The system trust store plus ``tls.ca_file`` ("extra CA bundle"), verifying
        chain and host name. ``owner`` names the target in a ConfigError."""
        context = self._verifying.get(tls.ca_file)
        if context is None:
            context = ssl.create_default_context()
            if tls.ca_file is not None:
                try:
                    context.load_verify_locations(cafile=tls.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    raise ConfigError(
                        f"target {owner!r}",
                        [
                            ConfigIssue(
                                "probe.tls.ca_file",
                                None,
                                f"cannot load the CA bundle ({reason}); "
                                "expected a readable PEM file of CA certificates",
                                tls.ca_file,
                            )
                        ],
                    ) from exc
            self._verifying[tls.ca_file] = context
        return context

    def not_verifying_context(self) -> ssl.SSLContext:
        """Accepts any certificate: for reading an expired or wrong-host one."""
        if self._not_verifying is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._not_verifying = context
        return self._not_verifying

    def http_session(self, tls: TLSSettings, owner: str = "probe") -> aiohttp.ClientSession:
        """The session for this TLS setting, created on first use (needs a running loop)."""
        if self._closed:
            raise RuntimeError("ProbeSessions is closed")
        key: _TLSKey = (tls.verify, tls.ca_file if tls.verify else None)
        session = self._sessions.get(key)
        if session is None:
            ssl_setting: ssl.SSLContext | bool = (
                self.verifying_context(tls, owner) if tls.verify else False
            )
            session = aiohttp.ClientSession(**self._session_options(ssl_setting))
            self._sessions[key] = session
        return session

    def _session_options(self, ssl_setting: ssl.SSLContext | bool) -> dict[str, Any]:
        connector = aiohttp.TCPConnector(
            force_close=True,
            use_dns_cache=False,
            # The semaphore is the one bound; a second queue here would hide waiting time.
            limit=0,
            ssl=ssl_setting,
        )
        return {
            "connector": connector,
            # Deadlines are per probe (asyncio.timeout in check()); none here.
            "timeout": aiohttp.ClientTimeout(total=None),
            "trace_configs": [self._trace],
            "response_class": ProbeResponse,
            # Probes are stateless: no cookies carried from one check to the next.
            "cookie_jar": aiohttp.DummyCookieJar(),
            "headers": {"User-Agent": self.user_agent},
            # Proxies from the environment would test the proxy, not the target.
            "trust_env": False,
        }
