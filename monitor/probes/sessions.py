"""What all probes share: HTTP client sessions, TLS contexts, the concurrency bound, the clock.

>>> async with ProbeSessions(max_concurrency=1000) as sessions:       # doctest: +SKIP
...     probe = build_probe("panel", config.services[0].probe, sessions)
...     result = await probe.check()

One long-lived ``aiohttp.ClientSession`` per TLS setting (verify on/off and
``ca_file``), so that 40,000 targets share a handful of sessions. Its connector
opens a fresh connection for every request (``force_close``) and does not cache
DNS: a probe must test resolution, connect and handshake each time, or a dead
resolver or a full accept queue would go unnoticed behind a pooled connection
(D-1). Create probes inside the running event loop, after entering this object.

* **One resolver** for every probe (HTTP, TCP, certificates) and the resolver
  canary (R-M2): the system's (``getaddrinfo`` in a thread: ``/etc/hosts``,
  ``/etc/resolv.conf``, nsswitch) or, with ``monitor.resolver.nameservers``,
  c-ares asking those servers (``aiohttp.AsyncResolver``). A reload swaps it
  in place (:meth:`ProbeSessions.prepare_resolver`, :meth:`ProbeSessions.use_resolver`).
* **Phase timings without aiohttp's tracing**: a probe puts its :class:`Phases`
  in a context variable (:func:`timing`) and the connector and resolver stamp
  it. aiohttp's ``TraceConfig`` sends about ten signals per request, each an
  awaited coroutine, and rebuilds the request URL for them: about a tenth of
  the daemon's CPU per probe (measured, ``benchmarks/HISTORY.md``).
* **A byte budget** (:class:`ByteBudget`, ``monitor.max_body_memory``): the
  response bodies all probes hold at once, so that hundreds of hostile targets
  with large ``max_body_bytes`` cannot take the daemon's memory (SPEC section 8).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import socket
import ssl
import time
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.resolver import AsyncResolver, ThreadedResolver

from monitor import __version__
from monitor.actions.push_book import PushBook
from monitor.clock import Clock, SystemClock
from monitor.config.schema import ResolverSettings, TLSSettings
from monitor.errors import ConfigError, ConfigIssue, DNSError
from monitor.probes.base import shorten
from monitor.probes.stalls import Stalls

T = TypeVar("T")

USER_AGENT = f"sla-monitor/{__version__} (uptime probe)"

_TLSKey = tuple[bool, str | None]


class Phases:
    """Monotonic timestamps of one request's connection phases, stamped by
    :class:`TimedConnector` and :class:`TimedResolver` (see :func:`timing`).

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


_CURRENT: contextvars.ContextVar[Phases | None] = contextvars.ContextVar(
    "sla_monitor_probe_phases", default=None
)


def timing(phases: Phases) -> contextvars.Token[Phases | None]:
    """Stamp ``phases`` for the probe running in this task until :func:`done_timing`.

    Each probe runs in a task of its own (a context of its own); a check awaited
    inside another (a server confirmed at once) stamps its own and restores the outer.
    """
    return _CURRENT.set(phases)


def done_timing(token: contextvars.Token[Phases | None]) -> None:
    _CURRENT.reset(token)


class TimedResolver(AbstractResolver):
    """The probes' one resolver: stamps the DNS phase of the probe that asks, and lets a
    reload swap what it asks (the system, or c-ares with ``nameservers``).

    aiohttp asks it only for host names: an IP literal is never resolved, so its
    ``dns`` stays None.
    """

    def __init__(self, inner: AbstractResolver) -> None:
        self.inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        phases = _CURRENT.get()
        if phases is None:
            return await self.inner.resolve(host, port, family)
        phases.dns_start = time.monotonic()
        phases.dns_end = None
        addresses = await self.inner.resolve(host, port, family)
        phases.dns_end = time.monotonic()  # only once answered: a deadline cuts "dns"
        return addresses

    async def close(self) -> None:
        await self.inner.close()


class TimedConnector(aiohttp.TCPConnector):
    """A connector that stamps the connect phase (resolve + TCP connect + TLS handshake,
    which aiohttp does in one call) of the probe that asks."""

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Any],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Connection:
        phases = _CURRENT.get()
        if phases is None:
            return await super().connect(req, traces, timeout)
        phases.connect_start = time.monotonic()
        phases.dns_start = phases.dns_end = phases.connect_end = None
        connection = await super().connect(req, traces, timeout)
        phases.connect_end = time.monotonic()
        return connection

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[Any],
        req: ClientRequest,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, Any]:
        """One address (a literal IP, or a name with one address): the event loop connects
        to it itself, without happy eyeballs' Python socket set-up.

        aiohttp hands every connection to ``aiohappyeyeballs``, which builds a Python
        ``socket``, connects it with ``sock_connect`` and gives it to ``create_connection``:
        with a single address there is nothing to race, and uvloop's ``create_connection``
        does the same in C (measured: about a fifth of a probe's CPU was in that path,
        README "The runtime at scale"). Errors become what aiohttp raises.
        """
        if len(addr_infos) != 1 or self._local_addr_infos is not None:
            return await super()._wrap_create_connection(
                *args,
                addr_infos=addr_infos,
                req=req,
                timeout=timeout,
                client_error=client_error,
                **kwargs,
            )
        family, _, proto, _, address = addr_infos[0]
        try:
            if kwargs.get("ssl") and self._ssl_shutdown_timeout:
                kwargs["ssl_shutdown_timeout"] = self._ssl_shutdown_timeout
            connect: Any = self._loop.create_connection
            connected: tuple[asyncio.Transport, Any] = await connect(
                *args, host=address[0], port=address[1], family=family, proto=proto, **kwargs
            )
            return connected
        except ssl.CertificateError as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc


def build_resolver(settings: ResolverSettings) -> AbstractResolver:
    """The system's resolver, or c-ares asking ``settings.nameservers`` (``IP`` or
    ``IP:port``). Needs a running loop."""
    if not settings.nameservers:
        # Explicitly the system's: with aiodns installed, aiohttp's default would be c-ares,
        # which knows nothing of nsswitch (systemd-resolved, mDNS...).
        return ThreadedResolver()
    return AsyncResolver(nameservers=list(settings.nameservers))


class ByteBudget:
    """Bytes of response bodies held by all probes at once (``monitor.max_body_memory``).

    A probe takes what it is about to read (:meth:`take`, waiting in line while the
    budget is spent; its own deadline bounds the wait) and gives it back once done
    with it (:meth:`give`). One request never exceeds the whole budget.

    >>> budget = ByteBudget(100)
    >>> asyncio.run(budget.take(60)), budget.used, budget.peak
    (60, 60, 60)
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the byte budget must be at least 1, got {limit}")
        self.limit = limit
        self.used = 0
        self.peak = 0
        self.waits = 0  # takes that had to wait
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    async def take(self, size: int) -> int:
        """Wait until ``size`` bytes (at most the whole budget) fit; returns what was taken."""
        size = min(size, self.limit)
        if not self._waiters and self.used + size <= self.limit:
            self._grant(size)
            return size
        self.waits += 1
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.used -= size  # granted, but the probe was cancelled before it resumed
            elif entry in self._waiters:
                self._waiters.remove(entry)
            self._wake()
            raise
        return size

    def give(self, size: int) -> None:
        self.used = max(0, self.used - size)
        self._wake()

    def _grant(self, size: int) -> None:
        self.used += size
        self.peak = max(self.peak, self.used)

    def _wake(self) -> None:
        # First come, first served: a large take is not overtaken forever by small ones.
        while self._waiters:
            size, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self.used + size > self.limit:
                return
            self._waiters.popleft()
            self._grant(size)
            waiter.set_result(None)


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


class ProbeSessions:
    """The shared runtime of every probe; an async context manager that closes it all.

    ``semaphore`` bounds the probes in flight (config ``monitor.max_concurrency``);
    a probe's deadline starts only once it holds a slot, so a busy monitor does
    not make targets look slow. A probe worker's tick starts no more scheduled probes
    than ``max_concurrency`` at once (:class:`monitor.daemon.scheduler.ProbeSchedule`'s
    ``limit``): the semaphore's queue never holds thousands of waiting probes. ``clock`` stamps ``ProbeResult.at``. ``resolver``
    (``monitor.resolver``) and ``max_body_memory`` (the :class:`ByteBudget`) are
    shared by all probes too. Create it inside the running event loop.
    """

    def __init__(
        self,
        max_concurrency: int = 1000,
        *,
        clock: Clock | None = None,
        user_agent: str = USER_AGENT,
        resolver: ResolverSettings | None = None,
        max_body_memory: int = 64 * 1024 * 1024,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.max_concurrency = max_concurrency
        self.semaphore = asyncio.Semaphore(max_concurrency)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.user_agent = user_agent
        self.body_budget = ByteBudget(max_body_memory)
        self.resolver = TimedResolver(build_resolver(resolver or ResolverSettings()))
        self._sessions: dict[_TLSKey, aiohttp.ClientSession] = {}
        self._verifying: dict[str | None, ssl.SSLContext] = {}
        self._not_verifying: ssl.SSLContext | None = None
        self._closed = False
        self._retired: list[AbstractResolver] = []
        self._shared: dict[Any, Any] = {}
        # When this process was held up, for the judgement of a failure found late (R-M2).
        self.stalls = Stalls()
        # The pushes of push targets' jobs, as the HTTP edge receives them (monitor.probes.push).
        self.pushes = PushBook()
        with contextlib.suppress(RuntimeError):  # no running loop yet: at __aenter__
            self.stalls.start()

    async def __aenter__(self) -> ProbeSessions:
        self.stalls.start()
        return self

    def shared(self, value: T) -> T:
        """``value``, or an equal one already given out: what probes hold alike (the rules
        of an HTTP check, with its lean request's headers after the Host line) is kept
        once, not once a target. ``value`` is hashable and never changed afterwards."""
        return self._shared.setdefault(value, value)  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        self.stalls.stop()
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        retired, self._retired = [*self._retired, self.resolver.inner], []
        for resolver in retired:
            await resolver.close()

    # --- the resolver (R-M2) -------------------------------------------------------------------

    @staticmethod
    def prepare_resolver(settings: ResolverSettings) -> AbstractResolver:
        """A resolver for new settings, built but not in use (a reload's prepare step)."""
        return build_resolver(settings)

    def use_resolver(self, resolver: AbstractResolver) -> None:
        """Swap a prepared resolver in for every probe; the old one is closed with us (a
        lookup may still be running on it)."""
        self._retired.append(self.resolver.inner)
        self.resolver.inner = resolver

    async def resolve(self, host: str, port: int) -> list[tuple[int, str, int]]:
        """``(family, address, port)`` of ``host`` through the probes' resolver, in its order
        (TCP and certificate checks; HTTP asks through its connector). The DNS phase of
        the probe running is stamped."""
        try:
            infos = await self.resolver.resolve(host, port, socket.AF_UNSPEC)
        except OSError as error:  # gaierror from the system, OSError from c-ares
            reason = error.strerror or str(error) or type(error).__name__
            raise DNSError(shorten(f"DNS lookup for {host}:{port} failed: {reason}")) from None
        found: dict[tuple[int, str, int], None] = {}
        for info in infos:
            found[(int(info["family"]), str(info["host"]), int(info["port"]))] = None
        return list(found)

    async def lookup(self, name: str, within: float) -> tuple[bool, str, float]:
        """The resolver canary: ``(answered, detail, seconds)`` for one name lookup, given
        up after ``within`` seconds."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(within):
                addresses = await self.resolver.resolve(name, 0, socket.AF_UNSPEC)
        except TimeoutError:
            return False, f"lookup of {name} not answered within {within:g} s", within
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            return False, f"lookup of {name} failed: {reason}", time.monotonic() - started
        first = addresses[0]["host"] if addresses else "no address"
        return True, f"{name} is {first}", time.monotonic() - started

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
        connector = TimedConnector(
            force_close=True,
            use_dns_cache=False,
            # The semaphore is the one bound; a second queue here would hide waiting time.
            limit=0,
            ssl=ssl_setting,
            resolver=self.resolver,
        )
        return {
            "connector": connector,
            # Deadlines are per probe (asyncio.timeout in check()); none here.
            "timeout": aiohttp.ClientTimeout(total=None),
            "response_class": ProbeResponse,
            # Probes are stateless: no cookies carried from one check to the next.
            "cookie_jar": aiohttp.DummyCookieJar(),
            "read_bufsize": 16 * 1024,
            "headers": {"User-Agent": self.user_agent},
            # Proxies from the environment would test the proxy, not the target.
            "trust_env": False,
        }


class SlotCheck:
    """What a connection-level probe (TCP, DNS) takes from :class:`ProbeSessions`: the
    concurrency slot it checks in, the clock that stamps its result, the stall watch that
    tells its own stall from the target's (R-M2); with its target and timeout."""

    __slots__ = ("_clock", "_semaphore", "_stalls", "_timeout", "target_id")

    def __init__(self, target_id: str, timeout: float, sessions: ProbeSessions) -> None:
        self.target_id = target_id
        self._semaphore = sessions.semaphore
        self._stalls = sessions.stalls
        self._clock = sessions.clock
        self._timeout = timeout
