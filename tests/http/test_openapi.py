"""The OpenAPI document at /api/v1/openapi.json is held true: it validates as
OpenAPI 3.1, every route the application serves is in it and every documented path is
served, and a bounded, seeded property-based run of schemathesis against the live server
finds no 5xx and no answer that breaks the document."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from monitor.http.openapi import document_of
from monitor.http.routing import BODY_LIMIT
from monitor.http.schemas import MONTH_SHAPE
from monitor.http.server import ROUTES
from monitor.sla.calendar import month_pattern
from monitor.store import Database
from tests.http.site import TOKENS, Site, serve
from tests.support import communicate_within

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HERE = Path(__file__).parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,unsupported_method,"
          "ignored_auth")


async def document(site: Site) -> dict:
    response = await site.get("/api/v1/openapi.json")
    assert response.status == 200
    return await response.json()


@pytest.mark.slow
async def test_the_document_is_valid_openapi_3_1(site: Site) -> None:
    spec = await document(site)
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on an invalid document


@pytest.mark.slow
async def test_every_route_is_documented_and_every_path_served(site: Site) -> None:
    spec = await document(site)
    documented = {(method.upper(), path) for path, item in spec["paths"].items()
                  for method in item}
    served = {(route.method, route.path) for route in ROUTES}
    assert documented == served
    # And the router itself: each served path answers something other than 404/405
    # for its documented method (a documented path that is not routed would 404 in the
    # API's shape: "no such resource").
    for method, path in sorted(served):
        concrete = re.sub(r"\{(incident|claim|ticket|window)_id\}", "1", path)
        concrete = concrete.replace("{customer}", "acme").replace("{month}", "2026-03")
        concrete = concrete.replace("{service}", "panel").replace("{name}", "style.css")
        concrete = concrete.replace("{target}", "panel").replace("{key}", "core_panel")
        concrete = concrete.replace("{token}", "a-token-that-no-target-has")
        response = await site.session.request(method, site.url + concrete,
                                              headers=site.auth("write"))
        body = await response.read()
        assert response.status != 405, (method, path)
        assert not (response.status == 404 and b"no such resource" in body), (method, path)


async def test_the_router_has_nothing_undocumented(site: Site) -> None:
    spec = await document(site)
    every = {(r.method, r.resource.canonical)  # type: ignore[union-attr]
             for r in site.web_app.router.routes()}
    app_routes = {(method, path) for method, path in every if method not in ("HEAD", "OPTIONS")}
    documented = {(method.upper(), path) for path, item in spec["paths"].items()
                  for method in item}
    assert app_routes == documented
    # HEAD and OPTIONS are derived (every GET has HEAD, every path OPTIONS), and said so.
    assert {(m, p) for m, p in every if m == "HEAD"} == {
        ("HEAD", p) for m, p in documented if m == "GET"}
    assert {(m, p) for m, p in every if m == "OPTIONS"} == {("OPTIONS", p) for _, p in documented}
    assert "also answers HEAD" in spec["info"]["description"]


@pytest.mark.slow
async def test_schemathesis_finds_no_5xx_and_no_schema_break(site: Site, tmp_path: Path) -> None:
    """Bounded (10 examples per operation) and seeded, with an operator's write token."""
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{site.url}/api/v1/openapi.json",
        "--checks", CHECKS, "--max-examples", "10", "--seed", "20261201",
        "--header", f"Authorization: Bearer {TOKENS['write']}",
        "--generation-database", "none", "--no-color", "--workers", "1",
        "--request-timeout", "20", "--report", "junit",
        "--report-dir", str(tmp_path / "schemathesis"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await communicate_within(process, 240)  # within the 300 s limit
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert re.search(r"\d+ generated, \d+ passed", text), text[-2000:]
    assert BODY_LIMIT  # the limit bounds what it can send (413 is documented)


#: Why the API may refuse a request its document allows: what no schema says. The
#: configuration's ids (a public document does not list the customers), the clock (a
#: time not after now, a month that has ended, whose notification deadlines have passed
#: (the first 2 hours of a month: R-N1) or whose claims are still accepted), a
#: configuration's content, an amount's digits (said in words: ``multipleOf: 0.0001`` is
#: no exact binary number), what is already stored (a ticket's time before its last
#: event, an idempotency key sent before with another request, a stored ticket's or claim's
#: state: a ticket without an open question to answer, a claim already decided, each 422
#: naming the path's id since a known record refused is not a 404), and on the status page's
#: forms a link's signature, a service not offered there, an address's local part over 64
#: characters.
NOT_IN_THE_DOCUMENT = re.compile(
    r"allowed: (?:one of the configured |a time not after now|a month that has (?:ended|begun)"
    r"|a month whose notification deadlines have passed"
    r"|a month whose claim deadline has not passed|a time not before ticket \d+'s last event"
    r"|a new key for a different request"
    r"|an? [^:]*\b(?:ticket|claim)\b[^:]*: [^\"]*\b(?:ticket|claim) \d+ "
    r"|a price change still awaiting approval: "
    r"|Decimal input should have no more than \d+ (?:decimal place|digits in total))"
    r"|^<request body>: \d+ configuration error"
    r"|<title>(?:This link is not valid|Please choose a service"
    r"|This e-mail address is not valid)</title>")


def _refusals(output: str) -> dict[str, list[str]]:
    """Each operation schemathesis reported (its ``___ METHOD /path ___`` block), with the
    reasons its refusals gave: each error's ``allowed`` of a JSON problem (its ``detail``
    instead when it names the request body), a page's title."""
    found: dict[str, list[str]] = {}
    for block in re.split(r"\n_{3,} ", output)[1:]:
        operation = block.split(" _", 1)[0].strip()
        # A configuration refused (its check's answer) is one reason, its errors' details.
        reasons = re.findall(r'"detail": "(<request body>: [^"]*)"', block) or [
            f"allowed: {m}" for m in re.findall(r'"allowed": "((?:[^"\\]|\\.)*)"', block)]
        reasons += re.findall(r"<title>[^<]*</title>", block)
        found[operation] = reasons if "ST202" in block or "rejected" in block else [block[:600]]
    return found


@pytest.mark.slow
async def test_what_the_document_allows_is_refused_only_for_what_no_schema_says(
        site: Site, tmp_path: Path) -> None:
    """Positive data only (``positive_data_acceptance``): each request schemathesis makes
    from the document must be accepted, or refused for a reason in
    :data:`NOT_IN_THE_DOCUMENT`; a time, a month, an amount, a finding or an address the
    document allows but validation refuses fails here. The configured customer and site
    fill the query and path, and a body's ids (``tests/http/configured_ids.py``)."""
    (tmp_path / "schemathesis.toml").write_text(
        '[parameters]\ncustomer = "acme"\nsite = "acme.example"\n')
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{site.url}/api/v1/openapi.json",
        "--checks", "not_a_server_error,positive_data_acceptance", "--mode", "positive",
        "--phases", "examples,coverage,fuzzing", "--max-examples", "10",
        "--seed", "20261206", "--header", f"Authorization: Bearer {TOKENS['write']}",
        "--generation-database", "none", "--no-color", "--workers", "1",
        "--request-timeout", "20",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "configured_ids.py")},
    )
    output, _ = await communicate_within(process, 240)  # within the 300 s limit
    text = output.decode(errors="replace")
    assert re.search(r"\d+ passed", text), text[-2000:]
    refusals = _refusals(text)
    unexplained = {operation: reasons for operation, reasons in refusals.items()
                   if not reasons or not all(NOT_IN_THE_DOCUMENT.search(r) for r in reasons)}
    assert not unexplained, unexplained


@pytest.mark.parametrize("calendar", ["gregorian", "jalali"])
async def test_a_month_in_the_document_is_a_month_of_the_providers_calendar(
        db: Database, tmp_path: Path, calendar: str) -> None:
    """R-M5: a Jalali provider's API takes 1405-01, not 2026-03; the document it serves says
    so, in a path, a query and a body alike."""
    async with serve(db, tmp_path, calendar=calendar) as running:
        text = json.dumps(await document(running))
    patterns = set(re.findall(r'"pattern": "([^"]*-\(\?:0\[1-9\]\|1\[0-2\]\)\$)"', text))
    assert patterns == {month_pattern(calendar)}  # type: ignore[arg-type]
    assert MONTH_SHAPE not in text
    assert json.dumps(document_of(ROUTES, calendar)) == text  # type: ignore[arg-type]
    for where in ('"in": "path"', '"in": "query"', '"ClaimSubmit"'):
        assert where in text
