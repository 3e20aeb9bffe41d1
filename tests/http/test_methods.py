"""HEAD and OPTIONS on every GET route (load balancers and monitors send them): HEAD
answers what GET answers, status and headers, without a body; OPTIONS answers 204 with
``Allow``. Neither is in the OpenAPI document (they are derived from GET, as RFC 9110
and OpenAPI tools take them); the document says so."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.http import Readiness, make_app
from monitor.http.server import ROUTES
from monitor.store import Database
from tests.http.site import Site, serve

GET_PATHS = sorted({r.path for r in ROUTES if r.method == "GET"})
# Headers that may differ between two answers to the same request.
VOLATILE = {"Date", "Content-Length", "ETag", "Last-Modified"}


def concrete(path: str) -> str:
    path = re.sub(r"\{(incident|claim|ticket)_id\}", "1", path)
    path = path.replace("{customer}", "acme").replace("{month}", "2026-03")
    path = path.replace("{service}", "panel").replace("{name}", "style.css")
    path = path.replace("{token}", "a-token-that-no-target-has")  # Kuma's push URL: 404
    return path + ("?month=2026-03" if path.endswith("/reports") else "")


@pytest.mark.slow
async def test_head_answers_as_get_without_a_body_on_every_get_route(site: Site) -> None:
    for path in GET_PATHS:
        for who in ("write", None):  # with a token and without (401 is answered alike)
            url = site.url + concrete(path)
            headers = site.auth(who) if who else {}
            get = await site.session.get(url, headers=headers, allow_redirects=False)
            await get.read()
            head = await site.session.head(url, headers=headers, allow_redirects=False)
            assert head.status == get.status, (path, who, head.status, get.status)
            assert head.status != 405
            assert await head.read() == b""
            assert set(head.headers) - VOLATILE == set(get.headers) - VOLATILE, (path, who)
            assert head.headers.get("Content-Type") == get.headers.get("Content-Type")


async def test_head_of_a_page_that_does_not_exist_answers_as_get(site: Site) -> None:
    # GET of a missing page answers the "Not found" page (HTML, in the page's language);
    # HEAD answered aiohttp's own "404: Not Found" in text/plain, without Content-Language.
    for path in ("/no/such/page", "/feed.atom/x", "/static/no-such.css"):
        get = await site.session.get(site.url + path)
        await get.read()
        head = await site.session.head(site.url + path)
        assert (head.status, get.status) == (404, 404), path
        assert await head.read() == b""
        assert set(head.headers) - VOLATILE == set(get.headers) - VOLATILE, path
        for name in ("Content-Type", "Content-Language", "Content-Length"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)


async def test_a_forms_address_opened_in_a_browser_answers_a_page_not_plain_text(
        db: Database, tmp_path: Path) -> None:
    # After "Subscribe" the address bar shows /subscriptions; opening it again (Enter in
    # the address bar, the history) answered aiohttp's "405: Method Not Allowed" in
    # English plain text on a Persian site. It is a page in the reader's language that
    # leads back to the status page (still 405, with Allow).
    async with serve(db, tmp_path, language="fa") as site:
        for path in ("/subscriptions", "/customer/acme/claims"):
            for method in ("GET", "HEAD"):
                response = await site.session.request(method, site.url + path)
                body = await response.text()
                assert response.status == 405, (path, method)
                assert "POST" in response.headers["Allow"]
                assert response.headers["Content-Type"] == "text/html; charset=utf-8"
                assert response.headers["Content-Language"] == "fa"
                if method == "GET":
                    assert '<html lang="fa" dir="rtl">' in body and '<a href="/">' in body
        api = await site.session.get(site.url + "/api/v1/incidents/1/cause")
        assert api.status == 405 and api.content_type == "application/json"  # as before


async def test_options_answers_204_with_allow_on_every_get_route(site: Site) -> None:
    methods: dict[str, set[str]] = {}
    for route in ROUTES:
        methods.setdefault(route.path, set()).add(route.method)
    for path in GET_PATHS:
        response = await site.session.options(site.url + concrete(path), allow_redirects=False)
        assert response.status == 204, path
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert allowed == methods[path] | {"HEAD", "OPTIONS"}, path
        assert await response.read() == b""


async def test_a_method_not_allowed_is_still_405_and_names_head_and_options(site: Site) -> None:
    response = await site.session.delete(site.url + "/api/v1/incidents", headers=site.auth("write"))
    assert response.status == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD", "POST", "OPTIONS"} <= allowed


async def test_health_answers_head_and_options_before_the_database_is_open() -> None:
    async def ready() -> Readiness:
        return Readiness({"database": False}, targets=0)

    runner = web.AppRunner(make_app(CollectorRegistry(), ready), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            for path, status in [("/healthz", 200), ("/readyz", 503), ("/metrics", 200)]:
                head = await session.head(f"http://127.0.0.1:{port}{path}")
                assert (head.status, await head.read()) == (status, b"")
                options = await session.options(f"http://127.0.0.1:{port}{path}")
                assert options.status == 204
                assert options.headers["Allow"] == "GET, HEAD, OPTIONS"
    finally:
        await runner.cleanup()
