"""Each public service on the status page: its uptime over the last 24 hours, 7, 30 and 90
days with the unknown time shown apart (R-M3, R-M6's denominator), and its response-time
charts (24 hours, 7 days) drawn on the server from the hourly roll-ups (R-M7) as inline
SVG with a text summary (``<title>``, ``aria-label``); an hour without a measurement is a
gap; figures in the reader's language (Persian digits on a Persian page)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor import actions
from monitor.store import Database, history, unknown
from tests.http.site import Site, StoppedClock, serve

NOW = dt.datetime(2026, 3, 16, 12, 20, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


async def _world(site: Site) -> None:
    """The daemon running for 100 days; the web panel down 30 min five hours ago and the
    monitor blind 20 min three hours ago; the panel's last two whole hours measured at a
    mean of 100 and 300 ms; nothing measured of the mobile API."""
    async with site.db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=NOW - dt.timedelta(days=100),
                                            hostname="t", pid=1, version="t")
        await unknown.beat(tx, session, NOW)
        await unknown.add_unknown(tx, start=NOW - 3 * HOUR,
                                  end=NOW - 3 * HOUR + dt.timedelta(minutes=20),
                                  reason="canaries_failed", detail=None)
        this_hour = NOW.replace(minute=0)
        await history.upsert_rollups(tx, [
            {"target_id": "panel", "hour": this_hour - 2 * HOUR, "count": 10, "failures": 0,
             "sum_ms": 1000.0, "min_ms": 90.0, "max_ms": 110.0, "buckets": {"250": 10}},
            {"target_id": "panel", "hour": this_hour - HOUR, "count": 11, "failures": 1,
             "sum_ms": 3000.0, "min_ms": 250.0, "max_ms": 350.0, "buckets": {"500": 10}},
            # The hour still running is not drawn yet.
            {"target_id": "panel", "hour": this_hour, "count": 5, "failures": 0,
             "sum_ms": 50_000.0, "min_ms": 9000.0, "max_ms": 11000.0, "buckets": {"10000": 5}},
        ])
    await actions.add_incident(site.db, site.settings, service="panel",
                               start=NOW - 5 * HOUR, end=NOW - 5 * HOUR + dt.timedelta(minutes=30),
                               actor="t", now=NOW)


@pytest.fixture
async def english(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    async with serve(db, tmp_path, clock=StoppedClock(NOW)) as site:
        await _world(site)
        yield site


def _service(page: str, service: str) -> str:
    found = re.search(rf'<article class="card service" id="service-{service}">(.*?)</article>',
                      page, re.S)
    assert found is not None, service
    return found[1]


def _uptime(card: str) -> list[tuple[str, str]]:
    """Each span and what it shows (the two figures are each in a ``<bdi>``: text only)."""
    return [(span, re.sub(r"</?bdi>", "", shown))
            for span, shown in re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", card)]


async def test_uptime_shows_the_unknown_time_apart(english: Site) -> None:
    page = await (await english.get("/")).text()
    panel = _service(page, "panel")
    uptime = _uptime(panel)
    # 24 h: 30 min down of 86,400 s is 97.9166... %, shown rounded down; 20 min unknown.
    assert uptime == [("24 hours", "97.916 % · 20 min unknown"),
                      ("7 days", "99.702 % · 20 min unknown"),
                      ("30 days", "99.930 % · 20 min unknown"),
                      ("90 days", "99.976 % · 20 min unknown")]
    mobile = _uptime(_service(page, "mobile"))
    assert [shown for _, shown in mobile] == ["100.000 % · 20 min unknown"] * 4


async def test_the_response_time_chart_is_inline_svg_with_a_summary(english: Site) -> None:
    page = await (await english.get("/")).text()
    assert "<script" not in page
    panel = _service(page, "panel")
    day = re.search(r'<figure class="chart" id="latency-panel-24h">(.*?)</figure>', panel, re.S)
    assert day is not None
    summary = ("Response time, last 24 hours: average 200 ms, highest hourly average 300 ms. "
               "22 hours without a measurement.")
    assert f'role="img" aria-label="{summary}"' in day[1]
    assert f"<title>{summary}</title>" in day[1]
    # The two measured hours are the last two of 24 (25 px each), at 100 and 300 ms of a
    # chart whose top is 300 ms; the running hour (10 s) is not drawn.
    assert re.findall(r'<polyline points="([^"]+)"', day[1]) == [
        "550,53.3 575,53.3 575,0 600,0"]
    week = re.search(r'id="latency-panel-7d">(.*?)</figure>', panel, re.S)
    assert week is not None and "166 hours without a measurement." in week[1]
    mobile = _service(page, "mobile")
    assert "Response time, last 24 hours: no measurement." in mobile
    assert "<polyline" not in mobile


@pytest.mark.slow
async def test_a_persian_page_writes_the_figures_in_persian(db: Database, tmp_path: Path) -> None:
    async with serve(db, tmp_path, clock=StoppedClock(NOW), language="fa") as site:
        await _world(site)
        page = await (await site.get("/")).text()
    panel = _service(page, "panel")
    assert "۹۷٫۹۱۶٪" in panel and "۲۰۰" in panel and "۳۰۰" in panel
    assert "97.916" not in panel and "average 200 ms" not in panel
    assert re.search(r'aria-label="[^"]*۲۰۰[^"]*"', panel)
