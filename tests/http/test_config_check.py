"""``POST /api/v1/config/check`` cannot stall the daemon: it needs the write scope, reads
at most ``http.max_config_bytes`` (else 413), runs the check in a child process (the
isolated parser a reload uses, never the daemon's process or a thread of it), one check
at a time (another meanwhile: 429 with ``Retry-After``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.store import Database
from tests.http.site import Site, serve

pytestmark = pytest.mark.slow

YAML = {"Content-Type": "application/yaml"}
GOOD = "services:\n  - {id: panel, kind: web_panel, probe: {type: tcp, host: h, port: 1}}\n"


def many_targets(count: int) -> str:
    lines = ["servers:"]
    lines += [f"  - {{id: srv-{n}, probe: {{type: tcp, host: 10.0.{n // 250}.{n % 250}, "
              f"port: 22}}}}" for n in range(count)]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def small(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """A site whose configuration check reads at most 4 KiB."""
    async with serve(db, tmp_path, extra_http="  max_config_bytes: 4096") as running:
        yield running


async def test_a_read_token_may_not_check_a_configuration(site: Site) -> None:
    refused = await site.post("/api/v1/config/check", "read", data=GOOD, headers=YAML)
    assert refused.status == 403
    assert (await refused.json())["detail"] == "this token may read, not write"
    assert (await site.post("/api/v1/config/check", "acme", data=GOOD, headers=YAML)).status == 403
    checked = await site.post("/api/v1/config/check", "write", data=GOOD, headers=YAML)
    assert checked.status == 200
    assert [p["id"] for p in (await checked.json())["probes"]] == ["panel"]
    # The running configuration's check stays a read.
    assert (await site.get("/api/v1/config/check", "read")).status == 200


async def test_a_body_over_max_config_bytes_is_413(small: Site) -> None:
    assert small.settings.http.max_config_bytes == 4096
    fits = GOOD + "#" * (4096 - len(GOOD) - 1) + "\n"
    assert (await small.post("/api/v1/config/check", "write", data=fits, headers=YAML)).status == 200
    over = fits + "#"
    refused = await small.post("/api/v1/config/check", "write", data=over, headers=YAML)
    assert refused.status == 413
    assert "over 4096 bytes" in (await refused.json())["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b"#" * 1000 + b"\n"

    streamed = await small.post("/api/v1/config/check", "write", data=chunks(), headers=YAML)
    assert streamed.status == 413


def children() -> list[str]:
    """The command lines of this process's children (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isascii() or not entry.name.isnumeric():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


async def test_the_check_runs_in_a_child_one_at_a_time(site: Site) -> None:
    big = many_targets(3000)
    first = asyncio.ensure_future(
        site.post("/api/v1/config/check", "write", data=big, headers=YAML))
    # The check is a child process of the daemon (here: of the test, which serves it).
    for _ in range(200):
        running = [c for c in children() if "monitor.actions.config_check_child" in c]
        if running or first.done():
            break
        await asyncio.sleep(0.02)
    assert running, "no child process ran the check"
    assert " -I " in running[0]
    second = await site.post("/api/v1/config/check", "write", data=GOOD, headers=YAML)
    assert second.status == 429
    assert second.headers["Retry-After"] == "5"
    assert (await second.json())["error"] == "busy"
    answer = await first
    assert answer.status == 200
    assert len((await answer.json())["probes"]) == 3000
    # Done: the next check runs, and the child is gone.
    assert (await site.post("/api/v1/config/check", "write", data=GOOD, headers=YAML)).status == 200
    assert not [c for c in children() if "config_check_child" in c]


async def test_a_configuration_error_found_by_the_child_is_422_with_its_pointer(site: Site) -> None:
    bad = GOOD.replace("port: 1", "port: 1, interval: soon")
    refused = await site.post("/api/v1/config/check", "write", data=bad, headers=YAML)
    assert refused.status == 422
    problem = await refused.json()
    assert problem["errors"][0]["pointer"] == "/services/0/probe/interval"
    # A key that is a non-ASCII digit is a pointer, not a 500.
    odd = await site.post("/api/v1/config/check", "write", data="²: 1\n", headers=YAML)
    assert odd.status == 422
    assert (await odd.json())["errors"][0]["pointer"] == "/²"


async def test_the_running_configuration_is_checked_once_per_configuration(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read token asking for the running configuration's check in a loop costs one check
    per configuration in force: the next reload's settings are checked again."""
    from monitor import actions
    from monitor.config import Settings

    real = actions.check_config
    calls: list[object] = []

    def counted(config: object) -> object:
        calls.append(config)
        return real(config)  # type: ignore[arg-type]

    monkeypatch.setattr(actions, "check_config", counted)
    answers = [await (await site.get("/api/v1/config/check", "read")).json() for _ in range(5)]
    assert len(calls) == 1 and all(a == answers[0] for a in answers)
    site.web.settings = Settings.from_config(site.settings.config)  # what a reload swaps in
    assert (await site.get("/api/v1/config/check", "read")).status == 200
    assert len(calls) == 2


async def test_an_issue_shows_the_value_as_the_file_has_it(site: Site) -> None:
    # An invisible right-to-left mark inside a zone's name, a duration that is no duration:
    # each issue names the value read (shown shortened, like every echo), not null.
    text = ("provider: {name: P, timezone: \"Asia/Teh\\u200fran\"}\n"
            "services:\n  - {id: panel, kind: web_panel, probe: {type: tcp, host: h, "
            "port: 1, interval: " + "9" * 60 + "s}}\n")
    refused = await site.post("/api/v1/config/check", "write", data=text, headers=YAML)
    problem = await refused.json()
    assert refused.status == 422, problem
    values = {error["pointer"]: error["value"] for error in problem["errors"]}
    assert values["/provider/timezone"] == "Asia/Teh\u200fran", problem
    assert values["/services/0/probe/interval"] == "9" * 40 + "...", problem
