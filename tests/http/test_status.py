"""The public status page and its siblings: states, the 90-day bars (unknown
never shown as up), this month's availability worked out by hand, open incidents with
their timelines, announced maintenance, the Atom feed with ETag/304, the
Statuspage-compatible JSON, and the badges."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from monitor import actions
from monitor.sla import month_containing
from monitor.store import Database, history, incidents, unknown
from tests.http.site import Site, StoppedClock, serve

HOUR = 3600
# The pages' clock, stopped on a mid-month afternoon. On the wall clock, a test that crossed
# a midnight or a month's start had "today" or "this month" change under it: today's bar
# was "unknown" (the last heartbeat was yesterday's), and a cause recorded in the second
# an outage was detected came before the detection in its timeline.
NOW = dt.datetime(2026, 11, 18, 14, 23, 11, tzinfo=dt.UTC)


@pytest.fixture
async def site(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    async with serve(db, tmp_path, clock=StoppedClock(NOW)) as running:
        yield running


def midnight(days_ago: int) -> dt.datetime:
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days_ago)


async def started(site: Site, days: int) -> None:
    """The daemon has run since midnight ``days`` ago and runs now (its last heartbeat)."""
    async with site.db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=midnight(days), hostname="t",
                                            pid=1, version="t")
        await unknown.beat(tx, session, NOW)


def bars(page: str, service: str) -> list[str]:
    """The day states of a service's bars, oldest first, as the HTML says them."""
    article = page.split(f'id="service-{service}"')[1].split("</article>")[0]
    return re.findall(r'<li class="day-(\w+)" title="([^"]*)"', article)  # type: ignore[return-value]


async def test_days_before_the_monitor_ran_and_blind_days_are_unknown(site: Site) -> None:
    await started(site, days=10)  # the monitor first ran 10 days ago, at midnight
    async with site.db.transaction() as tx:  # blind for an hour 5 days ago (R-M2)
        await unknown.add_unknown(tx, start=midnight(5) + dt.timedelta(hours=9),
                                  end=midnight(5) + dt.timedelta(hours=10),
                                  reason="canaries_failed", detail=None)
    # The mobile API down 3 days ago from 10:00 to 12:00.
    await actions.add_incident(site.db, site.settings, service="mobile",
                               start=midnight(3) + dt.timedelta(hours=10),
                               end=midnight(3) + dt.timedelta(hours=12), actor="t",
                               now=NOW)
    page = await (await site.get("/")).text()
    mobile = bars(page, "mobile")
    assert len(mobile) == 90
    states = [state for state, _ in mobile]
    # Index 89 is today, 89 - n is n days ago. The monitor first ran at the start of the
    # day 10 days ago (index 79): the 79 days before it are unknown.
    assert states[:79] == ["unknown"] * 79
    assert states[79] == "up"
    assert states[84] == "unknown"  # 5 days ago: an hour blind, no outage
    assert "unknown 1 h" in mobile[84][1]
    assert states[86] == "down" and "down 2 h" in mobile[86][1]  # 3 days ago
    assert states[89] == "up"  # today, so far
    assert states.count("up") == 11 - 2  # days 10..0 ago, less the blind and the down one
    assert "1 day with an outage · 80 unknown" in page
    panel = [state for state, _ in bars(page, "panel")]
    assert panel[86] == "up"  # the mobile API's outage is not the panel's


async def test_states_follow_incidents_maintenance_and_probes(site: Site) -> None:
    await started(site, days=2)
    now = NOW
    async with site.db.transaction() as tx:
        await incidents.open_probe_incident(
            tx, service_id="srv-1", start=now - dt.timedelta(minutes=5), start_bound=None,
            detected_at=now - dt.timedelta(minutes=4), created_at=now)
        await history.insert_runs(tx, [{  # the mobile API fails, no incident yet
            "target_id": "mobile", "state": "down", "first_at": now, "last_at": now, "count": 1,
            "latency_min_ms": None, "latency_max_ms": None, "latency_sum_ms": 0.0}])
    await actions.add_maintenance(site.db, site.settings, services=["panel"],
                                  start=now - dt.timedelta(minutes=10),
                                  end=now + dt.timedelta(minutes=50), reason="Panel upgrade",
                                  actor="t", now=now)
    summary = await (await site.get("/api/v2/summary.json")).json()
    states = {c["id"]: c["status"] for c in summary["components"]}
    assert states == {"panel": "under_maintenance", "mobile": "degraded_performance",
                      "hosted-projects": "partial_outage"}  # srv-1 down: 2 of 3 projects
    projects = next(c for c in summary["components"] if c["id"] == "hosted-projects")
    assert projects["description"] == "2 of 3 unavailable"
    assert summary["status"] == {"indicator": "minor", "description": "Minor Service Outage"}
    assert [m["status"] for m in summary["scheduled_maintenances"]] == ["in_progress"]
    page = await (await site.get("/")).text()
    assert "Under maintenance" in page and "Degraded performance" in page
    assert "2 of 3 unavailable" in page and "Panel upgrade" in page


@pytest.mark.slow
async def test_an_open_incident_with_its_timeline_and_this_months_availability(site: Site) -> None:
    await started(site, days=40)
    now = NOW
    period = month_containing(now, "gregorian", "UTC")
    # An earlier manual outage this month (an hour at its start), then the open one since
    # 2 h ago, both counted (R-M6).
    manual = HOUR
    start = now - dt.timedelta(hours=2)
    async with site.db.transaction() as tx:
        open_id = await incidents.open_probe_incident(
            tx, service_id="panel", start=start, start_bound=None,
            detected_at=start + dt.timedelta(seconds=1), created_at=now)
    await actions.change_cause(site.db, incident_id=open_id, cause="external",
                               reason="ACME's ISP is down", actor="t", now=now)
    await actions.change_cause(site.db, incident_id=open_id, cause="provider",
                               reason="no, it was ours", actor="t", now=now)
    await actions.add_incident(
        site.db, site.settings, service="panel", start=period.start,
        end=period.start + dt.timedelta(seconds=manual), actor="t", now=now)
    response = await site.get("/")
    page = await response.text()
    assert "<bdi>Web panel</bdi>: unavailable" in page
    timeline = page.split(f'id="incident-{open_id}"')[1].split("</ol>")[0]
    steps = re.findall(r"— *\n?([^<]+?)\s*</li>", timeline)
    assert steps == ["outage began (the first failed check)", "detected by our monitoring",
                     "cause recorded: outside our service, e.g. a network cut-off (excluded)",
                     "cause recorded: our service (counted)"]
    assert "ACME's ISP" not in page and "no, it was ours" not in page  # reasons stay private
    # This month, November (30 days, 2,592,000 s): the hour at its start and the open
    # incident's 2 h so far are 10,800 s down (R-M6); (2,592,000 - 10,800) / 2,592,000 =
    # 99.58333... %, shown rounded down to three decimals.
    assert (period.seconds, manual + (now - start).total_seconds()) == (2_592_000, 10_800)
    assert "<strong>99.583 %</strong>" in page
    summary = await (await site.get("/api/v2/summary.json")).json()
    assert [i["id"] for i in summary["incidents"]] == [str(open_id)]  # unresolved only
    assert summary["incidents"][0]["status"] == "investigating"
    assert summary["status"]["indicator"] == "major"


async def test_the_feed_has_an_etag_and_answers_304(site: Site) -> None:
    await started(site, days=5)
    now = NOW
    await actions.add_incident(site.db, site.settings, service="panel",
                               start=now - dt.timedelta(hours=3), end=now - dt.timedelta(hours=2),
                               actor="t", now=now)
    first = await site.get("/feed.atom")
    body = await first.text()
    etag = first.headers["ETag"]
    assert first.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert "Web panel: outage of 1 h (resolved)" in body
    again = await site.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    await actions.add_maintenance(site.db, site.settings, services=["mobile"],
                                  start=now + dt.timedelta(days=3),
                                  end=now + dt.timedelta(days=3, hours=1), reason="API upgrade",
                                  actor="t", now=now)
    changed = await site.get("/feed.atom", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "API upgrade" in await changed.text()


async def test_statuspage_status_and_badges(site: Site) -> None:
    await started(site, days=5)
    status = await (await site.get("/api/v2/status.json")).json()
    assert set(status) == {"page", "status"}
    assert status["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert set(status["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    badge = await site.get("/badge/panel/status.svg")
    svg = await badge.text()
    assert badge.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "Web panel: operational" in svg and "#2e7d32" in svg
    availability = await (await site.get("/badge/mobile/availability.svg")).text()
    assert "100.000%" in availability
    private = await site.get("/badge/acme-shop/status.svg")  # a customer's project
    assert private.status == 404
    assert (await private.json())["error"] == "not_found"


async def test_an_empty_feed_says_it_was_updated_when_its_window_began(site: Site) -> None:
    """A feed with no entry said it was updated on 2000-01-01 (a feed reader showed "26
    years ago"): with nothing in its 90 days, it was last changed no later than when they
    began, which it says (the start of the oldest day the status page shows). The same
    body answers again, so its ETag holds."""
    first = await site.get("/feed.atom")
    feed = ElementTree.fromstring(await first.read())
    atom = "{http://www.w3.org/2005/Atom}"
    assert feed.findall(f"{atom}entry") == []
    updated = dt.datetime.fromisoformat(feed.findtext(f"{atom}updated") or "")
    now = NOW
    assert now - dt.timedelta(days=91) <= updated <= now - dt.timedelta(days=89), updated
    again = await site.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
