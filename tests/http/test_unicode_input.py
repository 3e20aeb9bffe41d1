"""Text that is not Unicode at the HTTP edge: a lone surrogate escape in a JSON body
(``"\\ud800"``: JSON may spell it, no UTF-8 text can hold it) and query bytes that are not
UTF-8 (``%ED%A0%80``) are a 422 naming the field, never a 500 (SPEC section 8). The JSON
body reader refuses them for every route, before the model or an action sees the body;
the error reply shows the value escaped and never fails to encode what it echoes. Nothing
is written: the rows are counted before and after."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from monitor.http.server import ROUTES
from tests.http.site import Site
from tests.http.test_claims import months
from tests.http.test_hostile_input import no_tracebacks
from tests.http.test_refusals import counts

LONE = "\ud800"  # json.dumps (ensure_ascii) sends it as the escape \ud800
WINDOW = {"services": ["panel"], "start": "2026-12-20T10:00Z", "end": "2026-12-20T12:00Z",
          "reason": "upgrade"}
INCIDENT = {"service": "acme-shop", "start": "2026-03-03T10:00Z", "end": "2026-03-03T11:00Z"}


async def _ids(site: Site) -> tuple[int, int]:
    """An incident and a customer's ticket to post to."""
    made = await site.post("/api/v1/incidents", "write", json={
        "service": "acme-shop", "start": "2026-03-02T10:00Z", "end": "2026-03-02T12:00Z"})
    assert made.status == 201, await made.text()
    opened = await site.post("/api/v1/customers/acme/tickets", "acme", json={
        "service": "acme-shop", "summary": "slow"})
    assert opened.status == 201, await opened.text()
    return (await made.json())["id"], (await opened.json())["ticket"]["id"]


async def _refused(site: Site, path: str, who: str, body: Any, pointer: str) -> dict[str, Any]:
    before = await counts(site)
    response = await site.post(path, who, data=json.dumps(body),
                               headers={"Content-Type": "application/json"})
    text = await response.text()
    assert response.status == 422, (path, body, response.status, text[:300])
    problem = json.loads(text)
    error = problem["errors"][0]
    assert error["pointer"] == pointer, (path, problem)
    assert "not valid Unicode" in error["allowed"] and "lone surrogate" in error["allowed"], (
        path, problem)
    assert problem["detail"].startswith(pointer + ": "), problem
    assert await counts(site) == before, path
    return problem  # type: ignore[no-any-return]


async def test_a_lone_surrogate_in_a_json_body_is_422_naming_the_field(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    incident, ticket = await _ids(site)
    _, last, _ = months()
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        # A value the model refuses (echoed by the error reply) and values it passes on
        # (to the action and the database write) alike.
        ("/api/v1/incidents", "write", {**INCIDENT, "service": LONE}, "/service"),
        ("/api/v1/incidents", "write", {**INCIDENT, "note": LONE}, "/note"),
        ("/api/v1/incidents", "write", {**INCIDENT, "note": "ok " + LONE + " ok"}, "/note"),
        ("/api/v1/tickets", "write", {"customer": "acme", "service": "acme-shop",
                                      "channel": "email", "summary": LONE}, "/summary"),
        ("/api/v1/tickets", "write", {"customer": "acme", "service": "acme-shop",
                                      "channel": "email", "summary": "x", "at": LONE}, "/at"),
        ("/api/v1/ledger/deposits", "write", {"site": "acme.example", "amount": "10",
                                              "reference": LONE}, "/reference"),
        ("/api/v1/maintenance", "write", {**WINDOW, "services": ["panel", LONE]},
         "/services/1"),
        ("/api/v1/maintenance", "write", {**WINDOW, "reason": LONE}, "/reason"),
        (f"/api/v1/incidents/{incident}/updates", "write",
         {"status": "identified", "message": LONE}, "/message"),
        (f"/api/v1/incidents/{incident}/cause", "write",
         {"cause": "external", "reason": LONE}, "/reason"),
        (f"/api/v1/incidents/{incident}/notifications", "write",
         {"at": "2026-03-02T10:30Z", "channel": "phone", "note": LONE}, "/note"),
        ("/api/v1/claims", "write", {"customer": "acme", "month": last, "note": LONE}, "/note"),
        ("/api/v1/customers/acme/tickets", "acme", {"service": "acme-shop", "summary": LONE},
         "/summary"),
        (f"/api/v1/customers/acme/tickets/{ticket}/follow-up", "acme", {"note": LONE},
         "/note"),
        # In a key: the pointer names it, escaped like the value.
        ("/api/v1/incidents", "write", {**INCIDENT, LONE: 1}, "/\\ud800"),
    ]
    for path, who, body, pointer in cases:
        problem = await _refused(site, path, who, body, pointer)
        if pointer != "/\\ud800":
            typed = body[pointer.split("/")[1]]
            # The value as typed in JSON: the surrogate shown as its escape.
            shown = typed if isinstance(typed, str) else typed[1]
            assert problem["errors"][0]["value"] == shown.replace(LONE, "\\ud800"), problem
    no_tracebacks(caplog)


async def test_every_json_body_route_refuses_a_lone_surrogate(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    # Read from the route table, so that a new route is covered too: the body reader
    # refuses it before the model and the action (a field the model does not know, and a
    # claim or window that does not exist, are never reached).
    caplog.set_level(logging.INFO)
    incident, ticket = await _ids(site)
    routes = [r for r in ROUTES if r.body is not None and r.body_kind == "json"
              and r.path.startswith("/api/")]
    assert len(routes) >= 20
    for route in routes:
        path = (route.path.replace("{customer}", "acme").replace("{ticket_id}", str(ticket))
                .replace("{incident_id}", str(incident)).replace("{claim_id}", "1")
                .replace("{window_id}", "1"))
        who = "acme" if route.access.startswith("customer") else "write"
        before = await counts(site)
        assert route.method == "POST", route.path
        response = await site.post(path, who, data='{"note": "\\udfff"}',
                                      headers={"Content-Type": "application/json"})
        text = await response.text()
        assert response.status in (404, 422), (route.path, response.status, text[:300])
        if response.status == 422:
            assert json.loads(text)["errors"][0] == {
                "pointer": "/note", "value": "\\udfff",
                "allowed": json.loads(text)["errors"][0]["allowed"]}, (route.path, text)
        assert await counts(site) == before
    no_tracebacks(caplog)


@pytest.mark.parametrize("query", [
    "service=%ED%A0%80", "month=%FF", "service=acme%C3", "open=%ED%A0%80",
])
async def test_query_bytes_that_are_not_utf8_are_422_naming_the_parameter(
        site: Site, query: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = await site.get(f"/api/v1/incidents?{query}", "read")
    text = await response.text()
    assert response.status == 422, text
    error = json.loads(text)["errors"][0]
    name, _, typed = query.partition("=")
    assert error["parameter"] == name, error
    assert error["value"] == typed, error  # as typed: the percent-escapes
    assert "UTF-8" in error["allowed"], error
    no_tracebacks(caplog)


async def test_a_path_segment_that_is_not_utf8_names_nothing(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/api/v1/customers/%ED%A0%80", "/api/v1/customers/%ED%A0%80/tickets",
                 "/api/v1/incidents/%ED%A0%80"):
        response = await site.get(path, "write")
        assert response.status == 404, (path, await response.text())
    no_tracebacks(caplog)
