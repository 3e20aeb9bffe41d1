"""Pages that hold a stampede (:mod:`monitor.http.cache`): a public page or a customer's
page is rendered once per change of what it shows and then served from memory with its
ETag. Counted renders, never wall-clock: the same body while nothing changes; a new probe
state, incident or operator's update changes it at once; another process's write within
the recheck interval (a fake monotonic clock); one customer never gets another's page; a
client that has the page gets 304; the memory kept stays under its bound."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from monitor import actions
from monitor.http.cache import CachedPage, PageCache
from monitor.store import Database, history, incidents
from monitor.store.models import IncidentUpdate
from tests.http.site import Site, StoppedClock, serve

NOW = dt.datetime(2026, 3, 16, 12, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
async def stopped(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """The site on a stopped clock: only the database changes what a page shows."""
    async with serve(db, tmp_path, clock=StoppedClock(NOW)) as running:
        yield running


async def _page(site: Site, path: str, who: str | None = None) -> tuple[str, str]:
    response = await site.get(path, who)
    assert response.status == 200, path
    return await response.text(), response.headers["ETag"]


async def _open(site: Site, service: str) -> int:
    async with site.db.transaction() as tx:
        return await incidents.open_probe_incident(
            tx, service_id=service, start=NOW - dt.timedelta(minutes=10), start_bound=None,
            detected_at=NOW - dt.timedelta(minutes=9), created_at=NOW)


@pytest.mark.parametrize("path", ["/", "/feed.atom", "/badge/panel/status.svg"])
async def test_a_public_page_is_rendered_once_while_nothing_changes(
        stopped: Site, path: str) -> None:
    first, tag = await _page(stopped, path)
    renders = stopped.web.pages.renders
    for _ in range(3):
        assert await _page(stopped, path) == (first, tag)
    assert stopped.web.pages.renders == renders


async def test_many_clients_at_once_get_one_render(stopped: Site) -> None:
    before = stopped.web.pages.renders
    pages = await asyncio.gather(*(_page(stopped, "/") for _ in range(20)))
    assert len(set(pages)) == 1
    assert stopped.web.pages.renders == before + 1


async def test_a_probe_state_an_incident_and_an_update_each_change_the_page(
        stopped: Site) -> None:
    site = stopped
    seen = [await _page(site, "/")]
    assert "Major outage" not in seen[0][0]

    async with site.db.transaction() as tx:  # the web panel's probes start failing
        await history.insert_runs(tx, [{
            "target_id": "panel", "state": "down", "first_at": NOW, "last_at": NOW,
            "count": 1, "latency_min_ms": None, "latency_max_ms": None,
            "latency_sum_ms": 0.0}])
    seen.append(await _page(site, "/"))
    assert "Degraded performance" in seen[-1][0]

    incident_id = await _open(site, "panel")
    seen.append(await _page(site, "/"))
    assert f"/incidents/{incident_id}" in seen[-1][0]
    incident_page = await _page(site, f"/incidents/{incident_id}")

    await actions.post_update(site.db, incident_id=incident_id, status="identified",
                              message="A failed switch, replacing it", actor="t", now=NOW)
    seen.append(await _page(site, "/"))
    assert "A failed switch, replacing it" in seen[-1][0]
    assert "A failed switch" in (await _page(site, f"/incidents/{incident_id}"))[0]
    assert (await _page(site, f"/incidents/{incident_id}")) != incident_page

    assert len({body for body, _ in seen}) == len({tag for _, tag in seen}) == len(seen) == 4


@pytest.mark.slow
async def test_another_process_write_shows_after_the_recheck_interval(stopped: Site) -> None:
    site = stopped
    clock = [0.0]
    site.web.pages = PageCache(recheck=1.0, monotonic=lambda: clock[0])
    incident_id = await _open(site, "panel")
    before = await _page(site, "/")
    # Written as another process writes: not through this process's transactions.
    async with site.db.engine.begin() as connection:
        await connection.execute(insert(IncidentUpdate).values(
            incident_id=incident_id, posted_at=NOW, status="monitoring",
            message="Written by another process", actor="cli"))
    clock[0] = 0.5  # within the recheck interval: the page as it was
    assert await _page(site, "/") == before
    clock[0] = 1.5
    after = await _page(site, "/")
    assert "Written by another process" in after[0] and after[1] != before[1]


async def test_if_none_match_gets_304_until_the_page_changes(stopped: Site) -> None:
    site = stopped
    for path in ("/", "/feed.atom", "/badge/panel/availability.svg"):
        _, tag = await _page(site, path)
        again = await site.get(path, headers={"If-None-Match": tag})
        assert again.status == 304 and await again.read() == b"", path
        assert again.headers["ETag"] == tag
    _, tag = await _page(site, "/")
    await _open(site, "mobile")
    changed = await site.get("/", headers={"If-None-Match": tag})
    assert changed.status == 200 and changed.headers["ETag"] != tag


async def test_a_customer_never_gets_another_customers_cached_page(stopped: Site) -> None:
    site = stopped
    acme, _ = await _page(site, "/customer/acme", "acme")
    bita, _ = await _page(site, "/customer/bita", "bita")
    assert "ACME Research" in acme and "ACME Research" not in bita
    assert "bita-survey" not in acme and "acme-shop" not in bita
    # Both are cached now: another customer's token still gets no page, and no one's.
    for path, who in (("/customer/bita", "acme"), ("/customer/acme", "bita")):
        refused = await site.get(path, who)
        assert refused.status == 404, (path, who)
        text = await refused.text()
        assert "ACME Research" not in text and "acme-shop" not in text, (path, who)
    anonymous = await site.get("/customer/acme")
    assert anonymous.status == 401 and "acme-shop" not in await anonymous.text()
    # An operator sees the customer's own page, the same body.
    assert (await _page(site, "/customer/acme", "read"))[0] == acme


async def test_a_customer_page_changes_with_its_incident(stopped: Site) -> None:
    site = stopped
    before, _ = await _page(site, "/customer/acme", "acme")
    await _open(site, "acme-shop")
    after, _ = await _page(site, "/customer/acme", "acme")
    assert before != after


async def test_the_memory_kept_stays_under_its_bound() -> None:
    cache = PageCache(max_bytes=10_000)

    async def render(size: int) -> CachedPage:
        return CachedPage(b"x" * size, "text/html")

    for number in range(10):
        await cache.page(("page", number), 1, lambda: render(3_000))
        assert cache.bytes <= 10_000
    assert len(cache) == 3 and cache.renders == 10
    # The least recently served went first; a page bigger than the bound is not kept.
    await cache.page(("page", 9), 1, lambda: render(3_000))
    assert cache.renders == 10
    await cache.page(("huge",), 1, lambda: render(20_000))
    assert cache.bytes <= 10_000 and ("huge",) not in cache


REPORT = "/api/v1/reports?month=2026-03"


async def test_the_month_s_report_for_many_clients_at_once_is_computed_once(
        stopped: Site) -> None:
    # A dashboard's panels (or several) asking for the same report at once cost one
    # month's engine, not one each; then it is kept until a record it reads changes.
    site = stopped
    before = site.web.pages.renders
    reports = await asyncio.gather(*(_page(site, REPORT, "read") for _ in range(10)))
    assert len(set(reports)) == 1
    assert site.web.pages.renders == before + 1
    assert await _page(site, REPORT, "read") == reports[0]
    # One customer's report is another report.
    assert (await _page(site, REPORT + "&customer=acme", "read"))[1] != reports[0][1]
    assert site.web.pages.renders == before + 2

    async with site.db.transaction() as tx:  # a probe's state: nothing a report reads
        await history.insert_runs(tx, [{
            "target_id": "panel", "state": "down", "first_at": NOW, "last_at": NOW,
            "count": 1, "latency_min_ms": None, "latency_max_ms": None,
            "latency_sum_ms": 0.0}])
    assert await _page(site, REPORT, "read") == reports[0]
    assert site.web.pages.renders == before + 2

    incident_id = await _open(site, "panel")  # an incident: computed again, with it
    text, tag = await _page(site, REPORT, "read")
    assert tag != reports[0][1] and f'"id":{incident_id},' in text.replace(" ", "")
    assert site.web.pages.renders == before + 3
    response = await site.get(REPORT, "read", headers={"If-None-Match": tag})
    assert response.status == 304


async def test_the_cached_report_is_refused_as_before_to_whom_may_not_read_it(
        stopped: Site) -> None:
    assert (await site_get_status(stopped, REPORT, None)) == 401
    assert (await site_get_status(stopped, REPORT, "acme")) == 403  # operators only
    assert (await site_get_status(stopped, "/api/v1/reports?month=2026-13", "read")) == 422
    assert (await site_get_status(stopped, REPORT + "&customer=nobody", "read")) == 422


async def site_get_status(site: Site, path: str, who: str | None) -> int:
    response = await site.get(path, who)
    await response.read()
    return response.status
