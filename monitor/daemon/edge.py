"""The HTTP edge as a part of the runtime: set up early, listening last, cleaned up late.

The runner is set up (routes, middlewares; nothing bound) before the parts it serves start,
so that its cleanup is registered in time to run after theirs; the socket is bound only
when everything else runs (a request never finds a part missing), by a
:class:`~monitor.http.serving.CappedListener` that gives the bound port (``http.listen``
may say port 0).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.actions.links import LinkKeys, load_link_keys
from monitor.actions.pushes import push_targets
from monitor.config import Settings
from monitor.errors import ListenError
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import TokenSet, load_tokens
from monitor.http.serving import CappedListener, runner_options

__all__ = ["EdgePlan", "HTTPEdge"]


@dataclass(frozen=True)
class EdgePlan:
    """The secrets of the HTTP edge, re-read: removing a line revokes it (README)."""

    settings: Settings
    tokens: TokenSet
    links: LinkKeys | None


class HTTPEdge:
    def __init__(self, web_: Web, registry: CollectorRegistry,
                 ready: Callable[[], Awaitable[Readiness]]) -> None:
        self.web = web_
        self.registry = registry
        self.ready = ready
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._listener: CappedListener | None = None

    @staticmethod
    def secrets(settings: Settings) -> EdgePlan:
        """Read once per start or reload (a missing or bad one stops the start: exit 2)."""
        return EdgePlan(settings,
                        load_tokens(settings.http, frozenset(settings.topology.customers),
                                    push_targets(settings)),
                        load_link_keys(settings.http))

    async def setup(self) -> None:
        # No access log: a query string may hold a customer link's signature.
        self._runner = web.AppRunner(
            make_app(self.registry, self.ready, self.web), access_log=None,
            **runner_options(self.web.settings.http, self.registry),
        )
        await self._runner.setup()

    async def bind(self) -> None:
        """The port bound, not yet served: a port already taken fails here, early in the
        start (before a cluster node joins and takes leases); :meth:`listen` serves last."""
        assert self._runner is not None, "setup() first"
        http = self.web.settings.http
        host, _, port = http.listen.rpartition(":")
        # The connection cap (monitor.http.serving); the header timeout is the runner's.
        self._listener = CappedListener(max_connections=http.max_connections,
                                        registry=self.registry)
        try:
            self.port = await self._listener.start(self._runner, host.strip("[]"), int(port),
                                                   serving=False)
        except OSError as exc:
            why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ListenError(f"http.listen: {http.listen} cannot be listened on: {why}"
                              ) from None
        self.web.bound_url = f"http://{host}:{self.port}"

    async def listen(self) -> None:
        if self._listener is None:
            await self.bind()
        assert self._listener is not None
        await self._listener.serve()

    async def cleanup(self) -> None:
        """No new connection; those open finish (the runner's cleanup); the socket closed."""
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._listener is not None:
            await self._listener.wait_closed()

    def prepare(self, settings: Settings) -> EdgePlan:
        return self.secrets(settings)

    def apply(self, plan: EdgePlan) -> None:
        self.web.settings = plan.settings
        self.web.tokens = plan.tokens
        self.web.links = plan.links
