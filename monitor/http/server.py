"""aiohttp application: metrics and health. Later issues add the API, status page and claim form.

* ``/metrics``: the daemon's registry in Prometheus' text format, rendered in a worker
  thread: at 40,000 targets the page has 80,000 series and takes a few hundred
  milliseconds of Python, which on the event loop would hold every probe due meanwhile
  (the registry is read under its own locks, the per-target gauges from a copy).
* ``/healthz``: liveness; answers as long as the event loop does.
* ``/readyz``: readiness; 200 only when the database takes a write and the scheduler runs
  (503 otherwise, within a bound), with the number of targets and any warning, e.g.
  ``{"status": "ready", "checks": {"database": true, "scheduler": true}, "targets": 42,
  "warnings": []}``. *Decision:* a daemon with no targets is ready (it runs as
  configured) and says so in ``warnings``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass(frozen=True)
class Readiness:
    """What ``/readyz`` reports: each check, the targets monitored, warnings for people."""

    checks: dict[str, bool]
    targets: int
    warnings: list[str] = field(default_factory=list)
    cluster: dict[str, Any] | None = None  # issue 15: this node's role, leases, its peers


ReadyCheck = Callable[[], Awaitable[Readiness]]

REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
READY_KEY = web.AppKey("ready", object)


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(generate_latest, request.app[REGISTRY_KEY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    check: ReadyCheck = request.app[READY_KEY]  # type: ignore[assignment]
    readiness = await check()
    ready = all(readiness.checks.values())
    return web.json_response(
        {
            "status": "ready" if ready else "not ready",
            "checks": readiness.checks,
            "targets": readiness.targets,
            "warnings": readiness.warnings,
            **({"cluster": readiness.cluster} if readiness.cluster is not None else {}),
        },
        status=200 if ready else 503,
    )


def make_app(registry: CollectorRegistry, ready: ReadyCheck) -> web.Application:
    app = web.Application()
    app[REGISTRY_KEY] = registry
    app[READY_KEY] = ready
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
