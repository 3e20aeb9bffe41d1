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
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from monitor.config.schema import HTTPServer

__all__ = ["CappedTCPSite", "runner_options"]

log = logging.getLogger(__name__)

_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 33\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
            b"Too many connections; try again.\n")
_WARN_EVERY = 60.0  # seconds between two log lines about refused connections


def runner_options(http: HTTPServer) -> dict[str, Any]:
    """The ``web.AppRunner`` keyword arguments that carry ``http``'s limits."""
    return {"keepalive_timeout": http.header_timeout}


class _Refused(asyncio.Protocol):
    """A connection over the cap: one 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class CappedTCPSite(web.TCPSite):
    """``web.TCPSite`` that accepts at most ``max_connections`` open connections.

    >>> CappedTCPSite.__mro__[1].__name__
    'TCPSite'
    """

    __slots__ = ("_counter", "_limit", "_warned_at")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 max_connections: int, registry: CollectorRegistry | None = None,
                 **kwargs: Any) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._limit = max_connections
        self._warned_at = -_WARN_EVERY
        self._counter = Counter(
            "sla_monitor_http_connections_refused_total",
            "HTTP connections refused (503) because http.max_connections were open",
            registry=registry) if registry is not None else None

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        # A connection is counted from its connection_made, called right after this.
        if len(server.connections) < self._limit:
            return server()
        if self._counter is not None:
            self._counter.inc()
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("HTTP connection refused: too many open", extra={
                "max_connections": self._limit})
        return _Refused()

    async def start(self) -> None:
        # web.TCPSite.start, with the cap's protocol factory in place of the server itself.
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port)
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
