"""Escaping: a customer name with HTML, quotes and CRLF, a provider name and a
maintenance reason with markup, through every page, the feed and the JSON: shown as text
where they are shown, never as markup or a header; and public pages show no customer's
name or private project at all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from monitor import actions
from monitor.store import Database
from tests.http import world
from tests.http.site import EVIL_NAME, PERSIAN_NAME, Site, serve

EVIL_PROVIDER = 'Evil <b>"Hosting"</b> & Co\r\nX-Injected: yes'
EVIL_REASON = '<img src=x onerror=alert(1)> "upgrade" & restart'
PRIVATE = ["ACME Research", PERSIAN_NAME, "ACME shop", "acme-shop", "bita-survey",
           "نظرسنجی بیتا", "evil-site", "acme.example", "srv-1", "Server one", "pwned",
           "stolen", "acme-shop disk full", "ACME's staff"]
PUBLIC = ["/", "/feed.atom", "/api/v2/summary.json", "/api/v2/status.json",
          "/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json",
          "/badge/panel/status.svg", "/badge/mobile/availability.svg"]


@pytest.fixture
async def evil(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    async with serve(db, tmp_path, provider=EVIL_PROVIDER) as running:
        await world.build(db, running.settings)
        now = dt.datetime.now(dt.UTC)
        await actions.add_maintenance(
            db, running.settings, services=["mobile"], start=now + dt.timedelta(days=2),
            end=now + dt.timedelta(days=2, hours=1), reason=EVIL_REASON, actor="test", now=now)
        yield running


@pytest.mark.slow
async def test_public_pages_show_no_customer_or_private_project(evil: Site) -> None:
    # Every incident page there is: the public ones the feed links, and every other id
    # (a customer's incident, answered as one that does not exist).
    found = await actions.list_incidents(evil.db, evil.settings)
    assert found
    pages = [f"/incidents/{incident.id}" for incident in found]
    for path in PUBLIC + pages:
        response = await evil.get(path)
        assert response.status == 200 or path in pages, path
        text = await response.text()
        for private in PRIVATE:
            assert private not in text, (path, private)
        assert EVIL_NAME not in text


async def test_the_status_page_escapes_the_provider_name_and_a_reason(evil: Site) -> None:
    response = await evil.get("/")
    text = await response.text()
    assert "<b>" not in text and "&lt;b&gt;&#34;Hosting&#34;&lt;/b&gt; &amp; Co" in text
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "X-Injected" not in response.headers
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


async def test_the_feed_is_well_formed_xml_with_the_names_as_text(evil: Site) -> None:
    response = await evil.get("/feed.atom")
    body = await response.read()
    feed = ElementTree.fromstring(body)  # raises on markup that broke out
    atom = "{http://www.w3.org/2005/Atom}"
    title = feed.find(f"{atom}title")
    assert title is not None and title.text is not None
    # The provider name is one line of text in titles (CRLF folded away), not markup.
    assert title.text.startswith('Evil <b>"Hosting"</b> & Co X-Injected: yes')
    contents = [e.findtext(f"{atom}content") or "" for e in feed.iter(f"{atom}entry")]
    assert any(EVIL_REASON in content for content in contents)


async def test_the_customer_page_shows_the_name_as_text(evil: Site) -> None:
    response = await evil.get("/customer/evil", "read")
    assert response.status == 200
    text = await response.text()
    assert "<script>" not in text
    assert ("&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &#39;Quotes&#39; "
            "&#34;Inc&#34;") in text
    assert "stolen" not in str(response.headers) and "stolen" not in response.cookies
    # The title is one line; the body keeps the text (a CRLF inside an HTML text node is
    # only white space).
    title = text.split("<title>")[1].split("</title>")[0]
    assert "\r" not in title and "\n" not in title


async def test_the_json_api_carries_the_name_exactly(evil: Site) -> None:
    response = await evil.get("/api/v1/customers/evil", "read")
    raw = await response.text()
    assert json.loads(raw)["name"] == EVIL_NAME
    assert "<script>" in json.loads(raw)["name"]  # data, not markup: JSON is not HTML
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    names = {c["name"] for c in await (await evil.get("/api/v1/customers", "read")).json()}
    assert EVIL_NAME in names and PERSIAN_NAME in names


@pytest.mark.slow
async def test_every_answer_carries_the_security_headers(evil: Site) -> None:
    for path in [*PUBLIC, "/customer/evil", "/api/v1/openapi.json", "/metrics", "/nope"]:
        response = await evil.get(path, "read" if path.startswith("/customer") else None)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src" not in csp and "'unsafe-inline'" not in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


async def test_pages_have_no_script_and_no_inline_style(evil: Site) -> None:
    for path in ["/", "/customer/evil"]:
        text = await (await evil.get(path, "read")).text()
        assert "<script" not in text.lower()
        assert " style=" not in text and "<style" not in text
