"""Refusals through the API and the claim form (SPEC section 8): a customer naming another
customer's domain gets the answer for a domain that does not exist; free text longer than
the actions' limit (2,000 characters) is a 422 naming the field with a JSON pointer, its
length and the limit, from every write route that takes text; nothing is written."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from monitor.actions.common import MAX_TEXT
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    Claim,
    Incident,
    LedgerEntry,
    MaintenanceWindow,
    Notification,
    OutboxMessage,
    Ticket,
    TicketEvent,
)
from tests.http.site import Site
from tests.http.test_claims import months
from tests.support import row_counts

MODELS = (Incident, CauseChange, Notification, MaintenanceWindow, Claim, Ticket, TicketEvent,
          LedgerEntry, OutboxMessage, AuditEvent)
LONG = "n" * (MAX_TEXT + 1)


async def counts(site: Site) -> dict[str, int]:
    return await row_counts(site.db, MODELS)


async def refusal(site: Site, path: str, who: str, body: dict[str, Any]) -> dict[str, Any]:
    before = await counts(site)
    response = await site.post(path, who, json=body)
    problem = await response.json()
    assert response.status == 422, problem
    assert await counts(site) == before
    return problem  # type: ignore[no-any-return]


async def test_a_customer_learns_nothing_of_another_customers_domain(site: Site) -> None:
    _, last, _ = months()
    for path, body in (("/api/v1/customers/acme/claims", {"month": last}),
                       ("/api/v1/customers/acme/tickets", {"service": "acme-shop",
                                                           "summary": "help"})):
        theirs = await refusal(site, path, "acme", {**body, "site": "bita.example"})
        nobodys = await refusal(site, path, "acme", {**body, "site": "nowhere.example"})
        assert theirs["errors"][0]["pointer"] == "/site"
        assert (theirs["detail"].replace("bita.example", "X")
                == nobodys["detail"].replace("nowhere.example", "X")), (theirs, nobodys)
        assert "belongs" not in theirs["detail"] and " bita" not in theirs["detail"]


async def _session(site: Site, customer: str) -> str:
    keys = site.web.links
    assert keys is not None
    link = f"/customer/{customer}?" + keys.link_query(
        customer, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert (await site.get(link)).status == 303
    page = await (await site.get(f"/customer/{customer}")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


async def test_the_claim_form_refuses_another_domain_and_a_long_note(site: Site) -> None:
    _, last, _ = months()
    token = await _session(site, "acme")
    before = await counts(site)
    other = await site.post("/customer/acme/claims", data={
        "month": last, "csrf": token, "site": "bita.example"})
    assert other.status == 422
    text = await other.text()
    assert "one of acme&#39;s domains" in text or "one of acme's domains" in text, text
    assert "belongs" not in text
    # It stored 60,040 characters from the form.
    long = await site.post("/customer/acme/claims", data={
        "month": last, "csrf": token, "note": "z" * 60_040})
    assert long.status == 422
    said = await long.text()
    assert "at most 2000 characters (this one has 60040)" in said, said
    assert await counts(site) == before


async def test_long_text_is_refused_by_every_write_route_naming_the_field(site: Site) -> None:
    _, last, _ = months()
    opened = await site.post("/api/v1/tickets", "write", json={
        "customer": "acme", "service": "acme-shop", "channel": "email", "summary": "x"})
    ticket = (await opened.json())["ticket"]["id"]
    incident = await site.post("/api/v1/incidents", "write", json={
        "service": "acme-shop", "start": "2026-03-02T10:00Z", "end": "2026-03-02T12:00Z"})
    incident_id = (await incident.json())["id"]
    window = {"services": ["panel"], "start": "2026-12-20T10:00Z", "end": "2026-12-20T12:00Z"}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("/api/v1/customers/acme/claims", "acme", {"month": last}, "note"),
        ("/api/v1/claims", "write", {"customer": "acme", "month": last}, "note"),
        ("/api/v1/customers/acme/tickets", "acme", {"service": "acme-shop"}, "summary"),
        ("/api/v1/tickets", "write", {"customer": "acme", "service": "acme-shop",
                                      "channel": "email"}, "summary"),
        (f"/api/v1/customers/acme/tickets/{ticket}/follow-up", "acme", {}, "note"),
        (f"/api/v1/tickets/{ticket}/follow-up", "write", {"channel": "phone"}, "note"),
        (f"/api/v1/tickets/{ticket}/ask", "write", {}, "note"),
        (f"/api/v1/tickets/{ticket}/defer", "write", {"reason": "new-release"}, "note"),
        ("/api/v1/ledger/deposits", "write", {"site": "acme.example", "amount": "10"},
         "reference"),
        ("/api/v1/incidents", "write", {"service": "acme-shop", "start": "2026-03-03T10:00Z",
                                        "end": "2026-03-03T11:00Z"}, "note"),
        (f"/api/v1/incidents/{incident_id}/cause", "write", {"cause": "external"}, "reason"),
        ("/api/v1/maintenance", "write", window, "reason"),
    ]
    for path, who, body, field in cases:
        problem = await refusal(site, path, who, {**body, field: LONG})
        error = problem["errors"][0]
        assert error["pointer"] == f"/{field}", (path, problem)
        assert f"at most {MAX_TEXT} characters (this one has {MAX_TEXT + 1})" in error[
            "allowed"], (path, problem)


async def test_numbers_and_dates_past_their_bounds_are_422(site: Site) -> None:
    _, last, _ = months()
    made = await site.post("/api/v1/claims", "write", json={"customer": "acme", "month": last})
    claim = (await made.json())["claim"]["id"]
    opened = await site.post("/api/v1/tickets", "write", json={
        "customer": "acme", "service": "acme-shop", "channel": "email", "summary": "x"})
    ticket = (await opened.json())["ticket"]["id"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/ledger/deposits", {"site": "acme.example", "amount": "1e30",
                                     "reference": "r"}, "/amount"),
        ("/api/v1/ledger/deposits", {"site": "acme.example", "amount": "NaN",
                                     "reference": "r"}, "/amount"),
        (f"/api/v1/claims/{claim}/decision", {"decision": "partly", "days": "1e30"}, "/days"),
        (f"/api/v1/tickets/{ticket}/reprice", {"price": "1e30"}, "/price"),
    ]  # (a renewal's bound: tests/cli/test_input_bounds.py; these sites never lapse)
    for path, body, pointer in cases:
        problem = await refusal(site, path, "write", body)
        assert problem["errors"][0]["pointer"] == pointer, (path, problem)
    assert (await site.get("/api/v1/ledger", "read")).status == 200
