"""``POST /api/v1/push/{target}`` (monitor.http.push_api): a push target's job calls in with
its ``push:ID`` token. Each refusal says why and keeps nothing, and no call writes a row
itself (the last push is kept in memory, and written by the daemon's pushes job within a
second: monitor.actions.share_pushes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from monitor.actions.links import load_link_keys
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.errors import ConfigError
from monitor.http import Web
from monitor.http.auth import hash_line, load_tokens
from monitor.store import Database
from monitor.store.models import AuditEvent, EvidenceEntry, Incident, ProbeRun
from tests.http.site import served
from tests.support import row_counts

AT = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)  # the month's last minute
TOKENS = {"backup": "push-token-of-the-backup-job", "queue": "push-token-of-the-queue-job",
          "write": "write-token-0123456789abcdef", "read": "read-token-0123456789abcdef",
          "acme": "acme-token-0123456789abcdef"}


def _config(tmp: Path) -> str:
    return f"""
provider: {{timezone: Asia/Tehran, calendar: jalali}}
servers:
  - {{id: srv-1, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
  - {{id: backup, kind: project, server: srv-1, probe: {{type: push, interval: 5m, timeout: 1m, fail_after: 2}}}}
  - {{id: queue, kind: project, server: srv-1, probe: {{type: push}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [backup, queue]
    sites: [{{domain: acme.example}}]
http:
  listen: "127.0.0.1:0"
  tokens_file: {tmp / "api-tokens"}
"""


def _tokens(tmp: Path, *extra: str) -> None:
    lines = [hash_line("push:backup", TOKENS["backup"], "backup-job"),
             hash_line("push:queue", TOKENS["queue"], "queue-job"),
             hash_line("write", TOKENS["write"], "noc"), hash_line("read", TOKENS["read"], "graf"),
             hash_line("customer:acme", TOKENS["acme"], "acme"), *extra]
    (tmp / "api-tokens").write_text("\n".join(lines) + "\n")


@pytest.fixture
async def pushed(db: Database, tmp_path: Path) -> AsyncIterator[tuple[str, Web]]:
    _tokens(tmp_path)
    settings = Settings.from_config(parse_config(_config(tmp_path)))
    context = Web(db, settings, FakeClock(AT), load_tokens(
        settings.http, frozenset(settings.topology.customers), {"backup", "queue"}),
        load_link_keys(settings.http))
    async with served(context, targets=4):
        assert context.bound_url is not None
        yield context.bound_url, context


async def _post(url: str, who: str | None, query: str = "") -> tuple[int, dict[str, object]]:
    headers = {} if who is None else {"Authorization": f"Bearer {TOKENS[who]}"}
    async with aiohttp.ClientSession() as http, http.post(url + query, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_the_job_pushes_with_its_token_and_the_book_keeps_the_last(
        pushed: tuple[str, Web], db: Database) -> None:
    url, context = pushed
    before = await row_counts(db, (ProbeRun, Incident, AuditEvent, EvidenceEntry))
    status, body = await _post(url + "/api/v1/push/backup", "backup")
    # Due by the push plus interval (5 min) and timeout (1 min): 23:59 + 6 min = 00:05.
    assert (status, body) == (200, {"target": "backup", "received_at": "2026-12-31T23:59:00Z",
                                    "status": "up", "message": None,
                                    "due_by": "2027-01-01T00:05:00Z"})
    status, body = await _post(url + "/api/v1/push/backup", "backup",
                               "?status=down&message=%D8%AF%DB%8C%D8%B3%DA%A9%20%D9%BE%D8%B1")
    assert (status, body["status"], body["message"]) == (200, "down", "دیسک پر")
    last = context.pushes.last("backup")
    assert last is not None and (last.at, last.up, last.message) == (AT, False, "دیسک پر")
    # An operator's write token may push too (a test from the command line).
    assert (await _post(url + "/api/v1/push/queue", "write"))[0] == 200
    assert await row_counts(db, (ProbeRun, Incident, AuditEvent, EvidenceEntry)) == before


@pytest.mark.parametrize(("who", "path", "query", "status", "said"), [
    (None, "backup", "", 401, "a bearer token is required"),
    ("read", "backup", "", 403, "a push:ID token pushes for target ID"),
    ("acme", "backup", "", 403, "a push:ID token pushes for target ID"),
    ("queue", "backup", "", 404, "no such push target"),  # another target's token
    ("write", "panel", "", 404, "target: 'panel' is not valid; allowed: a push target: "
     "backup, queue"),
    ("write", "nothing", "", 404, "allowed: a push target"),
    ("backup", "backup", "?status=maybe", 422, "status: Input should be 'up' or 'down'"),
    ("backup", "backup", "?message=a%00b", 422, "message: "),
    ("backup", "backup", "?message=" + "x" * 2001, 422, "at most 2000 characters"),
    ("backup", "backup", "?state=up", 422, "state"),
])
async def test_a_refused_push_says_why_and_keeps_nothing(
        pushed: tuple[str, Web], who: str | None, path: str, query: str, status: int,
        said: str) -> None:
    url, context = pushed
    got, body = await _post(f"{url}/api/v1/push/{path}", who, query)
    assert got == status, body
    assert said in str(body["detail"]) + str(body.get("errors"))
    assert context.pushes.last("backup") is None and context.pushes.last("queue") is None


def test_a_push_token_must_name_a_configured_push_target(tmp_path: Path) -> None:
    _tokens(tmp_path, hash_line("push:panel", "push-token-for-the-panel", "panel-job"))
    settings = Settings.from_config(parse_config(_config(tmp_path)))
    with pytest.raises(ConfigError) as caught:
        load_tokens(settings.http, frozenset(settings.topology.customers), {"backup", "queue"})
    assert ("push token(s) for panel: not configured push targets (a server or service with "
            "probe type push); allowed: backup, queue") in str(caught.value)


async def test_kumas_and_gatuss_push_urls_are_answered_with_the_same_tokens(
        pushed: tuple[str, Web]) -> None:
    # A job moved from Uptime Kuma keeps its URL's path and token (any method, the token in
    # the path); one from Gatus its external endpoint's (the token in Authorization).
    url, context = pushed
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/push/{TOKENS['backup']}?status=up&msg=OK&ping=") as got:
            assert got.status == 200 and (await got.json())["target"] == "backup"
        async with http.post(f"{url}/api/push/{TOKENS['queue']}?status=down&msg=stuck") as got:
            assert got.status == 200 and (await got.json())["status"] == "down"
        last = context.pushes.last("queue")
        assert last is not None and (last.up, last.message) == (False, "stuck")
        for token in ("an-unknown-token-of-some-length", TOKENS["write"]):
            async with http.get(f"{url}/api/push/{token}") as got:
                assert got.status == 404, token  # a write token is no push target's
                assert (await got.json())["detail"].startswith("no push target has this token")
        async with http.get(f"{url}/api/push/{TOKENS['backup']}?status=DOWN") as got:
            assert got.status == 422
        # A refused message is named as Kuma's URL says it: msg.
        async with http.get(f"{url}/api/push/{TOKENS['backup']}?msg=a%00b") as got:
            assert got.status == 422
            assert [e["parameter"] for e in (await got.json())["errors"]] == ["msg"]
    assert context.pushes.last("backup") is not None
    assert context.pushes.last("backup").up  # type: ignore[union-attr]

    gatus = f"{url}/api/v1/endpoints/core_backup/external"
    status, body = await _post(gatus, "backup", "?success=false&error=timeout%20talking%20to%20db")
    assert (status, body["target"], body["status"], body["message"]) == (
        200, "backup", "down", "timeout talking to db")
    status, body = await _post(gatus, "write", "?success=true")
    assert (status, body["detail"]) == (403, "this route takes the push:ID token of the target")
    status, body = await _post(gatus, "read", "?success=true")
    assert status == 403
    status, body = await _post(gatus, "backup", "")
    assert status == 422 and "success" in str(body)
    status, body = await _post(gatus, "backup", "?success=false&error=a%00b")
    assert (status, [e["parameter"] for e in body["errors"]]) == (422, ["error"])
    last = context.pushes.last("backup")
    assert last is not None and (last.up, last.message) == (False, "timeout talking to db")
