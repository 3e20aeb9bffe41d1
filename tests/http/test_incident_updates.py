"""Operators' updates of an incident: ``POST /api/v1/incidents/ID/updates`` and
``sla-monitor incident update`` are one action; an update is audited, shown escaped on
``/``, the incident's page, the Atom feed and the Statuspage JSON's ``incident_updates``;
one of a customer's incident is never shown on a public page; bad input is refused naming
the field (422 with a JSON pointer, exit 2 naming the option) and changes no row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from monitor import actions
from monitor.cli import main
from monitor.store import incidents
from monitor.store.models import AuditEvent, IncidentUpdate
from tests.http.site import Site
from tests.support import row_counts, rows

EVIL = '<script>alert("x")</script> & a failed switch'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; a failed switch"
ATOM = "{http://www.w3.org/2005/Atom}"


async def _open(site: Site, service: str) -> int:
    now = dt.datetime.now(dt.UTC)
    async with site.db.transaction() as tx:
        return await incidents.open_probe_incident(
            tx, service_id=service, start=now - dt.timedelta(minutes=10), start_bound=None,
            detected_at=now - dt.timedelta(minutes=9), created_at=now)


async def test_an_update_is_audited_and_shown_escaped_everywhere(site: Site) -> None:
    incident_id = await _open(site, "panel")
    response = await site.post(f"/api/v1/incidents/{incident_id}/updates", "write",
                               json={"status": "identified", "message": EVIL},
                               headers={"Idempotency-Key": "update-1"})
    assert response.status == 201, await response.text()
    posted = await response.json()
    assert posted["update"]["status"] == "identified" and posted["update"]["message"] == EVIL
    assert posted["incident"]["id"] == incident_id
    [audited] = [e for e in await rows(site.db, AuditEvent) if e.action == "incident.update"]
    assert (audited.object_id, audited.actor) == (str(incident_id), "api:noc")
    assert audited.detail["message"] == EVIL and audited.detail["status"] == "identified"

    for path in ("/", f"/incidents/{incident_id}"):
        page = await (await site.get(path)).text()
        assert "<script>" not in page and ESCAPED in page, path
        assert "<strong>Identified</strong>" in page, path
    page = await (await site.get(f"/incidents/{incident_id}")).text()
    assert 'id="incident-status">Identified</p>' in page

    feed = ElementTree.fromstring(await (await site.get("/feed.atom")).read())
    [content] = [e.findtext(f"{ATOM}content") or "" for e in feed.iter(f"{ATOM}entry")]
    assert f"identified: {EVIL}" in content

    summary = await (await site.get("/api/v2/summary.json")).json()
    [shown] = summary["incidents"]
    assert shown["status"] == "identified"
    assert shown["incident_updates"][0]["body"] == EVIL
    assert shown["incident_updates"][0]["status"] == "identified"


async def test_an_update_with_control_characters_leaves_the_feed_well_formed(
        site: Site) -> None:
    # XML 1.0 cannot carry U+0007, U+001B or U+FFFE at all (not even as a character
    # reference): one such character in an operator's update made the whole feed
    # unreadable to every feed reader. The pages showed them as boxes and let U+202E
    # turn the rest of the line around. Shown text keeps its words and line breaks only.
    incident_id = await _open(site, "panel")
    now = dt.datetime.now(dt.UTC)
    typed = "bell\x07 esc\x1b[31m red\ufffe \u202ereversed\u202c\nsecond line\tend"
    await actions.post_update(site.db, incident_id=incident_id, status="identified",
                              message=typed, actor="t", now=now)

    body = await (await site.get("/feed.atom")).read()
    feed = ElementTree.fromstring(body)  # raised "not well-formed (invalid token)"
    [content] = [e.findtext(f"{ATOM}content") or "" for e in feed.iter(f"{ATOM}entry")]
    assert "identified: bell esc[31m red reversed\nsecond line\tend" in content
    for path in ("/", f"/incidents/{incident_id}"):
        page = await (await site.get(path)).text()
        assert "bell esc[31m red reversed\nsecond line\tend" in page, path
        for control in ("\x07", "\x1b", "\ufffe", "\u202e", "\u202c"):
            assert control not in page, (path, control)
    # The JSON keeps what was typed: a tool reads it, and JSON escapes every character.
    summary = await (await site.get("/api/v2/summary.json")).json()
    assert summary["incidents"][0]["incident_updates"][0]["body"] == typed


async def test_an_update_of_a_customers_incident_stays_private(site: Site) -> None:
    incident_id = await _open(site, "acme-shop")
    now = dt.datetime.now(dt.UTC)
    await actions.post_update(site.db, incident_id=incident_id, status="identified",
                              message="ACME's disk is full", actor="t", now=now)
    for path in ("/", "/feed.atom", "/api/v2/summary.json", "/api/v2/incidents.json"):
        text = await (await site.get(path)).text()
        assert "disk is full" not in text, path
    assert (await site.get(f"/incidents/{incident_id}")).status == 404


async def test_the_command_line_posts_through_the_same_action(
        site: Site, tmp_path: Path, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    incident_id = await _open(site, "mobile")
    config = tmp_path / "cli.yaml"
    config.write_text(_config(db_url))
    base = ["-c", str(config), "incident", "update", str(incident_id)]

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([*base, *args])
        except SystemExit as usage:  # argparse: an option missing
            code = int(usage.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    tables = (IncidentUpdate, AuditEvent)
    before = await row_counts(site.db, tables)
    for args, named in (
        (["--status", "fixed", "--message", "x"], "--status: 'fixed' is not valid"),
        (["--status", "monitoring", "--message", " "], "--message: ' ' is not valid"),
        (["--status", "monitoring", "--message", "n" * 3000], "--message: 'nnnn"),
    ):
        code, out, err = await asyncio.to_thread(run, *args)
        assert code == 2 and out == "" and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and named in err, err
    code, _, err = await asyncio.to_thread(run, "--status", "identified")
    assert code == 2 and "--message" in err
    assert await row_counts(site.db, tables) == before

    code, out, err = await asyncio.to_thread(
        run, "--status", "monitoring", "--message", "A fix is out", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["update"]["status"] == "monitoring"
    listed = await (await site.get("/api/v2/incidents.json")).json()
    assert listed["incidents"][0]["status"] == "monitoring"
    assert listed["incidents"][0]["incident_updates"][0]["body"] == "A fix is out"
    assert await row_counts(site.db, tables) == {
        "IncidentUpdate": before["IncidentUpdate"] + 1, "AuditEvent": before["AuditEvent"] + 1}


def _config(db_url: str) -> str:
    """The site's services, on the test's database, for the command line."""
    return (f"provider: {{timezone: UTC}}\n"
            f"services:\n"
            f"  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}\n"
            f"  - {{id: mobile, kind: mobile_api, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}\n"
            f"storage: {{url: '{db_url}'}}\n")
