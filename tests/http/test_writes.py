"""Writes through the API: every write route's bad body is a 422 naming the
field with a JSON pointer and what is allowed, and changes nothing; an oversized body is
413, a body that is not JSON 415 or 422; a retried write with an Idempotency-Key gets
the first answer and writes once."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from monitor.http.routing import BODY_LIMIT
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    IdempotentRequest,
    Incident,
    IncidentUpdate,
    MaintenanceUpdate,
    MaintenanceWindow,
    Notification,
    ReportRevision,
)
from tests.http.site import Site
from tests.support import row_counts, rows

RECORDS = (Incident, CauseChange, Notification, MaintenanceWindow, ReportRevision, AuditEvent,
           IncidentUpdate, MaintenanceUpdate)


async def counts(site: Site) -> dict[str, int]:
    return await row_counts(site.db, RECORDS)


async def incident(site: Site) -> int:
    response = await site.post("/api/v1/incidents", "write", json={
        "service": "acme-shop", "start": "2026-03-02T10:00Z", "end": "2026-03-02T12:00Z"})
    assert response.status == 201
    return int((await response.json())["id"])


async def refused(site: Site, path: str, body: object, pointer: str, allowed: str) -> None:
    before = await counts(site)
    response = await site.post(path, "write", json=body)
    text = await response.text()
    assert response.status == 422, text
    problem = await response.json()
    assert problem["error"] == "invalid"
    assert problem["errors"][0]["pointer"] == pointer, problem
    assert allowed in problem["errors"][0]["allowed"], problem
    assert pointer in problem["detail"]
    assert await counts(site) == before


@pytest.mark.parametrize(("body", "pointer", "allowed"), [
    ({"start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"}, "/service", "required"),
    ({"service": "nowhere", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"},
     "/service", "one of the configured services and servers"),
    ({"service": "panel", "start": "yesterday", "end": "2026-03-01T11:00Z"}, "/start",
     "ISO 8601"),
    ({"service": "panel", "start": "2026-03-01T11:00Z", "end": "2026-03-01T10:00Z"}, "/end",
     "a time after /start"),
    ({"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z",
      "cause": "aliens"}, "/cause", "'provider'"),
    ({"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z",
      "colour": "red"}, "/colour", "Extra inputs are not permitted"),
    ({"service": 7, "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"}, "/service",
     "string"),
])
async def test_incident_bad_bodies(site: Site, body: dict, pointer: str, allowed: str) -> None:
    await refused(site, "/api/v1/incidents", body, pointer, allowed)


async def test_cause_bad_bodies(site: Site) -> None:
    incident_id = await incident(site)
    path = f"/api/v1/incidents/{incident_id}/cause"
    await refused(site, path, {"cause": "external"}, "/reason", "required")
    await refused(site, path, {"cause": "external", "reason": ""}, "/reason", "at least 1")
    await refused(site, path, {"cause": "weather", "reason": "storm"}, "/cause", "'external'")
    await refused(site, path, {"cause": "provider", "reason": "again"}, "/cause",
                  "a cause other than the current one")
    missing = await site.post("/api/v1/incidents/999/cause", "write",
                              json={"cause": "external", "reason": "x"})
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"


async def test_update_bad_bodies(site: Site) -> None:
    incident_id = await incident(site)
    path = f"/api/v1/incidents/{incident_id}/updates"
    await refused(site, path, {"message": "replacing a switch"}, "/status", "required")
    await refused(site, path, {"status": "fixed", "message": "x"}, "/status", "'identified'")
    await refused(site, path, {"status": "identified"}, "/message", "required")
    await refused(site, path, {"status": "identified", "message": ""}, "/message",
                  "at least 1")
    await refused(site, path, {"status": "identified", "message": "  "}, "/message",
                  "a non-empty message")
    await refused(site, path, {"status": "identified", "message": "n" * 20_000},
                  "/message", "at most 2000 characters (this one has 20000)")
    before = await counts(site)
    missing = await site.post("/api/v1/incidents/999/updates", "write",
                              json={"status": "identified", "message": "x"})
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"
    read_only = await site.post(path, "read", json={"status": "identified", "message": "x"})
    assert read_only.status == 403
    assert await counts(site) == before


async def test_notification_bad_bodies(site: Site) -> None:
    incident_id = await incident(site)
    path = f"/api/v1/incidents/{incident_id}/notifications"
    await refused(site, path, {"at": "2026-03-02T10:10Z", "channel": "pigeon"}, "/channel",
                  "'phone'")
    await refused(site, path, {"at": "2026-03-02T09:00Z", "channel": "phone"}, "/at",
                  "a time after the incident start")
    await refused(site, path, {"at": "2026-03-02T10:10Z", "channel": "phone",
                               "customers": ["bita"]}, "/customers",
                  "customers affected by acme-shop")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    await refused(site, path, {"at": later, "channel": "phone"}, "/at", "not after now")


async def test_maintenance_bad_bodies(site: Site) -> None:
    good = {"services": ["panel"], "start": "2026-12-20T10:00Z", "end": "2026-12-20T12:00Z",
            "reason": "upgrade"}
    path = "/api/v1/maintenance"
    await refused(site, path, {**good, "services": []}, "/services", "at least 1")
    await refused(site, path, {**good, "services": ["panel", "ghost"]}, "/services",
                  "one of the configured services")
    await refused(site, path, {**good, "reason": "   "}, "/reason", "non-empty reason")
    await refused(site, path, {**good, "end": "2026-12-20T09:00Z"}, "/end", "after /start")
    await refused(site, path, {**good, "notified_at": "2099-01-01T00:00Z"}, "/notified_at",
                  "not after now")


async def test_close_month_that_has_not_ended(site: Site) -> None:
    before = await counts(site)
    response = await site.post("/api/v1/reports/2199-01/close", "write")
    assert response.status == 422
    problem = await response.json()
    assert problem["errors"][0] == {"parameter": "month", "value": "2199-01",
                                    "allowed": problem["errors"][0]["allowed"]}
    assert "a month that has ended" in problem["errors"][0]["allowed"]
    bad = await site.post("/api/v1/reports/2026-13/close", "write")
    assert bad.status == 422 and (await bad.json())["errors"][0]["parameter"] == "month"
    assert await counts(site) == before


async def test_close_takes_the_configured_terms_when_asked_in_so_many_words(site: Site) -> None:
    before = await counts(site)
    bad = await site.post("/api/v1/reports/2026-03/close?configured_terms=maybe", "write")
    problem = await bad.json()
    assert bad.status == 422 and problem["errors"][0]["parameter"] == "configured_terms"
    assert await counts(site) == before
    first = await site.post("/api/v1/reports/2026-03/close", "write")
    assert first.status == 200 and (await first.json())["revision"] == 1
    # The configuration has not changed since: its terms are the month's, nothing new.
    again = await site.post("/api/v1/reports/2026-03/close?configured_terms=true", "write")
    assert again.status == 200
    assert ((await again.json())["revision"], (await again.json())["created"]) == (1, False)


async def test_bad_query_strings_name_the_parameter(site: Site) -> None:
    response = await site.get("/api/v1/reports?month=March", "read")
    assert response.status == 422
    assert (await response.json())["errors"][0]["parameter"] == "month"
    missing = await site.get("/api/v1/reports", "read")
    assert (await missing.json())["errors"][0] == {
        "parameter": "month", "value": {}, "allowed": "Field required"}


@pytest.mark.parametrize("month", ["۱۴۰۵-09", "March", "2026-3", "1405-13"])
async def test_a_bad_month_is_refused_in_the_projects_words(site: Site, month: str) -> None:
    # One reading of a month (monitor.sla.calendar.month_period), whether its shape or its
    # number is wrong, in a query string and in a body alike; the value as typed.
    allowed = "a month YYYY-MM, MM 01 to 12, years "
    for path in ("/api/v1/incidents", "/api/v1/reports", "/api/v1/claims"):
        response = await site.get(f"{path}?month={month}", "read")
        problem = await response.json()
        assert response.status == 422, problem
        assert problem["errors"][0]["parameter"] == "month", problem
        assert problem["errors"][0]["value"] == month, problem
        assert problem["errors"][0]["allowed"].startswith(allowed), problem
        assert problem["detail"].startswith(f"month: {month!r} is not valid"), problem
    before = await counts(site)
    response = await site.post("/api/v1/claims", "write", json={
        "customer": "acme", "month": month.replace("09", "۰۸")})
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["errors"][0]["pointer"] == "/month", problem
    assert problem["errors"][0]["allowed"].startswith(allowed), problem
    assert await counts(site) == before


async def test_a_long_value_is_echoed_cut_to_40_characters(site: Site) -> None:
    # As the command line shows it (monitor.errors.shortened): the start and "...".
    long = "s" * 5000
    for body, pointer in (
        ({"service": long, "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"},
         "/service"),  # refused by the model (an id's length)
        ({"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z",
          "cause": long}, "/cause"),
    ):
        response = await site.post("/api/v1/incidents", "write", json=body)
        text = await response.text()
        assert response.status == 422, text
        assert len(text) < 1000, text
        assert (await response.json())["errors"][0] == {
            "pointer": pointer, "value": "s" * 40 + "...",
            "allowed": (await response.json())["errors"][0]["allowed"]}
    site_name = "d" * 200 + ".example"  # refused by the action (not the customer's)
    response = await site.post("/api/v1/tickets", "write", json={
        "customer": "acme", "service": "acme-shop", "channel": "email", "summary": "x",
        "site": site_name})
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["errors"][0]["value"] == "d" * 40 + "...", problem
    assert "d" * 41 not in problem["detail"], problem


async def test_a_bad_boolean_is_refused_in_the_projects_words(site: Site) -> None:
    response = await site.get("/api/v1/incidents?open=maybe", "read")
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["errors"][0]["parameter"] == "open"
    assert problem["errors"][0]["value"] == "maybe"
    assert problem["errors"][0]["allowed"].startswith("true or false"), problem
    assert problem["detail"] == f"open: 'maybe' is not valid; allowed: {problem['errors'][0]['allowed']}"


async def test_end_before_start_echoes_the_time_as_typed(site: Site) -> None:
    response = await site.post("/api/v1/maintenance", "write", json={
        "services": ["panel"], "start": "2026-12-20T10:00Z", "end": "2026-12-01T09:00",
        "reason": "upgrade"})
    problem = await response.json()
    assert response.status == 422, problem
    assert problem["errors"][0]["pointer"] == "/end"
    assert problem["errors"][0]["value"] == "2026-12-01T09:00", problem
    assert "'2026-12-01T09:00' (read as 2026-12-01T09:00:00Z)" in problem["detail"], problem
    # A route with a handler of its own says it the same way.
    incident_id = await incident(site)
    logged = await site.post(f"/api/v1/incidents/{incident_id}/notifications", "write",
                             json={"at": "2026-03-02T09:00", "channel": "phone"})
    problem = await logged.json()
    assert logged.status == 422, problem
    assert problem["errors"][0] == {"pointer": "/at", "value": "2026-03-02T09:00",
                                    "allowed": problem["errors"][0]["allowed"]}, problem


@pytest.mark.parametrize("service", ["nosuch", "%00", "%E2%80%8Facme-shop"])
async def test_listing_incidents_of_an_unknown_service_is_422(site: Site, service: str) -> None:
    # As the CLI's `incident list --service nosuch` (the action decides it for both): an
    # empty list would say the service never failed.
    response = await site.get(f"/api/v1/incidents?service={service}", "read")
    problem = await response.json()
    assert response.status == 422, problem
    error = problem["errors"][0]
    assert error["parameter"] == "service", problem
    assert error["allowed"].startswith(
        "one of the configured services and servers: acme-shop, bita-survey,"), problem
    assert problem["detail"].startswith("service: "), problem
    # A configured service with no incidents is an empty list.
    assert await (await site.get("/api/v1/incidents?service=acme-shop", "read")).json() == []


async def test_a_body_over_the_limit_is_413_and_not_json_is_415(site: Site) -> None:
    before = await counts(site)
    huge = {"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z",
            "note": "x" * (BODY_LIMIT + 1)}
    response = await site.post("/api/v1/incidents", "write", json=huge)
    assert response.status == 413
    assert (await response.json())["error"] == "too_large"

    async def endless():  # no Content-Length: chunked, cut once over the limit
        for _ in range(100):
            yield b"x" * 8192

    chunked = await site.post("/api/v1/incidents", "write", data=endless(),
                              headers={"Content-Type": "application/json"})
    assert chunked.status == 413
    form = await site.post("/api/v1/incidents", "write", data="service=panel",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415
    broken = await site.post("/api/v1/incidents", "write", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert broken.status == 422
    assert (await broken.json())["errors"][0]["pointer"] == ""
    assert await counts(site) == before


async def test_a_retried_write_with_a_key_returns_the_first_answer(site: Site) -> None:
    body = {"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"}
    key = {"Idempotency-Key": "add-panel-outage-1"}
    first = await site.post("/api/v1/incidents", "write", json=body, headers=key)
    again = await site.post("/api/v1/incidents", "write", json=body, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(await rows(site.db, Incident)) == 1
    assert len(await rows(site.db, AuditEvent)) == 1
    # The same key for a different request is refused; a new key writes (and the
    # overlap check of the action then refuses a second identical manual incident).
    other = await site.post("/api/v1/incidents", "write", headers=key,
                            json={**body, "service": "mobile"})
    assert other.status == 422
    assert (await other.json())["errors"][0]["parameter"] == "Idempotency-Key"
    assert len(await rows(site.db, Incident)) == 1
    # Keys are per client: another token's same key is another request.
    maintenance = {"services": ["panel"], "start": "2026-12-20T10:00Z",
                   "end": "2026-12-20T12:00Z", "reason": "upgrade"}
    window = await site.post("/api/v1/maintenance", "revoked", json=maintenance, headers=key)
    assert window.status == 201
    assert len(await rows(site.db, IdempotentRequest)) == 2


async def test_concurrent_twins_write_once(site: Site) -> None:
    body = {"services": ["mobile"], "start": "2026-12-21T10:00Z", "end": "2026-12-21T12:00Z",
            "reason": "twins"}
    key = {"Idempotency-Key": "twin"}
    answers = await asyncio.gather(*[
        site.post("/api/v1/maintenance", "write", json=body, headers=key) for _ in range(4)])
    statuses = sorted(a.status for a in answers)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    ids = {(await a.json())["window"]["id"] for a in answers if a.status == 201}
    assert len(ids) == 1  # every 201 is the same window
    assert len(await rows(site.db, MaintenanceWindow)) == 1


async def test_a_failed_write_stores_no_answer(site: Site) -> None:
    key = {"Idempotency-Key": "will-fail"}
    bad = await site.post("/api/v1/incidents", "write", headers=key, json={
        "service": "nowhere", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"})
    assert bad.status == 422
    assert await rows(site.db, IdempotentRequest) == []
    fixed = await site.post("/api/v1/incidents", "write", headers=key, json={
        "service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"})
    assert fixed.status == 201  # the key was not used up by the refusal


@pytest.mark.slow
async def test_a_configuration_is_checked_with_pointers_to_its_issues(site: Site) -> None:
    good = "services:\n  - {id: panel, kind: web_panel, probe: {type: tcp, host: h, port: 1}}\n"
    checked = await site.post("/api/v1/config/check", "write", data=good,
                              headers={"Content-Type": "application/yaml"})
    assert checked.status == 200
    body = await checked.json()
    assert [p["id"] for p in body["probes"]] == ["panel"]
    assert body["probes"][0]["worst_case_detection_seconds"] == 30 * 3 + 10  # D-1 defaults
    bad = good.replace("port: 1", "port: 1, interval: soon")
    refused = await site.post("/api/v1/config/check", "write", data=bad,
                              headers={"Content-Type": "application/yaml"})
    assert refused.status == 422
    problem = await refused.json()
    assert problem["errors"][0]["pointer"] == "/services/0/probe/interval"
    assert "expected a duration" in problem["errors"][0]["allowed"]
    running = await site.get("/api/v1/config/check", "read")
    assert {p["id"] for p in (await running.json())["probes"]} >= {"panel", "srv-1"}


async def test_every_write_route_refuses_a_bad_body_naming_the_field(site: Site) -> None:
    """Every JSON write route of the route table (incidents, maintenance, claims, tickets,
    the ledger, a customer's own): an unknown field and a wrong type are 422 with their
    JSON pointers, and nothing is written."""
    from monitor.http.server import ROUTES
    from monitor.store.models import Claim, LedgerEntry, Ticket, TicketEvent

    incident_id = await incident(site)
    ticket = await site.post("/api/v1/tickets", "write", json={
        "customer": "acme", "service": "acme-shop", "channel": "email", "summary": "x"})
    ticket_id = (await ticket.json())["ticket"]["id"]
    window = await site.post("/api/v1/maintenance", "write", json={
        "services": ["panel"], "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z",
        "reason": "x"})
    window_id = (await window.json())["window"]["id"]
    models = (*RECORDS, Claim, Ticket, TicketEvent, LedgerEntry)

    async def everything() -> dict[str, int]:
        return {m.__name__: len(await rows(site.db, m)) for m in models}

    before = await everything()
    checked = []
    for route in ROUTES:
        if route.method != "POST" or route.body is None or route.body_kind != "json":
            continue
        path = (route.path.replace("{incident_id}", str(incident_id))
                .replace("{ticket_id}", str(ticket_id)).replace("{claim_id}", "1")
                .replace("{window_id}", str(window_id))
                .replace("{customer}", "acme"))
        assert "{" not in path, path
        who = "acme" if route.access.startswith("customer") else "write"
        field = next(iter(route.body.model_fields))  # type: ignore[union-attr]
        response = await site.post(path, who, json={"unexpected": 1, field: {"a": "dict"}})
        problem = await response.json()
        assert response.status == 422, (path, problem)
        pointers = {e["pointer"] for e in problem["errors"]}
        assert {"/unexpected", f"/{field}"} <= pointers, (path, pointers)
        checked.append(path)
    assert len(checked) >= 20
    assert await everything() == before
