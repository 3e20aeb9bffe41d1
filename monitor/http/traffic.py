"""The HTTP edge's traffic in metrics: every answer counted by route, method and status, and
its duration by route.

``sla_monitor_http_requests_total{route, method, code}`` and
``sla_monitor_http_request_duration_seconds{route}`` (histogram) count what the
application answered, the refusals of the security layer included: a client sending a
revoked token shows as a rate of ``code="401"`` on its route, a page gone slow as its
route's quantile. *Decision:* there is no access log (a query string may hold a link's
signature); these series are what an operator graphs instead (the dashboard's HTTP row).

Every label is bounded whatever a client sends: ``route`` is the route's path as the
route table writes it (``/api/v1/incidents/{incident_id}``, never the id asked for) or
``unmatched`` when no route answers that method on that path (404, 405); ``method`` is
one of :data:`METHODS` or ``other``; ``code`` the status answered. Connections refused at
the cap and requests that are not well-formed HTTP never reach a route: they are counted
where they are refused (:mod:`monitor.http.serving`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar, cast

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["METHODS", "UNMATCHED", "RequestMetrics", "of_registry", "request_metrics"]

#: The methods counted by name; any other a client sends is ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route of a request whose path no route has.
UNMATCHED = "unmatched"

T = TypeVar("T")

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, dict[object, object]] = (
    weakref.WeakKeyDictionary())


def of_registry(registry: CollectorRegistry, kind: Callable[[CollectorRegistry], T]) -> T:
    """The one ``kind(registry)`` of ``registry``: an application built twice on the same
    registry (the daemon's edge answers metrics and health before its database is open)
    shares its metrics, as Prometheus refuses a name registered twice."""
    kept = _BY_REGISTRY.setdefault(registry, {})
    if kind not in kept:
        kept[kind] = kind(registry)
    return cast(T, kept[kind])


class RequestMetrics:
    """The requests' counter and duration histogram of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "sla_monitor_http_requests",
            "HTTP requests answered, by route (its path as the route table writes it, or "
            "'unmatched'), method and status code",
            ["route", "method", "code"], registry=registry)
        self.duration = Histogram(
            "sla_monitor_http_request_duration_seconds",
            "How long the daemon took to answer an HTTP request, by route",
            ["route"], buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry)

    def record(self, request: web.Request, status: int, seconds: float) -> None:
        """Count one answer of ``status`` given to ``request`` after ``seconds``."""
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route).observe(seconds)


def route_of(request: web.Request) -> str:
    """The route ``request`` matched, as the route table writes its path, else
    :data:`UNMATCHED` (no route of its method on its path)."""
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


def request_metrics(registry: CollectorRegistry) -> RequestMetrics:
    """The one :class:`RequestMetrics` of ``registry``."""
    return of_registry(registry, RequestMetrics)
