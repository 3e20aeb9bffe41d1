"""The OpenAPI document at /api/v1/openapi.json is held true: it validates as
OpenAPI 3.1, every route the application serves is in it and every documented path is
served, and a bounded, seeded property-based run of schemathesis against the live server
finds no 5xx and no answer that breaks the document."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from monitor.http.routing import BODY_LIMIT
from monitor.http.server import ROUTES
from tests.http.site import TOKENS, Site

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
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
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert re.search(r"\d+ generated, \d+ passed", text), text[-2000:]
    assert BODY_LIMIT  # the limit bounds what it can send (413 is documented)
