"""Claims, tickets and the ledger through the API and the claim form (issue 11 over issue
10's actions): a customer claims its own last month (a retry answers the same claim),
never another's, and cannot decide; a late claim is refused naming the month; tickets
opened and followed by the customer, diagnosed by an operator; balances per site; the
form needs the link's session and its CSRF token, shows a receipt or why it refused."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from monitor.sla import month_containing
from monitor.store.models import Claim, OutboxMessage, Ticket
from tests.http.site import Site
from tests.support import rows


def months() -> tuple[str, str, str]:
    """(this month, last month, three months ago) in the provider's calendar (UTC)."""
    now = dt.datetime.now(dt.UTC)
    this = month_containing(now, "gregorian", "UTC")
    last = month_containing(this.start - dt.timedelta(seconds=1), "gregorian", "UTC")
    before = last
    for _ in range(2):
        before = month_containing(before.start - dt.timedelta(seconds=1), "gregorian", "UTC")
    return this.label, last.label, before.label


async def test_a_customer_claims_its_last_month_once(site: Site) -> None:
    _, last, _ = months()
    made = await site.post("/api/v1/customers/acme/claims", "acme", json={"month": last})
    assert made.status == 201, await made.text()
    view = await made.json()
    assert (view["claim"]["customer_id"], view["claim"]["month"], view["claim"]["channel"]) == (
        "acme", last, "web")
    assert view["receipt"] in ("pending", "at_risk") and view["decision"] == "pending"
    # Where it stands, as its page says it (a client read it from decision and review fields).
    assert view["standing"] == {"state": "received", "at": None, "revision": None}
    # R-C1: the receipt e-mail is queued with the claim.
    assert [m.kind for m in await rows(site.db, OutboxMessage)] == ["claim_receipt"]
    again = await site.post("/api/v1/customers/acme/claims", "acme", json={"month": last})
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["claim"]["id"] == view["claim"]["id"]
    assert len(await rows(site.db, Claim)) == 1
    listed = await (await site.get("/api/v1/customers/acme/claims", "acme")).json()
    assert [c["claim"]["id"] for c in listed] == [view["claim"]["id"]]


async def test_a_customer_can_neither_claim_for_another_nor_decide(site: Site) -> None:
    _, last, _ = months()
    other = await site.post("/api/v1/customers/bita/claims", "acme", json={"month": last})
    assert other.status == 404
    made = await site.post("/api/v1/customers/acme/claims", "acme", json={"month": last})
    claim_id = (await made.json())["claim"]["id"]
    decide = await site.post(f"/api/v1/claims/{claim_id}/decision", "acme",
                             json={"decision": "approved"})
    assert decide.status == 403
    assert (await site.get(f"/api/v1/customers/bita/claims/{claim_id}", "bita")).status == 404
    decided = await site.post(f"/api/v1/claims/{claim_id}/decision", "write",
                              json={"decision": "rejected", "reason": "no outage of ours"})
    assert decided.status == 200, await decided.text()
    assert (await decided.json())["claim"]["decision"] == "rejected"
    standing = (await decided.json())["standing"]
    assert standing["state"] == "rejected" and standing["revision"] is None
    assert standing["at"] == (await decided.json())["claim"]["decided_at"]
    assert [m.kind for m in await rows(site.db, OutboxMessage)] == [
        "claim_receipt", "claim_decision"]


async def test_a_late_claim_is_refused_naming_the_month(site: Site) -> None:
    this, _, late = months()
    for month, why in [(late, "a month whose claim deadline has not passed (R-C1)"),
                       (this, "a month that has ended (R-C1)")]:
        refused = await site.post("/api/v1/customers/acme/claims", "acme", json={"month": month})
        assert refused.status == 422
        error = (await refused.json())["errors"][0]
        assert (error["pointer"], error["value"]) == ("/month", month)
        assert why in error["allowed"]
    assert await rows(site.db, Claim) == []


async def test_tickets_and_balances(site: Site) -> None:
    opened = await site.post("/api/v1/customers/acme/tickets", "acme", json={
        "service": "acme-shop", "summary": "The export button does nothing"})
    assert opened.status == 201, await opened.text()
    ticket = (await opened.json())["ticket"]
    assert (ticket["customer_id"], ticket["channel"]) == ("acme", "web")
    not_theirs = await site.post("/api/v1/customers/acme/tickets", "acme", json={
        "service": "bita-survey", "summary": "someone else's project"})
    assert not_theirs.status == 422
    assert (await not_theirs.json())["errors"][0]["pointer"] == "/service"
    diagnosed = await site.post(f"/api/v1/tickets/{ticket['id']}/diagnose", "write",
                                json={"provider_fault": True})
    assert diagnosed.status == 200, await diagnosed.text()
    assert (await diagnosed.json())["fix"] in ("pending", "at_risk")
    followed = await site.post(f"/api/v1/customers/acme/tickets/{ticket['id']}/follow-up",
                               "acme", json={"note": "any news?"})
    assert followed.status == 200
    assert [e["kind"] for e in (await followed.json())["events"]][-1] == "follow_up"
    assert (await site.get(f"/api/v1/customers/bita/tickets/{ticket['id']}", "bita")).status == 404
    assert len(await rows(site.db, Ticket)) == 1
    deposit = await site.post("/api/v1/ledger/deposits", "write", json={
        "site": "acme.example", "amount": "100", "reference": "invoice 7"})
    assert deposit.status == 201, await deposit.text()
    ledger = await (await site.get("/api/v1/customers/acme/ledger", "acme")).json()
    assert [(a["site"], a["charge"]) for a in ledger] == [("acme.example", 100)]
    assert (await site.get("/api/v1/customers/bita/ledger", "acme")).status == 404


async def _session(site: Site, customer: str) -> str:
    keys = site.web.links
    assert keys is not None
    link = f"/customer/{customer}?" + keys.link_query(
        customer, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    opened = await site.get(link)
    assert opened.status == 303
    page = await (await site.get(f"/customer/{customer}")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found[1]


async def test_the_claim_form_needs_a_session_and_its_csrf_token(site: Site) -> None:
    _, last, _ = months()
    form = {"month": last}
    anonymous = await site.post("/customer/acme/claims", data=form)
    assert anonymous.status == 401
    token = await _session(site, "acme")
    missing = await site.post("/customer/acme/claims", data=form)
    # Another first character than the token's own (the same one made a valid token once
    # in 64 runs).
    other_first = "B" if token.startswith("A") else "A"
    forged = await site.post("/customer/acme/claims",
                             data={**form, "csrf": other_first + token[1:]})
    assert other_first + token[1:] != token
    assert missing.status == forged.status == 403
    assert "This form has expired" in await forged.text()
    other = await site.post("/customer/bita/claims", data={**form, "csrf": token})
    assert other.status == 401  # acme's session is not bita's
    assert await rows(site.db, Claim) == []


async def test_the_claim_form_shows_the_receipt_or_why(site: Site) -> None:
    _, last, late = months()
    token = await _session(site, "acme")
    made = await site.post("/customer/acme/claims", data={"month": last, "csrf": token,
                                                            "note": "<b>thanks</b>"})
    assert made.status == 303
    receipt = await site.get(made.headers["Location"])
    page = await receipt.text()
    assert receipt.status == 200
    assert f"Credit claim #1 for {last}: received" in page
    duplicate = await site.post("/customer/acme/claims", data={"month": last, "csrf": token})
    assert duplicate.status == 422
    text = await duplicate.text()
    assert f"Your claim for {last} was not accepted:</strong> this month is already claimed" in text
    refused = await site.post("/customer/acme/claims", data={"month": late, "csrf": token})
    assert refused.status == 422
    assert f"Your claim for {late} was not accepted:</strong> too late;" in await refused.text()
    claims = await rows(site.db, Claim)
    assert [(c.month, c.channel, c.note) for c in claims] == [(last, "web", "<b>thanks</b>")]
    # The receipt's address works with the session only, and only for acme.
    site.session.cookie_jar.clear()
    assert (await site.get(made.headers["Location"])).status == 401
    path = urlsplit(made.headers["Location"]).path
    assert (await site.get(path.replace("/acme/", "/bita/"), "bita")).status == 404


async def test_a_form_that_is_not_utf8_is_refused_and_stores_nothing(site: Site) -> None:
    # A note percent-escaped in Latin-1 (caf%E9) or a raw byte that is not UTF-8 was read
    # as U+FFFD, a character the customer never typed, and stored in the claim.
    _, last, _ = months()
    token = await _session(site, "acme")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (f"month={last}&csrf={token}&note=caf%E9".encode(),
                 f"month={last}&csrf={token}&note=caf".encode() + b"\xe9"):
        refused = await site.post("/customer/acme/claims", data=body, headers=form)
        assert refused.status == 422, body
        text = await refused.text()
        assert "not text in UTF-8" in text and "\ufffd" not in text
    assert await rows(site.db, Claim) == []
    made = await site.post("/customer/acme/claims", headers=form,
                           data=f"month={last}&csrf={token}&note=caf%C3%A9".encode())
    assert made.status == 303
    assert [c.note for c in await rows(site.db, Claim)] == ["café"]


async def test_an_existing_record_refused_is_422_naming_the_path_parameter(site: Site) -> None:
    # A decided claim was answered 404 "not_found" with no errors, as if it did not exist;
    # the CLI says "ID: ... an undecided claim". Only an unknown id in the path is 404.
    _, last, _ = months()
    made = await site.post("/api/v1/customers/acme/claims", "acme", json={"month": last})
    claim_id = (await made.json())["claim"]["id"]
    decided = await site.post(f"/api/v1/claims/{claim_id}/decision", "write",
                              json={"decision": "rejected", "reason": "no outage of ours"})
    assert decided.status == 200, await decided.text()
    again = await site.post(f"/api/v1/claims/{claim_id}/decision", "write",
                            json={"decision": "approved"})
    assert again.status == 422, await again.text()
    body = await again.json()
    assert body["error"] == "invalid"
    (error,) = body["errors"]
    assert (error["parameter"], error["value"]) == ("claim_id", claim_id)
    assert error["allowed"].startswith("an undecided claim")
    unknown = await site.post(f"/api/v1/claims/{claim_id + 1}/decision", "write",
                              json={"decision": "approved"})
    assert unknown.status == 404 and (await unknown.json())["error"] == "not_found"
    # The same mechanism for every route: a ticket not yet diagnosed cannot be fixed.
    opened = await site.post("/api/v1/customers/acme/tickets", "acme", json={
        "service": "acme-shop", "summary": "The export button does nothing"})
    ticket_id = (await opened.json())["ticket"]["id"]
    fixed = await site.post(f"/api/v1/tickets/{ticket_id}/fix", "write", json={})
    assert fixed.status == 422, await fixed.text()
    assert [e["parameter"] for e in (await fixed.json())["errors"]] == ["ticket_id"]
    missing = await site.post(f"/api/v1/tickets/{ticket_id + 1}/fix", "write", json={})
    assert missing.status == 404
    # Another customer's claim is answered as one that does not exist (existence would leak).
    assert (await site.get(f"/api/v1/customers/bita/claims/{claim_id}", "bita")).status == 404
