"""``sla-monitor claim|ticket|ledger`` as operators type them, on SQLite and
PostgreSQL: every command has --help, ``--format json`` prints what was created or changed
(ids included), and bad input is one line naming the flag, exit code 2, nothing changed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.actions.tickets import TICKET_CHANNELS
from monitor.cli import main
from monitor.store import Database
from tests.actions.contract import MODELS, yaml
from tests.support import row_counts

COMMANDS = {
    "claim": ("submit", "decide", "list", "show"),
    "ticket": ("open", "diagnose", "fix", "follow-up", "reopen", "ask", "answer", "escalate",
               "return", "defer", "reprice", "approve-price", "list", "show"),
    "ledger": ("show", "deposit", "renew"),
}


@pytest.mark.parametrize(("group", "command"), [
    (group, command) for group, commands in COMMANDS.items() for command in (None, *commands)])
def test_every_command_has_help(group: str, command: str | None,
                                capsys: pytest.CaptureFixture[str]) -> None:
    args = [group] + ([command] if command else []) + ["--help"]
    with pytest.raises(SystemExit) as done:
        main(args)
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: sla-monitor")
    if command not in (None, "list"):
        assert "--format" in out
    if group == "ticket" and command is not None:
        assert "--at" in out  # every ticket command takes --at T


class CLI:
    def __init__(self, config: Path, db: Database, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.db, self.capsys = config, db, capsys

    async def run(self, *args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["-c", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    async def json(self, *args: str) -> Any:
        code, out, err = await self.run(*args, "--format", "json")
        assert code == 0, err
        return json.loads(out)

    async def counts(self) -> dict[str, int]:
        return await row_counts(self.db, MODELS)

    async def refused(self, flag: str, *args: str) -> str:
        before = await self.counts()
        code, out, err = await self.run(*args)
        assert code == 2 and out == "", (code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"sla-monitor: error: {flag}: "), err
        assert "Traceback" not in err
        assert await self.counts() == before
        return lines[0]


@pytest.fixture
def cli(tmp_path: Path, db_url: str, db: Database,
        capsys: pytest.CaptureFixture[str]) -> Iterator[CLI]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml() + f"storage: {{url: '{db_url}'}}\nmaildir: {tmp_path / 'Maildir'}\n")
    yield CLI(path, db, capsys)


@pytest.mark.slow
async def test_claims_through_the_command_line(cli: CLI) -> None:
    code, _, err = await cli.run("incident", "add", "--service", "panel", "--start",
                                 "2026-10-10T08:00Z", "--end", "2026-10-10T11:00Z")
    assert code == 0, err
    submitted = await cli.json("claim", "submit", "--customer", "acme", "--month", "2026-10",
                               "--site", "acme.example", "--at", "2026-11-15T00:00Z")
    claim = submitted["claim"]
    # R-C1: the deadline instant itself is in time; the receipt is due at the end of the next
    # business day (Monday 16th), the decision 14 days after the submission.
    assert (claim["id"], claim["submitted_at"], claim["receipt_due_at"],
            claim["decision_due_at"]) == (1, "2026-11-15T00:00:00Z", "2026-11-16T23:59:59Z",
                                          "2026-11-29T00:00:00Z")
    # 3 h unnotified: 7 days (R-T1) + 1 day (R-N1) = 8 days, x 12,000,000 / 365 (R-T2).
    assert submitted["computed"]["credit_days_total"] == 8
    assert [line["rule"] for line in submitted["computed"]["credit_lines"]] == ["R-T1", "R-N1"]
    line = await cli.refused("--month", "claim", "submit", "--customer", "bita", "--month",
                             "2026-10", "--at", "2026-11-15T00:01Z")
    assert "accepted until 2026-11-15 00:00 UTC" in line
    listed = await cli.json("claim", "list", "--month", "2026-10")
    assert [c["claim"]["id"] for c in listed] == [1]
    # Every column of the text table has a header, the last one too (it was blank).
    code, out, _ = await cli.run("claim", "list", "--month", "2026-10")
    header = out.splitlines()[0].split()
    assert code == 0 and header[0] == "id" and header[-1] == "review", out
    decided = await cli.json("claim", "decide", "1", "--partly", "3.5", "--reason", "shared",
                             "--at", "2026-11-20T00:00Z")
    assert (decided["claim"]["decision"], decided["granted_days"],
            decided["claim"]["credited_at"]) == ("partly", 3.5, "2026-12-20T00:00:00Z")
    assert [(e["rule"], e["days"]) for e in decided["entries"]] == [("R-C1", 3.5)]
    await cli.refused("ID", "claim", "decide", "1", "--approve")
    await cli.refused("ID", "claim", "show", "7")
    await cli.refused("--partly", "claim", "decide", "1", "--partly", "three")
    code, out, _ = await cli.run("claim", "show", "1")
    assert code == 0 and "R-T1" in out and "incidents 1" in out and "partly" in out
    # The ledger as of now (the wall clock's): the 3.5 days are pending until they are
    # credited on 2026-12-20, and credited from then on.
    (acme,) = await cli.json("ledger", "show", "--site", "acme.example")
    credited = dt.datetime.now(dt.UTC) >= dt.datetime(2026, 12, 20, tzinfo=dt.UTC)
    assert (acme["credit_days"], acme["credit_days_pending"]) == (
        (3.5, 0) if credited else (0, 3.5))


@pytest.mark.slow
async def test_claim_list_tells_its_steps(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    # Seconds at thousands of claims: each step on standard error (log lines: not a
    # terminal), the claimants' reports counted; standard output the list alone.
    monkeypatch.setattr("monitor.cli.progress.QUIET_FOR", 0.0)  # shown from the start
    await cli.json("claim", "submit", "--customer", "acme", "--month", "2026-10", "--site",
                   "acme.example", "--at", "2026-11-05T10:00Z")
    code, out, err = await cli.run("claim", "list", "--format", "json")
    assert code == 0 and [view["claim"]["id"] for view in json.loads(out)] == [1]
    told = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    steps = [(e["step"], e["done"], e["total"]) for e in told
             if e["event"] == "claim list progress"]
    assert list(dict.fromkeys(step for step, _, _ in steps)) == [
        "reading the claims", "reading 2026-10's records", "computing 2026-10's reports",
        "reading the ledger entries and decisions"], err
    assert ("computing 2026-10's reports", 1, 1) in steps, err  # acme's, the one claimant


@pytest.mark.slow
async def test_tickets_and_the_ledger_through_the_command_line(cli: CLI) -> None:
    await cli.refused("--type", "ticket", "open", "--customer", "acme", "--service", "panel",
                      "--channel", "email", "--summary", "reinstall", "--type", "reinstall",
                      "--site", "acme.example")
    deposited = await cli.json("ledger", "deposit", "--site", "acme.example", "--amount",
                               "3000000", "--reference", "bank 7781")
    assert (deposited["entry"]["id"], deposited["account"]["charge"]) == (1, 3000000)
    await cli.refused("--amount", "ledger", "deposit", "--site", "acme.example", "--amount",
                      "-10", "--reference", "x")
    await cli.refused("--amount", "ledger", "deposit", "--site", "acme.example", "--amount",
                      "10.5", "--reference", "x")
    # A priced ticket (L-5), recorded now: debited, then given back for the provider's own
    # installation error.
    priced = await cli.json("ticket", "open", "--customer", "acme", "--service", "panel",
                            "--channel", "email", "--summary", "reinstall the site", "--type",
                            "reinstall", "--site", "acme.example")
    assert (priced["ticket"]["id"], priced["ticket"]["price"], priced["charged"]) == (
        1, 2500000, 2500000)
    await cli.refused("ID", "ticket", "fix", "1")  # never diagnosed
    await cli.refused("--at", "ticket", "diagnose", "1", "--provider-fault", "--at",
                      "2099-01-01T00:00Z")
    refunded = await cli.json("ticket", "diagnose", "1", "--provider-fault", "--finding",
                              "installation-error")
    assert refunded["charged"] == 0
    # The ticket's kind is the contract's rules it follows, not its service's kind (a
    # project's ticket read "(web_panel)", as if the project were the panel).
    code, out, _ = await cli.run("ticket", "show", "1")
    assert code == 0 and out.startswith("ticket 1: acme on panel (web panel rules, R-P1), "), out
    (site,) = await cli.json("ledger", "show", "--site", "acme.example")
    assert site["charge"] == 3000000
    # A defect report of the app, recorded with the times it happened (L-4, R-P2).
    opened = await cli.json("ticket", "open", "--customer", "acme", "--service", "mobile-api",
                            "--channel", "phone", "--summary", "sync hangs", "--at",
                            "2026-11-29T09:00Z")
    assert (opened["ticket"]["id"], opened["ticket"]["kind"], opened["diagnosis_due"]) == (
        2, "mobile", "2026-12-01T09:00:00Z")
    diagnosed = await cli.json("ticket", "diagnose", "2", "--provider-fault", "--at",
                               "2026-11-29T15:00Z")
    assert diagnosed["fix_due"] == "2026-12-02T15:00:00Z"
    asked = await cli.json("ticket", "ask", "2", "--note", "which phone?", "--at",
                           "2026-11-29T16:00Z")
    assert asked["waiting_for_answer"] and asked["fix_due"] == "2026-12-02T15:00:00Z"
    escalated = await cli.json("ticket", "escalate", "2", "--at", "2026-11-29T17:00Z")
    assert escalated["ticket"]["level"] == 3
    queue = await cli.json("ticket", "list", "--queue", "level3")
    assert [v["ticket"]["id"] for v in queue] == [2]
    await cli.refused("--at", "ticket", "return", "2", "--at", "2026-11-29T16:30Z")  # before
    code, out, _ = await cli.run("ticket", "show", "2")
    assert code == 0 and [word for word in ("opened", "diagnosed", "asked", "escalated")
                          if word in out] == ["opened", "diagnosed", "asked", "escalated"]
    # Renewed to a year from today (a renewal ends after today: a fixed day would expire).
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    renewed = await cli.json("ledger", "renew", "--site", "old.acme.example", "--until", until)
    assert (renewed["reactivated"], renewed["account"]["paid_until"]) == (True, until)
    await cli.refused("--until", "ledger", "renew", "--site", "old.acme.example", "--until",
                      "2027-13-01")
    await cli.refused("--site", "ledger", "renew", "--site", "nowhere.example", "--until",
                      until)


@pytest.mark.parametrize("command", ["open", "follow-up"])
def test_the_readme_names_the_ticket_channels_the_help_accepts(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ticket", command, "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert " or ".join(TICKET_CHANNELS) in helped
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith(f"| `ticket {command} ")]
    assert "--channel " + "\\|".join(TICKET_CHANNELS) in row, row


async def test_a_deadline_cell_keeps_its_state_apart_from_its_time(cli: CLI) -> None:
    # "2026-12-20 11:47 UTC done": wrapped on a terminal, the state read as part of the date.
    code, _, err = await cli.run("incident", "add", "--service", "panel", "--start",
                                 "2026-10-10T08:00Z", "--end", "2026-10-10T11:00Z")
    assert code == 0, err
    await cli.json("claim", "submit", "--customer", "acme", "--month", "2026-10", "--site",
                   "acme.example", "--at", "2026-11-15T00:00Z")
    await cli.json("ticket", "open", "--customer", "acme", "--service", "panel", "--channel",
                   "email", "--summary", "slow", "--at", "2026-11-29T09:00Z")
    await cli.json("ticket", "diagnose", "1", "--provider-fault", "--at", "2026-11-29T10:00Z")
    due = r"\d\d\d\d-\d\d-\d\d \d\d:\d\d UTC \((done|pending|at_risk|breached)\)"
    for args, columns in ((("claim", "list"), ("decision due",)),
                          (("ticket", "list"), ("diagnosis due", "fix due"))):
        code, out, _ = await cli.run(*args, "--wide")
        header, rule, row = out.splitlines()
        for column in columns:
            start = header.index(column)
            end = rule.index("  ", start) if "  " in rule[start:] else len(rule)
            assert re.fullmatch(due, row[start:end].strip()), (column, row[start:end])


FIGURES = ("availability_percent", "credit_value", "refund_amount", "credit_days_total",
           "partial_credit_days", "tier_credit_days", "notification_credit_days")


async def test_a_claim_gives_its_figures_as_the_report_does(cli: CLI) -> None:
    # The claim's JSON gave 99.59677419354838 and 263013.6986301369 where the report gave
    # 99.596 and 263013.7 for the same month: one rounding for one figure (R-M6, R-T2).
    code, _, err = await cli.run("incident", "add", "--service", "panel", "--start",
                                 "2026-10-10T08:00Z", "--end", "2026-10-10T11:00Z")
    assert code == 0, err
    submitted = await cli.json("claim", "submit", "--customer", "acme", "--month", "2026-10",
                               "--site", "acme.example", "--at", "2026-11-15T00:00Z")
    shown = await cli.json("claim", "show", str(submitted["claim"]["id"]))
    (acme,) = (await cli.json("report", "--month", "2026-10", "--customer", "acme"))[
        "customers"]
    for view in (submitted, shown):
        assert {f: view["computed"][f] for f in FIGURES} == {f: acme[f] for f in FIGURES}
        assert view["computed"]["credit_lines"] == acme["credit_lines"]
    assert acme["availability_percent"] == 99.596  # (2,678,400 - 10,800) / 2,678,400, down
