"""The status page's history: the last 90 days' incidents and maintenance on ``/`` with
their timelines, a page per public incident (``/incidents/ID``; a customer's incident has
none), Statuspage's ``incidents.json`` and ``scheduled-maintenances.json``, and an Atom
feed whose every link leads to a page that shows its entry. The calm indicator: hosted
projects change the page-wide status only above ``status_page.hosted_projects_threshold``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from monitor import actions
from monitor.store import Database, incidents, unknown
from tests.http.site import Site, serve

ATOM = "{http://www.w3.org/2005/Atom}"


async def started(site: Site, days: int) -> None:
    """The daemon has run for ``days`` days and runs now."""
    now = dt.datetime.now(dt.UTC)
    async with site.db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=now - dt.timedelta(days=days),
                                            hostname="t", pid=1, version="t")
        await unknown.beat(tx, session, now)


async def history(site: Site) -> dict[str, int]:
    """A resolved panel incident 3 days ago with an operator's update, an open mobile
    incident, a resolved one of a customer's project, one 120 days ago, a completed and an
    announced maintenance window."""
    await started(site, days=200)
    now = dt.datetime.now(dt.UTC)
    resolved = await actions.add_incident(
        site.db, site.settings, service="panel", start=now - dt.timedelta(days=3, hours=2),
        end=now - dt.timedelta(days=3), actor="t", now=now)
    await actions.post_update(site.db, incident_id=resolved.id, status="identified",
                              message="A failed switch; replacing it.", actor="t", now=now)
    old = await actions.add_incident(
        site.db, site.settings, service="panel", start=now - dt.timedelta(days=120, hours=1),
        end=now - dt.timedelta(days=120), actor="t", now=now)
    private = await actions.add_incident(
        site.db, site.settings, service="acme-shop", start=now - dt.timedelta(days=2, hours=1),
        end=now - dt.timedelta(days=2), actor="t", now=now)
    async with site.db.transaction() as tx:
        open_id = await incidents.open_probe_incident(
            tx, service_id="mobile", start=now - dt.timedelta(minutes=20), start_bound=None,
            detected_at=now - dt.timedelta(minutes=19), created_at=now)
    done = await actions.add_maintenance(
        site.db, site.settings, services=["panel"], start=now - dt.timedelta(days=5, hours=1),
        end=now - dt.timedelta(days=5), reason="Panel upgrade", actor="t", now=now)
    ahead = await actions.add_maintenance(
        site.db, site.settings, services=["mobile"], start=now + dt.timedelta(days=3),
        end=now + dt.timedelta(days=3, hours=1), reason="API upgrade", actor="t", now=now)
    return {"resolved": resolved.id, "old": old.id, "private": private.id, "open": open_id,
            "done": done.window.id, "ahead": ahead.window.id}


async def test_every_link_of_the_feed_leads_to_a_page_that_shows_its_entry(site: Site) -> None:
    ids = await history(site)
    feed = ElementTree.fromstring(await (await site.get("/feed.atom")).read())
    links = [link.get("href") or "" for entry in feed.iter(f"{ATOM}entry")
             for link in entry.iter(f"{ATOM}link")]
    assert len(links) == 4  # two public incidents, two windows; not the old nor the private
    for link in links:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == site.url, link
        response = await site.get(parts.path)
        assert response.status == 200, link
        page = await response.text()
        shown = parts.fragment or f"incident-{parts.path.rsplit('/', 1)[-1]}"
        assert f'id="{shown}"' in page, link  # the anchor exists on the page linked
    assert f"{site.url}/incidents/{ids['resolved']}" in links
    assert f"{site.url}/#maintenance-{ids['done']}" in links


async def test_the_page_shows_the_last_90_days_with_their_timelines(site: Site) -> None:
    ids = await history(site)
    page = await (await site.get("/")).text()
    past = page.split('id="history"')[1]
    assert f'id="incident-{ids["resolved"]}"' in past
    assert f'href="/incidents/{ids["resolved"]}"' in past
    assert "<bdi>Web panel</bdi>: outage of 2 h" in past
    assert "<strong>Identified</strong>: <span class=\"update\" dir=\"auto\">A failed " \
           "switch; replacing it.</span>" in past
    assert f'id="maintenance-{ids["done"]}"' in past and "Panel upgrade" in past
    assert f'id="incident-{ids["old"]}"' not in page  # 120 days ago
    assert f'id="incident-{ids["private"]}"' not in page  # a customer's project
    current = page.split('id="incidents"')[1].split("</section>")[0]
    assert f'href="/incidents/{ids["open"]}"' in current


async def test_an_incident_page_and_no_page_for_a_private_or_unknown_one(site: Site) -> None:
    ids = await history(site)
    response = await site.get(f"/incidents/{ids['resolved']}")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = await response.text()
    assert "<bdi>Web panel</bdi>: incident" in page
    assert 'id="incident-status">Resolved</p>' in page
    steps = re.findall(r"— *\n?(.+?)\s*</li>", page.split('class="timeline"')[1])
    # Recorded by the operators (incident add), not found by a probe: no "failed check".
    assert steps == ["outage began (as our staff recorded it)",
                     "resolved",  # the incident ended 3 days ago; the update came after
                     '<strong>Identified</strong>: <span class="update" dir="auto">A failed '
                     "switch; replacing it.</span>"]
    missing = await site.get("/incidents/999999")
    private = await site.get(f"/incidents/{ids['private']}")
    assert missing.status == private.status == 404
    missing_text, private_text = await missing.text(), await private.text()
    assert private_text == missing_text and "ACME" not in private_text
    for path in ("/incidents/0", "/incidents/abc", "/incidents/99999999999"):
        assert (await site.get(path)).status == 404, path


async def test_statuspage_incidents_and_scheduled_maintenances(site: Site) -> None:
    ids = await history(site)
    now = dt.datetime.now(dt.UTC)
    await actions.post_update(site.db, incident_id=ids["open"], status="monitoring",
                              message="A fix is out; watching.", actor="ops", now=now)
    listed = await (await site.get("/api/v2/incidents.json")).json()
    assert set(listed) == {"page", "incidents"}
    assert [i["id"] for i in listed["incidents"]] == [str(ids["open"]), str(ids["resolved"])]
    current, resolved = listed["incidents"]
    assert current["status"] == "monitoring" and current["resolved_at"] is None
    assert current["shortlink"] == f"{site.url}/incidents/{ids['open']}"
    assert current["incident_updates"][0]["status"] == "monitoring"
    assert current["incident_updates"][0]["body"] == "A fix is out; watching."
    assert "ops" not in str(current)  # who posted stays private
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert [u["status"] for u in resolved["incident_updates"]] == [
        "identified", "resolved", "investigating"]
    assert {"id", "name", "status", "created_at", "updated_at", "monitoring_at",
            "resolved_at", "impact", "shortlink", "started_at", "page_id",
            "incident_updates", "components"} <= set(current)
    kept = await (await site.get("/api/v2/scheduled-maintenances.json")).json()
    assert set(kept) == {"page", "scheduled_maintenances"}
    assert [(m["id"], m["status"]) for m in kept["scheduled_maintenances"]] == [
        (f"maintenance-{ids['ahead']}", "scheduled"),
        (f"maintenance-{ids['done']}", "completed")]
    assert {"scheduled_for", "scheduled_until", "impact"} <= set(
        kept["scheduled_maintenances"][0])


@pytest.fixture
async def calm(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """A page whose hosted projects (3 of them) change the indicator above 50 %."""
    async with serve(db, tmp_path,
                     extra_http="status_page: {hosted_projects_threshold: 50}") as running:
        yield running


async def _indicator(site: Site) -> tuple[str, str]:
    summary = await (await site.get("/api/v2/summary.json")).json()
    projects = next(c for c in summary["components"] if c["id"] == "hosted-projects")
    return summary["status"]["indicator"], projects["status"]


async def test_hosted_projects_change_the_indicator_only_above_the_threshold(calm: Site) -> None:
    await started(calm, days=2)
    now = dt.datetime.now(dt.UTC)
    async with calm.db.transaction() as tx:  # one project of three: 33 %, not above 50 %
        await incidents.open_probe_incident(
            tx, service_id="acme-shop", start=now - dt.timedelta(minutes=5), start_bound=None,
            detected_at=now - dt.timedelta(minutes=4), created_at=now)
    assert await _indicator(calm) == ("none", "partial_outage")
    page = await (await calm.get("/")).text()
    assert "indicator-none" in page and "1 of 3 unavailable" in page
    async with calm.db.transaction() as tx:  # its server too: 2 of 3, 67 %
        await incidents.open_probe_incident(
            tx, service_id="srv-1", start=now - dt.timedelta(minutes=3), start_bound=None,
            detected_at=now - dt.timedelta(minutes=2), created_at=now)
    assert await _indicator(calm) == ("minor", "partial_outage")


async def test_by_default_a_tenth_of_the_projects_changes_the_indicator(site: Site) -> None:
    assert site.settings.status_page.hosted_projects_threshold == 10
    await started(site, days=2)
    now = dt.datetime.now(dt.UTC)
    async with site.db.transaction() as tx:
        await incidents.open_probe_incident(
            tx, service_id="acme-shop", start=now - dt.timedelta(minutes=5), start_bound=None,
            detected_at=now - dt.timedelta(minutes=4), created_at=now)
    assert await _indicator(site) == ("minor", "partial_outage")  # 33 % > 10 %


async def test_every_page_has_one_main_landmark_and_no_refresh_by_default(site: Site) -> None:
    ids = await history(site)
    for path, who in (("/", None), (f"/incidents/{ids['resolved']}", None),
                      ("/incidents/999", None), ("/customer/acme", "read"),
                      ("/customer/acme", None)):
        page = await (await site.get(path, who)).text()
        assert page.count("<main>") == page.count("</main>") == 1, path
        main = page.split("<main>")[1].split("</main>")[0]
        assert "<h1" in main and "<footer" not in main, path
        assert 'http-equiv="refresh"' not in page, path


@pytest.fixture
async def refreshing(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    async with serve(db, tmp_path, extra_http="status_page: {refresh: 2m}") as running:
        yield running


async def test_a_configured_refresh_reloads_the_public_pages_only(refreshing: Site) -> None:
    ids = await history(refreshing)
    for path in ("/", f"/incidents/{ids['resolved']}"):
        page = await (await refreshing.get(path)).text()
        assert '<meta http-equiv="refresh" content="120">' in page, path
    customer = await (await refreshing.get("/customer/acme", "read")).text()
    assert 'http-equiv="refresh"' not in customer
