"""The HTTP server's own limits, below the application: how long a connection may take to
send a request's header, and how many connections may be open at once.

* **Header timeout** (``http.header_timeout``): a connection that has not sent a complete
  request header this long after it opened, or after its previous answer, is closed:
  one that sends nothing, half a header, or a header a byte at a time (aiohttp's
  keep-alive timer, which checks that the connection still waits for a request; a
  request being answered is never cut). It is also how long an idle keep-alive
  connection stays open.
* **Connection cap** (``http.max_connections``): a connection beyond the cap is answered
  ``503`` with ``Retry-After`` and closed at once, counted in
  ``sla_monitor_http_connections_refused_total``; the connections already open go on,
  and a new one is accepted as soon as one of them closes.

Without them, 500 idle sockets stayed open for 30 s, each a file descriptor and a task
of the daemon that probes.

* **Malformed requests** (a header with a control character, a URL that is not one, a
  request line that is not HTTP): aiohttp answers ``400`` and logged each at ``error``
  with a traceback, the offending bytes quoted (an ``Authorization`` header's too). They
  are the client's mistake, not the daemon's: one ``warning`` line at most once a minute,
  with how many since and the parser's reason without the bytes, and every one counted in
  ``sla_monitor_http_malformed_requests_total`` (:class:`ServerLog`). Anything else the
  server logs is logged as aiohttp logs it.

Only aiohttp's public API: the runner's ``server`` (a ``web.Server``, aiohttp's low-level
server) is the protocol factory that :class:`CappedListener` hands to asyncio's
``create_server`` in front of the cap; the bound port is read from the listening sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CollectorRegistry, Counter

from monitor.config.schema import HTTPServer
from monitor.logs import SaidEvery

__all__ = ["CappedListener", "ServerLog", "runner_options"]

log = logging.getLogger(__name__)

_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 33\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
            b"Too many connections; try again.\n")
_WARN_EVERY = 60.0  # seconds between two log lines about refused connections
_BACKLOG = 128  # connections waiting to be accepted (web.TCPSite's default)


def runner_options(http: HTTPServer, registry: CollectorRegistry | None = None
                   ) -> dict[str, Any]:
    """The ``web.AppRunner`` keyword arguments that carry ``http``'s limits, and the server's
    log (:class:`ServerLog`, its counter in ``registry``)."""
    return {"keepalive_timeout": http.header_timeout, "logger": ServerLog(registry)}


class ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger (``aiohttp.server``), with a malformed request said in one
    line at most once a minute and counted (module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.counter = Counter(
            "sla_monitor_http_malformed_requests",
            "HTTP requests refused (400) because they were not well-formed HTTP",
            registry=registry) if registry is not None else None
        self.said = SaidEvery(_WARN_EVERY)

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        if not isinstance(exc_info, HttpProcessingError):
            super().exception(msg, *args, exc_info=exc_info, **kwargs)
            return
        if self.counter is not None:
            self.counter.inc()
        refused = self.said.happened()
        if refused:
            # The parser's reason only: its message goes on to quote the bytes it refused.
            reason = str(exc_info.message).split(":", 1)[0].split("\n", 1)[0].strip()
            log.warning("malformed HTTP request refused (400)", extra={
                "remote": args[0] if args else None, "reason": reason[:100],
                "refused": refused})


class _Refused(asyncio.Protocol):
    """A connection over the cap: one 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class CappedListener:
    """A listening socket that serves an aiohttp runner with at most ``max_connections``
    open connections (what ``web.TCPSite`` does, with the cap in front of the server).

    Start it after ``runner.setup()``; at the end, :meth:`close` it (no new connection),
    then ``runner.cleanup()`` (the open ones finish), then :meth:`wait_closed`.

    >>> CappedListener(max_connections=1).port is None
    True
    """

    def __init__(self, *, max_connections: int, registry: CollectorRegistry | None = None
                 ) -> None:
        self.max_connections = max_connections
        self.port: int | None = None  # the bound port, once listening
        self.counter = Counter(
            "sla_monitor_http_connections_refused_total",
            "HTTP connections refused (503) because http.max_connections were open",
            registry=registry) if registry is not None else None
        self.listening: asyncio.Server | None = None
        self.refused_said = SaidEvery(_WARN_EVERY)

    async def start(
        self, runner: web.BaseRunner, host: str, port: int, serving: bool = True
    ) -> int:
        """Bind ``host``:``port`` (port 0: any free one) and listen, or with ``serving``
        False only bind (a port already taken fails here; :meth:`serve` listens later);
        the bound port."""
        server = runner.server
        if server is None:
            raise RuntimeError("runner.setup() first")

        def protocol() -> asyncio.BaseProtocol:
            # A connection is counted from its connection_made, called right after this.
            if len(server.connections) < self.max_connections:
                return server()
            return self.refuse()

        loop = asyncio.get_running_loop()
        self.listening = await loop.create_server(protocol, host, port, backlog=_BACKLOG,
                                                  start_serving=serving)
        sockets = self.listening.sockets
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        return self.port

    async def serve(self) -> None:
        """Listen and accept on the socket :meth:`start` bound without serving."""
        assert self.listening is not None, "start() first"
        await self.listening.start_serving()

    def refuse(self) -> asyncio.Protocol:
        if self.counter is not None:
            self.counter.inc()
        if self.refused_said.happened():
            log.warning("HTTP connection refused: too many open", extra={
                "max_connections": self.max_connections})
        return _Refused()

    def close(self) -> None:
        """No new connection (those open go on until the runner's cleanup)."""
        if self.listening is not None:
            self.listening.close()

    async def wait_closed(self) -> None:
        if self.listening is not None:
            await self.listening.wait_closed()
            self.listening = None
