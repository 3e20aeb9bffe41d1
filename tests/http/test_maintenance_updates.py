"""Operators' updates of a maintenance window: ``POST /api/v1/maintenance/ID/updates`` and
``sla-monitor maintenance update`` are one action; an update is audited, shown escaped on
``/``, in the Atom feed and in ``/api/v2/scheduled-maintenances.json``'s
``incident_updates``; bad input is refused naming the field (422 with a JSON pointer,
exit 2 naming the option) and changes no row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from monitor import actions
from monitor.cli import main
from monitor.store import Database
from monitor.store.models import AuditEvent, MaintenanceUpdate
from tests.http.site import Site, StoppedClock, serve
from tests.http.test_incident_updates import ATOM, ESCAPED, EVIL, _config
from tests.support import row_counts, rows


async def _window(site: Site, service: str = "panel") -> int:
    now = dt.datetime.now(dt.UTC)
    added = await actions.add_maintenance(
        site.db, site.settings, services=[service], start=now - dt.timedelta(minutes=5),
        end=now + dt.timedelta(hours=1), reason="Replacing a switch", notified_at=None,
        actor="t", now=now - dt.timedelta(days=3))
    return added.window.id


async def test_the_feed_says_when_a_window_begins_and_ends(db: Database,
                                                           tmp_path: Path) -> None:
    # A window's entry stayed "Maintenance of Web panel: START to END", last updated when
    # it was announced, while the window began and ended: a feed reader never learnt it
    # was under way or done (an incident's entry says "(resolved)" and is updated then).
    start = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
    clock = StoppedClock(start - dt.timedelta(days=3))
    async with serve(db, tmp_path, clock=clock) as site:
        await actions.add_maintenance(
            db, site.settings, services=["panel"], start=start,
            end=start + dt.timedelta(hours=1), reason="Replacing a switch", actor="t",
            now=clock.at)
        seen = []
        for at in (start - dt.timedelta(hours=1), start + dt.timedelta(minutes=10),
                   start + dt.timedelta(hours=2)):
            clock.at = at
            feed = ElementTree.fromstring(await (await site.get("/feed.atom")).read())
            [entry] = feed.iter(f"{ATOM}entry")
            seen.append(((entry.findtext(f"{ATOM}title") or "").split(":")[0],
                         entry.findtext(f"{ATOM}updated"), feed.findtext(f"{ATOM}updated")))
        assert seen == [
            ("Maintenance of Web panel", "2026-12-05T09:00:00Z", "2026-12-05T09:00:00Z"),
            ("Maintenance of Web panel (in progress)", "2026-12-08T09:00:00Z",
             "2026-12-08T09:00:00Z"),
            ("Maintenance of Web panel (completed)", "2026-12-08T10:00:00Z",
             "2026-12-08T10:00:00Z"),
        ]


async def test_an_update_is_audited_and_shown_escaped_everywhere(site: Site) -> None:
    window_id = await _window(site)
    response = await site.post(f"/api/v1/maintenance/{window_id}/updates", "write",
                               json={"status": "in_progress", "message": EVIL},
                               headers={"Idempotency-Key": "maintenance-update-1"})
    assert response.status == 201, await response.text()
    posted = await response.json()
    assert posted["update"]["status"] == "in_progress" and posted["update"]["message"] == EVIL
    assert posted["window"]["id"] == window_id
    [audited] = [e for e in await rows(site.db, AuditEvent) if e.action == "maintenance.update"]
    assert (audited.object_id, audited.actor) == (str(window_id), "api:noc")
    assert audited.detail["message"] == EVIL and audited.detail["status"] == "in_progress"

    page = await (await site.get("/")).text()
    assert "<script>" not in page and ESCAPED in page
    assert "<strong>In progress</strong>" in page

    feed = ElementTree.fromstring(await (await site.get("/feed.atom")).read())
    [content] = [e.findtext(f"{ATOM}content") or "" for e in feed.iter(f"{ATOM}entry")]
    assert f"in progress: {EVIL}" in content

    listed = await (await site.get("/api/v2/scheduled-maintenances.json")).json()
    [shown] = listed["scheduled_maintenances"]
    assert shown["incident_updates"][0]["body"] == EVIL
    assert shown["incident_updates"][0]["status"] == "in_progress"


async def test_updates_of_a_window_of_customers_projects_only_stay_private(site: Site) -> None:
    """A window of a customer's project alone is shown in public as the hosted projects'
    (no name, no reason); its updates are written for that customer ("Moving ACME's shop
    database") and stay off the status page, the feed and the Statuspage JSON, as an
    incident of a project keeps its updates. A window that covers a public service shows
    its updates (the test above)."""
    window_id = await _window(site, "acme-shop")
    posted = await site.post(f"/api/v1/maintenance/{window_id}/updates", "write",
                             json={"status": "in_progress", "message": "Moving ACME's database"},
                             headers={"Idempotency-Key": "maintenance-update-private"})
    assert posted.status == 201, await posted.text()
    page = await (await site.get("/")).text()
    assert "Moving ACME" not in page and "ACME shop" not in page
    feed = await (await site.get("/feed.atom")).text()
    assert "Moving ACME" not in feed and "Replacing a switch" not in feed
    listed = await (await site.get("/api/v2/scheduled-maintenances.json")).json()
    [shown] = listed["scheduled_maintenances"]
    assert shown["incident_updates"] == []
    assert "Moving ACME" not in json.dumps(listed, ensure_ascii=False)


async def test_bad_updates_are_refused_and_change_nothing(site: Site) -> None:
    window_id = await _window(site)
    tables = (MaintenanceUpdate, AuditEvent)
    before = await row_counts(site.db, tables)
    for body, pointer in (({"status": "done", "message": "x"}, "/status"),
                          ({"status": "completed", "message": ""}, "/message"),
                          ({"status": "completed", "message": "n" * 3000}, "/message")):
        response = await site.post(f"/api/v1/maintenance/{window_id}/updates", "write",
                                   json=body)
        assert response.status == 422, body
        assert pointer in await response.text()
    assert (await site.post("/api/v1/maintenance/999999/updates", "write",
                            json={"status": "completed", "message": "x"})).status == 404
    assert (await site.post(f"/api/v1/maintenance/{window_id}/updates", "read",
                            json={"status": "completed", "message": "x"})).status == 403
    assert await row_counts(site.db, tables) == before


async def test_the_command_line_posts_through_the_same_action(
        site: Site, tmp_path: Path, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    window_id = await _window(site, "mobile")
    config = tmp_path / "cli.yaml"
    config.write_text(_config(db_url))
    base = ["-c", str(config), "maintenance", "update", str(window_id)]

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([*base, *args])
        except SystemExit as usage:  # argparse: an option missing
            code = int(usage.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    tables = (MaintenanceUpdate, AuditEvent)
    before = await row_counts(site.db, tables)
    for args, named in (
        (["--status", "finished", "--message", "x"], "--status: 'finished' is not valid"),
        (["--status", "completed", "--message", " "], "--message: ' ' is not valid"),
    ):
        code, out, err = await asyncio.to_thread(run, *args)
        assert code == 2 and out == "" and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and named in err, err
    assert await row_counts(site.db, tables) == before

    code, out, err = await asyncio.to_thread(
        run, "--status", "completed", "--message", "Switch replaced", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["update"]["status"] == "completed"
    listed = await (await site.get("/api/v2/scheduled-maintenances.json")).json()
    [shown] = listed["scheduled_maintenances"]
    assert shown["incident_updates"][0]["body"] == "Switch replaced"
    assert await row_counts(site.db, tables) == {
        "MaintenanceUpdate": before["MaintenanceUpdate"] + 1,
        "AuditEvent": before["AuditEvent"] + 1}
