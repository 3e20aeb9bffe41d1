"""Hostile input at the HTTP edge never reaches a 5xx or a traceback: non-ASCII digits and
letters in ids, link expiries, session cookies and bearer tokens (numbers, ids, expiries
and tokens are read as ASCII only), and JSON nested deeper than the bound.

Credentials that are not ASCII are not valid (401); an id that is not a positive ASCII
integer names nothing (404); a body nested too deep is refused with 422 naming the
limit."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from monitor.http.routing import JSON_DEPTH_LIMIT
from monitor.http.server import ROUTES
from monitor.store.models import Claim, Incident, Ticket
from tests.http.site import Site
from tests.support import row_counts, rows

# Every route with an integer id in its path (incidents, claims, tickets; the API's and
# the pages' own), read from the route table so that a new one is covered too.
ID_ROUTES = sorted({(r.method, r.path) for r in ROUTES if re.search(r"\{\w+_id\}", r.path)})
HOSTILE_IDS = ["²", "é", "-1", "1e3", "9" * 40, "٣", "0", "%FF", "1%00"]


def test_the_id_routes_are_all_found() -> None:
    # incidents (3), claims (2), tickets (12), a customer's claim and tickets (6), the
    # claim's page (1): a route table that lost them would make the test below vacuous.
    assert len(ID_ROUTES) >= 7
    assert {"/api/v1/incidents/{incident_id}", "/api/v1/claims/{claim_id}",
            "/api/v1/tickets/{ticket_id}", "/customer/{customer}/claims/{claim_id}"} <= {
        path for _, path in ID_ROUTES}


async def raw_request(site: Site, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request as bytes on a socket (header values that aiohttp's client would refuse
    to send), the status and body of its answer."""
    host, port = site.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + b"Connection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    failing = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert failing == [], [r.getMessage() for r in failing]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_an_id_that_is_not_an_ascii_integer_is_404_on_every_id_route(
        site: Site, hostile: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    before = await row_counts(site.db, (Incident, Claim, Ticket))
    for method, path in ID_ROUTES:
        concrete = re.sub(r"\{\w+_id\}", hostile, path).replace("{customer}", "acme")
        who = "acme" if path.startswith("/customer/") else "write"
        response = await site.session.request(
            method, site.url + concrete, headers=site.auth(who), json={},
            allow_redirects=False)
        body = await response.text()
        assert response.status == 404, (method, concrete, response.status, body[:300])
        if path.startswith("/api/"):
            assert (await response.json())["error"] == "not_found"
    after = await row_counts(site.db, (Incident, Claim, Ticket))
    assert after == before
    no_tracebacks(caplog)


@pytest.mark.parametrize("header", [
    "Bearer é".encode(), b"Bearer \xe9", "Bearer ²²²²²²²²²²²²²²²²".encode(),
    b"Bearer \xff\xfe", "Bearer write-token-0123456789abcdeé".encode(),
])
async def test_a_token_that_is_not_ascii_is_401(site: Site, header: bytes,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for path in (b"/api/v1/incidents", b"/api/v1/customers/acme", b"/customer/acme"):
        status, body = await raw_request(
            site, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + header + b"\r\n")
        assert status == 401, (path, body[:300])
    no_tracebacks(caplog)


@pytest.mark.parametrize("query", [
    "expires=%C2%B2&key=a&sig=b", "expires=%D9%A3%D9%A3&key=a&sig=b", "expires=1&key=%C3%A9&sig=b",
    "expires=1&key=a&sig=%C3%A9", "expires=99999999999999999999&key=a&sig=b", "expires=-1&key=a&sig=b",
    "expires=&key=&sig=", "sig=%FF",
])
async def test_a_link_with_a_non_ascii_expiry_key_or_signature_is_not_valid(
        site: Site, query: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = await site.get(f"/customer/acme?{query}")
    assert response.status == 401
    assert "This link is not valid" in await response.text()
    no_tracebacks(caplog)


@pytest.mark.parametrize("cookie", [
    "acme:²:a:b", "acme:٣٣:a:b", "acme:1:é:b", "acme:1:a:é", "é:1:a:b", "acme:-1:a:b",
    "acme:1e3:a:b", "acme:" + "9" * 40 + ":a:b",
])
async def test_a_session_cookie_that_is_not_ascii_is_not_valid(
        site: Site, cookie: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for path, method in ((b"/customer/acme", b"GET"), (b"/customer/acme/claims", b"POST"),
                         (b"/customer/acme/claims/1", b"GET")):
        status, body = await raw_request(
            site, method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Cookie: sla_monitor_customer=" + cookie.encode() + b"\r\n", b"month=2026-03&csrf=x")
        assert status == 401, (path, body[:300])
    no_tracebacks(caplog)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1000, 100_000, JSON_DEPTH_LIMIT + 1])
async def test_json_nested_deeper_than_the_limit_is_422(
        site: Site, depth: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    deep = nested(depth)
    # A customer token is enough to reach a JSON body; an operator's too; as an object value.
    for who, path, body in [
        ("acme", "/api/v1/customers/acme/claims", deep),
        ("acme", "/api/v1/customers/acme/tickets", '{"summary": ' + deep + "}"),
        ("write", "/api/v1/incidents", deep),
    ]:
        response = await site.post(path, who, data=body,
                                   headers={"Content-Type": "application/json"})
        assert response.status in (413, 422), (path, response.status)
        if len(body) <= 64 * 1024:
            assert response.status == 422
            problem = await response.json()
            assert problem["error"] == "invalid"
            assert f"nested deeper than {JSON_DEPTH_LIMIT}" in problem["detail"]
            assert problem["errors"][0]["pointer"] == ""
    assert await rows(site.db, Claim) == [] and await rows(site.db, Incident) == []
    no_tracebacks(caplog)


async def test_json_at_the_depth_limit_is_read(site: Site) -> None:
    # Exactly the limit is still JSON the model judges (a list is not a claim: 422 by the
    # model, naming the body's type, not the depth).
    response = await site.post("/api/v1/customers/acme/claims", "acme",
                               data=nested(JSON_DEPTH_LIMIT),
                               headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert "nested deeper" not in (await response.json())["detail"]
    # And depth inside strings does not count.
    text = json.dumps({"month": "2026-03", "note": "[" * 5000})
    response = await site.post("/api/v1/customers/acme/claims", "acme", data=text,
                               headers={"Content-Type": "application/json"})
    assert "nested deeper" not in await response.text()

