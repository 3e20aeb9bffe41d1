"""The JSON API under ``/api/v1``: the CLI's commands as HTTP, over the same actions
(:mod:`monitor.actions`). A route that only reads the request, calls an action and hands
back its typed result is bound to it (:func:`monitor.http.routing.bind`); the others keep a
handler. :mod:`monitor.http.routing` does the rest (auth, bodies, idempotency,
errors) and :mod:`monitor.http.openapi` documents the same :data:`ROUTES`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from monitor import actions, collector
from monitor.actions import (
    CauseChanged,
    Closing,
    ConfigCheck,
    CustomerOverview,
    IncidentRecord,
    MaintenanceAdded,
    MaintenanceCancelled,
    MaintenanceListed,
    MaintenanceUpdatePosted,
    NotificationsLogged,
    UpdatePosted,
)
from monitor.errors import InputError
from monitor.http.cache import CachedPage
from monitor.http.contract_api import ROUTES as CONTRACT_ROUTES
from monitor.http.pages import cached
from monitor.http.push_api import ROUTES as PUSH_ROUTES
from monitor.http.routing import (
    READS,
    WRITES,
    Call,
    Input,
    Reply,
    Route,
    bind,
    path,
    path_id,
)
from monitor.http.schemas import (
    CauseChangeRequest,
    CloseQuery,
    CustomerBrief,
    IncidentCreate,
    IncidentQuery,
    IncidentUpdateRequest,
    MaintenanceCreate,
    MaintenanceQuery,
    MaintenanceUpdateRequest,
    MonthQuery,
    MonthReportJSON,
    NotificationLog,
    ReportQuery,
)
from monitor.present import parse_time, report_json_text
from monitor.store import Database

__all__ = ["ROUTES"]


def _month_span(call: Call, month: str | None) -> tuple[object, object]:
    if month is None:
        return None, None
    period = call.web.settings.month(month)
    return period.start, period.end


async def get_report(call: Call) -> web.StreamResponse:
    """A month's report (every customer's, or ``customer``'s), through the pages' cache
    (:func:`monitor.http.pages.cached`): computed off the event loop once for every
    request that asks for it meanwhile (single flight: a dashboard's panels asking at once
    cost one month's engine, not one each, nor its memory each), then kept while no record
    it reads has changed (another process's write: within half a second) and within the
    minute its projections are made at, as the customers' pages are; with its ETag.
    At 10,000 customers the report (93 MB) is over what the cache keeps: it is computed
    once per request again, and still once for the requests that come meanwhile."""
    query: ReportQuery = call.query
    context = call.web

    async def render(db: Database) -> CachedPage:
        # The collector paused until the report is encoded and let go: the collection that
        # ends bulk work (monitor.collector) then walks what is left, not the whole report
        # (at 10,000 customers 0.3 s holding the GIL, the daemon's loop with it).
        with collector.paused():
            report = await actions.month_report(db, context.settings, month=query.month,
                                                customer=query.customer,
                                                now=context.clock.now())
            text = report_json_text(report, indented=False)
            del report
        return CachedPage(text.encode("utf-8"), "application/json",
                          headers=(("Cache-Control", "no-cache"),))

    found = await cached(call, ("report", query.month, query.customer), render, probes=False)
    return found.response(call.request)


def _incident_id(call: Call) -> int:
    return call.id("incident_id")


_INCIDENT_ID: dict[str, Input] = {"incident_id": path_id("incident_id")}


async def list_incidents(call: Call) -> Reply:
    query: IncidentQuery = call.query
    since, until = _month_span(call, query.month)
    # The action refuses a service neither configured nor in any incident (a typo), as
    # for the CLI: an empty list would say it never failed.
    found = await actions.list_incidents(
        call.web.db, call.web.settings, since=since, until=until,  # type: ignore[arg-type]
        service=query.service, open_only=query.open)
    return Reply(200, found)


async def log_notification(call: Call) -> Reply:
    body: NotificationLog = call.body
    settings = call.web.settings
    try:
        logged = await actions.log_notification(
            call.web.db, settings, incident_id=_incident_id(call),
            at=parse_time(body.at, settings.timezone, "at"), channel=body.channel,
            customers=body.customers, note=body.note, actor=call.actor,
            now=call.web.clock.now())
    except InputError as exc:
        if exc.field == "at":  # shown as typed, then as read (as bind does for times)
            raise exc.as_typed(body.at) from None
        if exc.field != "customer":
            raise
        # The action names one customer (the CLI's repeated --customer); the body a list.
        raise InputError("customers", exc.value, exc.allowed) from None
    return Reply(201, logged)


async def list_maintenance(call: Call) -> Reply:
    query: MaintenanceQuery = call.query
    since, until = _month_span(call, query.month)
    return Reply(200, await actions.list_maintenance(
        call.web.db, since=since, until=until))  # type: ignore[arg-type]


async def check_running_config(call: Call) -> Reply:
    """The running configuration changes only on reload: checked once per configuration
    (a configuration of 20,000 targets takes a second, off the event loop) and answered
    from that, so a read token asking in a loop costs the daemon nothing."""
    settings = call.web.settings
    cached = call.web.running_check
    if cached is None or cached[0] is not settings:
        cached = (settings, await asyncio.to_thread(actions.check_config, settings.config))
        call.web.running_check = cached
    return Reply(200, cached[1])


async def check_config_text(call: Call) -> web.StreamResponse:
    """A configuration sent as YAML, checked in a child process (the daemon probes); the
    route runs one at a time. The child's JSON is the answer as it is."""
    checked = await actions.check_config_isolated(call.body)
    return web.Response(text=checked, content_type="application/json")


async def list_customers(call: Call) -> Reply:
    topology = call.web.settings.topology
    return Reply(200, [
        CustomerBrief(id=c.id, name=c.name, sites=[s.domain for s in c.sites]).model_dump()
        for c in sorted(topology.customers.values(), key=lambda c: c.id)
    ])


async def openapi(call: Call) -> web.StreamResponse:
    from monitor.http.openapi import openapi_document

    return web.json_response(openapi_document(call.request.app))


_ERRORS = {401: "Problem", 403: "Problem", 404: "Problem", 422: "Problem"}
_WRITE_ERRORS = {**_ERRORS, 409: "Problem", 413: "Problem", 415: "Problem"}

ROUTES: tuple[Route, ...] = (
    *CONTRACT_ROUTES,
    *PUSH_ROUTES,
    Route("GET", "/api/v1/openapi.json", openapi, "This document (OpenAPI 3.1)", "public",
          "meta", answers={200: dict}),
    Route("GET", "/api/v1/incidents", list_incidents, "Incidents (incident list)", "read",
          "incidents", query=IncidentQuery, answers={200: list[IncidentRecord], **_ERRORS}),
    Route("POST", "/api/v1/incidents",
          bind(actions.add_incident, status=201, times=("start", "end"), inputs=WRITES),
          "Record a manual incident (incident add; R-M3)", "write", "incidents",
          body=IncidentCreate, answers={201: IncidentRecord, **_WRITE_ERRORS},
          idempotent_key=True),
    Route("GET", "/api/v1/incidents/{incident_id}",
          bind(actions.get_incident, settings=False, inputs=_INCIDENT_ID),
          "One incident", "read", "incidents", answers={200: IncidentRecord, **_ERRORS},
          path_ids={"incident_id": "incident_id"}),
    Route("POST", "/api/v1/incidents/{incident_id}/cause",
          bind(actions.change_cause, settings=False, inputs={**_INCIDENT_ID, **WRITES}),
          "Change an incident's cause, with a reason (incident cause; R-EX)", "write",
          "incidents", body=CauseChangeRequest, answers={200: CauseChanged, **_WRITE_ERRORS},
          idempotent_key=True, path_ids={"incident_id": "incident_id"}),
    Route("POST", "/api/v1/incidents/{incident_id}/updates",
          bind(actions.post_update, settings=False, status=201,
               inputs={**_INCIDENT_ID, **WRITES}),
          "Post an operator's update: a status and a message, shown on the public pages "
          "(incident update)", "write", "incidents", body=IncidentUpdateRequest,
          answers={201: UpdatePosted, **_WRITE_ERRORS}, idempotent_key=True,
          path_ids={"incident_id": "incident_id"}),
    Route("POST", "/api/v1/incidents/{incident_id}/notifications", log_notification,
          "Log a notification made by phone or e-mail (incident notified; R-N1)", "write",
          "incidents", body=NotificationLog, answers={201: NotificationsLogged, **_WRITE_ERRORS},
          idempotent_key=True, path_ids={"incident_id": "incident_id"}),
    Route("GET", "/api/v1/maintenance", list_maintenance, "Maintenance windows "
          "(maintenance list)", "read", "maintenance", query=MaintenanceQuery,
          answers={200: list[MaintenanceListed], **_ERRORS}),
    Route("POST", "/api/v1/maintenance",
          bind(actions.add_maintenance, status=201, times=("start", "end", "notified_at"),
               inputs=WRITES),
          "Record a maintenance window (maintenance add; R-EX1, D-3)", "write", "maintenance",
          body=MaintenanceCreate, answers={201: MaintenanceAdded, **_WRITE_ERRORS},
          idempotent_key=True),
    Route("POST", "/api/v1/maintenance/{window_id}/updates",
          bind(actions.post_maintenance_update, settings=False, status=201,
               inputs={"window_id": path_id("window_id"), **WRITES}),
          "Post an operator's update of a maintenance window: a status and a message, shown "
          "on the public pages (maintenance update)", "write", "maintenance",
          body=MaintenanceUpdateRequest, answers={201: MaintenanceUpdatePosted, **_WRITE_ERRORS},
          idempotent_key=True, path_ids={"window_id": "window_id"}),
    Route("POST", "/api/v1/maintenance/{window_id}/cancel",
          bind(actions.cancel_maintenance, settings=False,
               inputs={"window_id": path_id("window_id"), **WRITES}),
          "Call off a maintenance window that has not begun (maintenance cancel; R-EX1, "
          "D-3)", "write", "maintenance",
          answers={200: MaintenanceCancelled, **_WRITE_ERRORS}, idempotent_key=True,
          path_ids={"window_id": "window_id"},
          description="It excludes nothing from then on; its notices still waiting are "
          "withdrawn, and each customer whose technical contact got the notice is e-mailed "
          "that it is cancelled. A window that began, or one cancelled already, is refused "
          "(422)."),
    Route("GET", "/api/v1/reports", get_report,
          "A month's SLA report (report; SPEC section 7)", "read", "reports",
          query=ReportQuery, answers={200: MonthReportJSON, 304: None, **_ERRORS},
          description="Computed once for every request that asks for the same report "
          "while it is being computed, and kept while no record it reads has changed, "
          "within the minute; with an ETag (If-None-Match: 304 Not Modified)."),
    Route("POST", "/api/v1/reports/{month}/close",
          bind(actions.close_month, inputs={"month": path("month"), **READS}),
          "Freeze a revision of an ended month (report close; R-C3)", "write", "reports",
          query=CloseQuery, answers={200: Closing, **_WRITE_ERRORS},
          description="A month once closed keeps its terms (its customers, their fees and "
          "dependencies, the policy) whatever the configuration says later; "
          "configured_terms=true takes them from the configuration as it is now."),
    Route("GET", "/api/v1/config/check", check_running_config,
          "The running configuration's check (check-config; D-1)", "read", "config",
          answers={200: ConfigCheck, **_ERRORS, 429: "Problem"}, one_at_a_time=True,
          description="Checked once per configuration in force (computed again after a "
          "reload); one at a time (another meanwhile: 429 with Retry-After)."),
    Route("POST", "/api/v1/config/check", check_config_text,
          "Check a configuration file sent as YAML, changing nothing (check-config)", "write",
          "config", body=str, body_kind="yaml",
          answers={200: ConfigCheck, **_WRITE_ERRORS, 429: "Problem"}, one_at_a_time=True,
          description="At most http.max_config_bytes (else 413); checked in a child "
          "process, one at a time (another meanwhile: 429 with Retry-After)."),
    Route("GET", "/api/v1/customers", list_customers, "Customers", "read", "customers",
          answers={200: list[CustomerBrief], **_ERRORS}),
    Route("GET", "/api/v1/customers/{customer}",
          bind(actions.customer_overview, name="get_customer",
               inputs={"customer": Call.customer, **READS}),
          "A customer's services, running month and last month", "customer_read", "customers",
          answers={200: CustomerOverview, **_ERRORS}, path_ids={"customer": "customer"}),
    Route("GET", "/api/v1/customers/{customer}/report",
          bind(actions.month_report, name="get_customer_report",
               inputs={"customer": Call.customer, **READS}),
          "A customer's SLA report for a month", "customer_read", "customers",
          query=MonthQuery, answers={200: MonthReportJSON, **_ERRORS},
          path_ids={"customer": "customer"}),
)
