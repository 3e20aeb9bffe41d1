"""The JSON API under ``/api/v1``: the CLI's commands as HTTP, over the same actions
(:mod:`monitor.actions`). Handlers only read the request, call an action and hand back
its typed result; :mod:`monitor.http.routing` does the rest (auth, bodies, idempotency,
errors) and :mod:`monitor.http.openapi` documents the same :data:`ROUTES`.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from monitor import actions
from monitor.actions import (
    CauseChanged,
    Closing,
    ConfigCheck,
    CustomerOverview,
    IncidentRecord,
    MaintenanceAdded,
    MaintenanceListed,
    NotificationsLogged,
)
from monitor.errors import InputError
from monitor.http.contract_api import ROUTES as CONTRACT_ROUTES
from monitor.http.routing import Call, Reply, Route
from monitor.http.schemas import (
    CauseChangeRequest,
    CustomerBrief,
    IncidentCreate,
    IncidentQuery,
    MaintenanceCreate,
    MaintenanceQuery,
    MonthQuery,
    MonthReportJSON,
    NotificationLog,
    ReportQuery,
)
from monitor.present import parse_time

__all__ = ["ROUTES"]


def _month_span(call: Call, month: str | None) -> tuple[object, object]:
    if month is None:
        return None, None
    period = call.web.settings.month(month)
    return period.start, period.end


def _incident_id(call: Call) -> int:
    return call.id("incident_id")


async def list_incidents(call: Call) -> Reply:
    query: IncidentQuery = call.query
    since, until = _month_span(call, query.month)
    found = await actions.list_incidents(
        call.web.db, since=since, until=until, service=query.service,  # type: ignore[arg-type]
        open_only=query.open)
    return Reply(200, found)


async def add_incident(call: Call) -> Reply:
    body: IncidentCreate = call.body
    settings = call.web.settings
    incident = await actions.add_incident(
        call.web.db,
        settings,
        service=body.service,
        start=parse_time(body.start, settings.timezone, "start"),
        end=parse_time(body.end, settings.timezone, "end"),
        cause=body.cause,
        note=body.note,
        actor=call.actor,
        now=call.web.clock.now(),
    )
    return Reply(201, incident)


async def get_incident(call: Call) -> Reply:
    return Reply(200, await actions.get_incident(call.web.db, incident_id=_incident_id(call)))


async def change_cause(call: Call) -> Reply:
    body: CauseChangeRequest = call.body
    changed = await actions.change_cause(
        call.web.db, incident_id=_incident_id(call), cause=body.cause, reason=body.reason,
        actor=call.actor, now=call.web.clock.now())
    return Reply(200, changed)


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


async def add_maintenance(call: Call) -> Reply:
    body: MaintenanceCreate = call.body
    settings = call.web.settings
    notified = body.notified_at
    added = await actions.add_maintenance(
        call.web.db, settings, services=body.services,
        start=parse_time(body.start, settings.timezone, "start"),
        end=parse_time(body.end, settings.timezone, "end"), reason=body.reason,
        notified_at=None if notified is None else parse_time(
            notified, settings.timezone, "notified_at"),
        actor=call.actor, now=call.web.clock.now())
    return Reply(201, added)


async def get_report(call: Call) -> Reply:
    query: ReportQuery = call.query
    report = await actions.month_report(call.web.db, call.web.settings, month=query.month,
                                        customer=query.customer, now=call.web.clock.now())
    return Reply(200, report)


async def close_month(call: Call) -> Reply:
    closing = await actions.close_month(call.web.db, call.web.settings,
                                        month=call.path("month"), now=call.web.clock.now())
    return Reply(200, closing)


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


def _customer(call: Call) -> str:
    customer = call.path("customer")
    if customer not in call.web.settings.topology.customers:
        raise InputError("customer", customer, "a configured customer id")
    return customer


async def get_customer(call: Call) -> Reply:
    overview = await actions.customer_overview(
        call.web.db, call.web.settings, customer=_customer(call), now=call.web.clock.now())
    return Reply(200, overview)


async def get_customer_report(call: Call) -> Reply:
    month = call.query.month
    report = await actions.month_report(call.web.db, call.web.settings, month=month,
                                        customer=_customer(call), now=call.web.clock.now())
    return Reply(200, report)


async def openapi(call: Call) -> web.StreamResponse:
    from monitor.http.openapi import openapi_document

    return web.json_response(openapi_document(call.request.app))


_ERRORS = {401: "Problem", 403: "Problem", 404: "Problem", 422: "Problem"}
_WRITE_ERRORS = {**_ERRORS, 409: "Problem", 413: "Problem", 415: "Problem"}

ROUTES: tuple[Route, ...] = (
    *CONTRACT_ROUTES,
    Route("GET", "/api/v1/openapi.json", openapi, "This document (OpenAPI 3.1)", "public",
          "meta", answers={200: dict}),
    Route("GET", "/api/v1/incidents", list_incidents, "Incidents (incident list)", "read",
          "incidents", query=IncidentQuery, answers={200: list[IncidentRecord], **_ERRORS}),
    Route("POST", "/api/v1/incidents", add_incident,
          "Record a manual incident (incident add; R-M3)", "write", "incidents",
          body=IncidentCreate, answers={201: IncidentRecord, **_WRITE_ERRORS},
          idempotent_key=True),
    Route("GET", "/api/v1/incidents/{incident_id}", get_incident, "One incident", "read",
          "incidents", answers={200: IncidentRecord, **_ERRORS},
          path_ids={"incident_id": "incident_id"}),
    Route("POST", "/api/v1/incidents/{incident_id}/cause", change_cause,
          "Change an incident's cause, with a reason (incident cause; R-EX)", "write",
          "incidents", body=CauseChangeRequest, answers={200: CauseChanged, **_WRITE_ERRORS},
          idempotent_key=True, path_ids={"incident_id": "incident_id"}),
    Route("POST", "/api/v1/incidents/{incident_id}/notifications", log_notification,
          "Log a notification made by phone or e-mail (incident notified; R-N1)", "write",
          "incidents", body=NotificationLog, answers={201: NotificationsLogged, **_WRITE_ERRORS},
          idempotent_key=True, path_ids={"incident_id": "incident_id"}),
    Route("GET", "/api/v1/maintenance", list_maintenance, "Maintenance windows "
          "(maintenance list)", "read", "maintenance", query=MaintenanceQuery,
          answers={200: list[MaintenanceListed], **_ERRORS}),
    Route("POST", "/api/v1/maintenance", add_maintenance,
          "Record a maintenance window (maintenance add; R-EX1, D-3)", "write", "maintenance",
          body=MaintenanceCreate, answers={201: MaintenanceAdded, **_WRITE_ERRORS},
          idempotent_key=True),
    Route("GET", "/api/v1/reports", get_report, "A month's SLA report (report; SPEC section 7)",
          "read", "reports", query=ReportQuery, answers={200: MonthReportJSON, **_ERRORS}),
    Route("POST", "/api/v1/reports/{month}/close", close_month,
          "Freeze a revision of an ended month (report close; R-C3)", "write", "reports",
          answers={200: Closing, **_WRITE_ERRORS}),
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
    Route("GET", "/api/v1/customers/{customer}", get_customer,
          "A customer's services, running month and last month", "customer_read", "customers",
          answers={200: CustomerOverview, **_ERRORS}, path_ids={"customer": "customer"}),
    Route("GET", "/api/v1/customers/{customer}/report", get_customer_report,
          "A customer's SLA report for a month", "customer_read", "customers",
          query=MonthQuery, answers={200: MonthReportJSON, **_ERRORS},
          path_ids={"customer": "customer"}),
)
