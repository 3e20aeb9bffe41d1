"""Calling off a maintenance window that has not begun: ``POST /api/v1/maintenance/ID/cancel``
and ``sla-monitor maintenance cancel ID`` are one action (R-EX1, D-3). The window leaves the
status page and the Statuspage JSON; a refusal (begun, cancelled already, unknown, a read
token) names why and changes no row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from monitor import actions
from monitor.cli import main
from monitor.store.models import AuditEvent, EvidenceEntry, MaintenanceWindow
from tests.http.site import Site
from tests.http.test_incident_updates import _config
from tests.support import row_counts

TABLES = (MaintenanceWindow, AuditEvent, EvidenceEntry)


async def _window(site: Site, *, begins_in: dt.timedelta) -> int:
    now = dt.datetime.now(dt.UTC)
    added = await actions.add_maintenance(
        site.db, site.settings, services=["panel"], start=now + begins_in,
        end=now + begins_in + dt.timedelta(hours=1), reason="Replacing a switch",
        actor="t", now=now - dt.timedelta(days=3))
    return added.window.id


async def _scheduled(site: Site) -> list[int]:
    listed = await (await site.get("/api/v2/scheduled-maintenances.json")).json()
    return [int(m["id"].removeprefix("maintenance-")) for m in listed["scheduled_maintenances"]]


async def test_the_api_calls_off_a_window_and_it_leaves_the_public_pages(site: Site) -> None:
    upcoming = await _window(site, begins_in=dt.timedelta(days=3))
    begun = await _window(site, begins_in=-dt.timedelta(minutes=5))
    assert sorted(await _scheduled(site)) == sorted([upcoming, begun])
    assert "Replacing a switch" in await (await site.get("/")).text()

    before = await row_counts(site.db, TABLES)
    refused = await site.post(f"/api/v1/maintenance/{upcoming}/cancel", "read")
    assert refused.status == 403
    unknown = await site.post("/api/v1/maintenance/999999/cancel", "write")
    assert unknown.status == 404
    started = await site.post(f"/api/v1/maintenance/{begun}/cancel", "write")
    assert started.status == 422
    assert "a window that has not begun" in (await started.json())["detail"]
    assert await row_counts(site.db, TABLES) == before

    answer = await site.post(f"/api/v1/maintenance/{upcoming}/cancel", "write")
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["window"]["id"] == upcoming and body["window"]["cancelled_at"] is not None
    assert (body["withdrawn"], body["told"]) == (0, [])
    # The window and its cancellation, each a chained fact; the cancellation audited.
    assert await row_counts(site.db, TABLES) == {
        **before, "AuditEvent": before["AuditEvent"] + 1,
        "EvidenceEntry": before["EvidenceEntry"] + 1}
    assert await _scheduled(site) == [begun]

    again = await site.post(f"/api/v1/maintenance/{upcoming}/cancel", "write")
    assert again.status == 422
    assert "a window not cancelled yet" in (await again.json())["detail"]


async def test_the_command_line_cancels_through_the_same_action(
        site: Site, tmp_path: Path, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    window_id = await _window(site, begins_in=dt.timedelta(days=3))
    config = tmp_path / "cli.yaml"
    config.write_text(_config(db_url))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(config), "maintenance", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await asyncio.to_thread(run, "cancel", str(window_id))
    assert code == 0, err
    assert f"maintenance window {window_id} on panel" in out and "cancelled" in out
    code, out, err = await asyncio.to_thread(run, "cancel", str(window_id), "--format",
                                             "json")
    assert (code, out) == (2, "") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "a window not cancelled yet" in err, err
    code, out, err = await asyncio.to_thread(run, "list", "--format", "json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["window"]["cancelled_at"] is not None
    code, out, err = await asyncio.to_thread(run, "list")
    assert code == 0, err
    header, *rest = out.splitlines()
    assert header.split() == ["id", "services", "start", "end", "notices", "cancelled",
                              "reason"]
    [row] = [line for line in rest if line.startswith(str(window_id))]
    assert "Replacing a switch" in row and row.count("UTC") == 3, row  # its cancellation time
    assert await _scheduled(site) == []
    # The chain holds the window as cancelled: its check finds every row as chained.
    code = await asyncio.to_thread(main, ["-c", str(config), "evidence", "check"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
