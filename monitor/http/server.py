"""The aiohttp application: everything the daemon serves over HTTP, from one route table.

==============================================  ===============================================
``/``                                           the public status page (:mod:`.pages`)
``/feed.atom``, ``/api/v2/summary.json``,       its feed, Statuspage-compatible JSON and
``/api/v2/status.json``, ``/badge/S/*.svg``     badges (:mod:`.public`)
``/subscriptions``, ``/subscriptions/confirm``  the status page's e-mail subscriptions: its form,
``/subscriptions/requested``                    its answer,
``/subscriptions/unsubscribe``                  the confirmation and one-click unsubscribe links
                                                (:mod:`.subscriptions`)
``/customer/ID``                                a customer's page: signed link or token
``/customer/ID/evidence/MONTH.zip``             a closed month's evidence archive (the same)
``/api/v1/...``                                 the JSON API over the actions (:mod:`.api`),
                                                documented at ``/api/v1/openapi.json``
``/metrics``, ``/healthz``, ``/readyz``         Prometheus metrics, liveness, readiness
``/.well-known/sla-monitor-keys.json``          the evidence chain's public keys
==============================================  ===============================================

Every GET route answers ``HEAD`` too (the same status and headers, no body) and every
path ``OPTIONS`` (204 with ``Allow``): load balancers and monitors send them. Neither is
in the OpenAPI document (derived from GET, as RFC 9110 and OpenAPI tools take them); its
description says so.

Every answer carries the security headers (:func:`security_headers`): a Content Security
Policy without inline script or style (the pages have no script at all), no MIME
sniffing, no referrer, no framing. Unknown paths and methods under ``/api/`` are answered
in the API's error shape; an unexpected error is answered 500 without details, counted
(``sla_monitor_http_unexpected_errors_total``) and logged in one line, never a token or a
body, its traceback once a minute per distinct error (:mod:`.failures`). Every answer is
counted by route, method and status, with its duration (:mod:`.traffic`).

``/metrics`` is rendered in a worker thread: at 40,000 targets the page has 80,000 series
and takes a few hundred milliseconds of Python, which on the event loop would hold every
probe due meanwhile (the registry is read under its own locks).

``/readyz`` is 200 only when the database takes a write, the scheduler runs and no
incident change waits too long to be written (503 otherwise, within a bound), with the
number of targets and any warning, e.g. ``{"status": "ready", "checks": {"database":
true, "scheduler": true, "incidents": true}, "targets": 42, "warnings": []}``. *Decision:* a daemon with no targets is ready (it runs as
configured) and says so in ``warnings``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from monitor.actions.evidence import published_keys
from monitor.daemon.metrics import exposition
from monitor.http.api import ROUTES as API_ROUTES
from monitor.http.context import WEB, Web
from monitor.http.failures import UnexpectedErrors, unexpected_errors
from monitor.http.openapi import OPENAPI_KEY
from monitor.http.pages import (
    claim_form,
    claim_page,
    customer_page,
    evidence_download,
    incident_page,
    message,
    static_file,
    status_page,
)
from monitor.http.problems import problem
from monitor.http.public import (
    availability_badge,
    feed,
    status_badge,
    statuspage_incidents,
    statuspage_maintenances,
    statuspage_status,
    statuspage_summary,
)
from monitor.http.routing import BODY_LIMIT, Call, Route, endpoint
from monitor.http.schemas import ClaimForm, SubscribeForm, SubscriptionLinkForm
from monitor.http.subscriptions import (
    confirm_form,
    confirm_page,
    requested_page,
    subscribe_form,
    unsubscribe_form,
    unsubscribe_page,
)
from monitor.http.traffic import RequestMetrics, request_metrics
from monitor.present.html import environment
from monitor.present.language import N_

__all__ = ["READY_KEY", "REGISTRY_KEY", "ROUTES", "Readiness", "make_app", "security_headers"]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Readiness:
    """What ``/readyz`` reports: each check, the targets monitored, warnings for people."""

    checks: dict[str, bool]
    targets: int
    warnings: list[str] = field(default_factory=list)
    cluster: dict[str, Any] | None = None  # this node's role, leases, its peers


ReadyCheck = Callable[[], Awaitable[Readiness]]

REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
ERRORS_KEY = web.AppKey("unexpected_errors", UnexpectedErrors)
TRAFFIC_KEY = web.AppKey("request_metrics", RequestMetrics)
READY_KEY = web.AppKey("ready", object)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


async def metrics(call: Call) -> web.StreamResponse:
    body = await asyncio.to_thread(exposition, call.request.app[REGISTRY_KEY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def healthz(_call: Call) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


async def evidence_keys(call: Call) -> web.StreamResponse:
    """Every public key that signed the evidence chain (kept after rotation), for customers
    verifying an exported archive offline (``sla-monitor evidence verify --key``)."""
    context = call.request.app[WEB]
    document = await published_keys(context.db, context.evidence_key)
    return web.json_response(document, headers={"Cache-Control": "public, max-age=300"})


async def readyz(call: Call) -> web.StreamResponse:
    check: ReadyCheck = call.request.app[READY_KEY]  # type: ignore[assignment]
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


_PROBLEM = {404: "Problem"}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/", status_page, "The public status page", "public", "pages",
          produces="html", answers={200: str}),
    Route("GET", "/incidents/{incident_id}", incident_page,
          "A public incident: its timeline and the operators' updates", "public", "pages",
          produces="html", answers={200: str, 404: str}),
    Route("GET", "/static/{name}", static_file, "The pages' stylesheet and icon", "public",
          "pages", produces="text", answers={200: str, 404: str}),
    Route("GET", "/customer/{customer}", customer_page,
          "A customer's page (signed link: expires, key, sig; or a bearer token)", "public",
          "pages", produces="html", answers={200: str, 303: None, 401: str, 404: str}),
    Route("POST", "/customer/{customer}/claims", claim_form,
          "The claim form (R-C1): the session's cookie and CSRF token; 303 to the receipt",
          "public", "pages", produces="html", form=ClaimForm,
          answers={303: None, 401: str, 403: str, 413: str, 415: str, 422: str}),
    Route("GET", "/customer/{customer}/evidence/{month}.zip", evidence_download,
          "A closed month's evidence archive (as `sla-monitor evidence export`), for the "
          "customer's session or token; one at a time", "public", "pages", produces="zip",
          answers={200: str, 401: str, 404: str, 429: "Problem"}, one_at_a_time=True),
    Route("GET", "/customer/{customer}/claims/{claim_id}", claim_page,
          "A claim's receipt and state", "public", "pages", produces="html",
          answers={200: str, 401: str, 404: str}),
    Route("POST", "/subscriptions", subscribe_form,
          "Subscribe to e-mail notices of public services (the status page's form; a "
          "confirmation link is e-mailed)", "public", "pages", produces="html",
          form=SubscribeForm, answers={303: None, 404: str, 413: str, 415: str, 422: str,
                                       429: str}),
    Route("GET", "/subscriptions/requested", requested_page,
          "The subscription form's answer (its redirect, with a signed receipt: token, "
          "expires, key, sig): where the confirmation link was sent, until when it works",
          "public", "pages", produces="html", answers={200: str, 400: str, 410: str}),
    Route("GET", "/subscriptions/confirm", confirm_page,
          "A subscription's confirmation link (token, expires, key, sig): a page with the "
          "button that confirms, or why the link does not work", "public", "pages",
          produces="html", answers={200: str, 400: str, 410: str}),
    Route("POST", "/subscriptions/confirm", confirm_form,
          "Confirm a subscription (the link's page's button)", "public", "pages",
          produces="html", form=SubscriptionLinkForm,
          answers={200: str, 400: str, 410: str, 413: str, 415: str}),
    Route("GET", "/subscriptions/unsubscribe", unsubscribe_page,
          "The notices' unsubscribe link (token, key, sig): a page with a button, or why "
          "the link does not work", "public", "pages", produces="html",
          answers={200: str, 400: str}),
    Route("POST", "/subscriptions/unsubscribe", unsubscribe_form,
          "Unsubscribe with one click (RFC 8058: List-Unsubscribe=One-Click, urlencoded or "
          "multipart/form-data), no login",
          "public", "pages", produces="html", form=SubscriptionLinkForm,
          answers={200: str, 400: str, 413: str, 415: str}),
    Route("GET", "/feed.atom", feed, "Incidents and maintenance (Atom; ETag)", "public",
          "status", produces="xml", answers={200: str, 304: None}),
    Route("GET", "/api/v2/summary.json", statuspage_summary,
          "Statuspage-compatible summary", "public", "status", answers={200: dict}),
    Route("GET", "/api/v2/incidents.json", statuspage_incidents,
          "Statuspage-compatible incidents (open and the last 90 days)", "public", "status",
          answers={200: dict}),
    Route("GET", "/api/v2/scheduled-maintenances.json", statuspage_maintenances,
          "Statuspage-compatible scheduled maintenances", "public", "status",
          answers={200: dict}),
    Route("GET", "/api/v2/status.json", statuspage_status, "Statuspage-compatible status",
          "public", "status", answers={200: dict}),
    Route("GET", "/badge/{service}/status.svg", status_badge, "A public service's state",
          "public", "status", produces="svg", answers={200: str, 304: None, **_PROBLEM},
          path_ids={"service": "service"}),
    Route("GET", "/badge/{service}/availability.svg", availability_badge,
          "A public service's availability this month", "public", "status", produces="svg",
          answers={200: str, 304: None, **_PROBLEM}, path_ids={"service": "service"}),
    Route("GET", "/metrics", metrics, "Prometheus metrics", "public", "meta",
          produces="text", answers={200: str}),
    Route("GET", "/healthz", healthz, "Liveness", "public", "meta", answers={200: dict}),
    Route("GET", "/.well-known/sla-monitor-keys.json", evidence_keys,
          "The public keys that sign the evidence chain (Ed25519, with their key ids)",
          "public", "meta", answers={200: dict}),
    Route("GET", "/readyz", readyz, "Readiness: database and scheduler", "public", "meta",
          answers={200: dict, 503: dict}),
    *API_ROUTES,
)

_BASIC = {"/metrics", "/healthz", "/readyz"}


@web.middleware
async def counted(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Each answer counted by route, method and status, with its duration (:mod:`.traffic`):
    the outermost layer, so that it sees the answers of :func:`security_headers` too."""
    began = time.perf_counter()
    response = await handler(request)
    request.app[TRAFFIC_KEY].record(request, response.status, time.perf_counter() - began)
    return response


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = _http_error(request, exc)
    except Exception as exc:
        context = request.app.get(WEB)
        if context is not None and context.db.outage(exc):
            response = _database_away(request)
        else:  # answered 500; counted and logged (.failures)
            request.app[ERRORS_KEY].record(request.method, request.path, exc)
            response = (problem(500, "internal", "an unexpected error; it is logged")
                        if request.path.startswith("/api/") else web.Response(
                            status=500, text="An unexpected error; it is logged.\n"))
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


#: Seconds a client is asked to wait while the database is away (SPEC section 8).
DATABASE_RETRY_AFTER = 30


def _database_away(request: web.Request) -> web.StreamResponse:
    """The database does not answer (restarting, unreachable, locked past its timeout):
    503 and Retry-After, not a 500. It is no fault of the request nor a bug; the store
    says it once per outage in the log (``database unavailable``), not once per request."""
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if request.path.startswith("/api/"):
        return problem(503, "database_unavailable",
                       "the database does not answer right now; try again later",
                       headers=headers)
    response = message(request, request.app[WEB], 503, N_("Temporarily unavailable"),
                       N_("The records cannot be read right now. Please try again in a "
                          "minute."))
    response.headers.update(headers)
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        if exc.status in (404, 405) and WEB in request.app and request.method in ("GET", "HEAD"):
            # A form's address opened in a browser (the address bar after "Subscribe") is
            # no page either: said in the reader's words, with the way back.
            answer = message(request, request.app[WEB], exc.status, N_("Not found"),
                             N_("There is no page here."))
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        return web.Response(status=exc.status, text=exc.text, headers=exc.headers)
    if exc.status == 405:
        return problem(405, "method_not_allowed", f"{request.method} is not allowed here",
                       headers={"Allow": exc.headers.get("Allow", "")})
    if exc.status == 413:
        return problem(413, "too_large", f"the request body is over {BODY_LIMIT} bytes")
    if exc.status == 404:
        return problem(404, "not_found", "no such resource")
    return web.Response(status=exc.status, text=exc.text, headers=exc.headers)


def make_app(registry: CollectorRegistry, ready: ReadyCheck, context: Web | None = None) -> web.Application:
    """The application; without ``context`` (no database yet) only metrics and health."""
    # Bodies are read by routing.read_limited, each within its own limit.
    largest = context.settings.http.max_config_bytes if context is not None else BODY_LIMIT
    app = web.Application(client_max_size=largest, middlewares=[counted, security_headers])
    app[REGISTRY_KEY] = registry
    app[ERRORS_KEY] = unexpected_errors(registry)
    app[TRAFFIC_KEY] = request_metrics(registry)
    app[READY_KEY] = ready
    routes = ROUTES if context is not None else tuple(r for r in ROUTES if r.path in _BASIC)
    if context is not None:
        app[WEB] = context
        app[aiohttp_jinja2.APP_KEY] = environment()
    methods: dict[str, list[str]] = {}
    for route in routes:
        handler = endpoint(route)
        app.router.add_route(route.method, _aiohttp_path(route.path), handler)
        methods.setdefault(route.path, []).append(route.method)
        if route.method == "GET":
            # The same handler: the same status and headers; aiohttp sends no body to HEAD.
            app.router.add_route("HEAD", _aiohttp_path(route.path), handler)
            methods[route.path].append("HEAD")
    for path, verbs in methods.items():
        app.router.add_route("OPTIONS", _aiohttp_path(path), _options(verbs))
    app[OPENAPI_KEY] = routes  # the document is built at its first request
    return app


def _options(methods: list[str]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``OPTIONS``: 204 and the methods of the path (no credentials needed: it says
    nothing the OpenAPI document does not)."""
    allow = ", ".join([*methods, "OPTIONS"])

    async def options(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={"Allow": allow})

    return options


def _aiohttp_path(path: str) -> str:
    return path
