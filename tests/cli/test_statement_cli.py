"""``sla-monitor statement show|send`` and ``report --format html|pdf`` on the example
configuration (a Jalali provider in Asia/Tehran, fees in IRR; mail to a Maildir), issue 14.

Shahrivar 1404 (1404-06: 2025-08-23 to 2025-09-22 in Tehran, 31 days) has one outage of
ACME's survey, 1404/06/10 10:00-12:00 Tehran (2 h, never notified: R-N1 late):
counted 7,200 s >= 1 h 30 min, tier 1w (7 days) + 1 day (R-N1) = 8 days, worth
8 x 240,000,000 / 365 = 5,260,273.97..., shown as 5,260,274 IRR (whole rials, grouped as
English writes it: SPEC section 7; the CSV keeps the machine form 5260274);
availability (2,678,400 - 7,200) / 2,678,400 = 99.73118...%, shown 99.731.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import create_engine
from monitor.store.models import OutboxMessage
from monitor.testing.smtp import SMTPSink
from tests.support import eventually, rows, sla_monitor_command

MONTH = "1404-06"
BITA = "شرکت بیتا نظرسنجی"


@pytest.fixture
def cli(tmp_path: Path, example_config_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    text = example_config_path.read_text()
    text = text.replace("  url: null ", f"  url: 'sqlite+aiosqlite:///{tmp_path}/db.sqlite' ")
    text = text.replace("maildir: null ", f"maildir: '{tmp_path}/Maildir' ")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(path), *args])
        out, err = capsys.readouterr()
        return code, out, err

    # 1404/06/10 10:00 Tehran is 2025-09-01 06:30Z.
    assert run("incident", "add", "--service", "acme-survey", "--start", "2025-09-01T10:00",
               "--end", "2025-09-01T12:00")[0] == 0
    return run


def _maildir(tmp_path: Path) -> list[object]:
    box = mailbox.Maildir(tmp_path / "Maildir", create=False)
    return [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.keys()]


@pytest.mark.slow
def test_send_on_the_example_writes_to_the_maildir_and_lists_it(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("monitor.cli.progress.QUIET_FOR", 0.0)  # shown from the start
    code, out, _ = cli("statement", "send", "--month", MONTH, "--dry-run")
    assert code == 0 and "acme: would send" in out
    # The last line tallies the customers (at 10,000, the list is 10,000 lines long).
    assert out.splitlines()[-1] == "3 customers: 2 would be sent, 1 withheld", out
    code, out, _ = cli("statement", "send", "--month", MONTH, "--dry-run", "--customer", "acme")
    assert code == 0 and out.splitlines()[-1] == "1 customer: 1 would be sent", out
    # The month was never closed: its first revision, not "the records changed".
    assert out.startswith(f"{MONTH}: would freeze revision 1 (the month's first) — dry run"), out
    assert not (tmp_path / "Maildir").exists()  # a dry run writes nothing
    code, out, err = cli("statement", "send", "--month", MONTH)
    assert code == 0, err
    # The example's link key is a systemd credential, not given to an operator's shell: the
    # statements go out saying to claim by e-mail, and the command says why they have no link.
    # Standard error is no terminal here: the progress is log lines (the first, the last).
    told = [json.loads(line) for line in err.splitlines() if "statements progress" in line]
    assert [(t["done"], t["total"], t["month"]) for t in told] == [(0, 2, MONTH), (2, 2, MONTH)]
    assert "warning: http.link_key_file names the systemd credential" in err
    assert "carries no link to the claim form" in err
    assert f"{MONTH}: revision 1 frozen" in out
    assert "acme: statement of revision 1: sent: written to the Maildir" in out
    assert "tech@acme.example, ceo@acme.example" in out
    assert "bita: statement of revision 1: sent: written to the Maildir" in out  # paid in 1404-06
    assert "dorna: withheld: R-EX6" in out
    assert out.splitlines()[-1] == "3 customers: 2 sent, 1 withheld", out
    sent, persian = sorted(_maildir(tmp_path), key=lambda m: m["To"] != "tech@acme.example, "
                           "ceo@acme.example")
    assert persian["To"] == "it@bita.example" and BITA in persian["Subject"]
    assert sent["Subject"] == ("[Vista Rabit Hosting] SLA statement 1404-06 (revision 1): "
                               "availability 99.731 %, credit 8 days (ACME Research Co.)")
    names = sorted(part.get_filename() for part in sent.iter_attachments())
    assert names == ["statement-acme-1404-06-r1.csv", "statement-acme-1404-06-r1.pdf"]

    code, out, _ = cli("statement", "send", "--month", MONTH, "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["revision"] == 1 and not document["frozen"]
    assert {s["customer"]: s["status"] for s in document["statements"]} == {
        "acme": "already_sent", "bita": "already_sent", "dorna": "withheld"}
    assert len(_maildir(tmp_path)) == 2  # sending again sent nothing

    code, out, _ = cli("statement", "send", "--month", MONTH, "--customer", "dorna",
                       "--queue-only")
    assert code == 0 and "dorna: statement of revision 1: queued; the daemon's outbox" in out
    assert len(_maildir(tmp_path)) == 2  # queued only: the daemon sends it


@pytest.mark.slow
def test_show_in_every_format(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("report", "close", "--month", MONTH)[0] == 0
    code, out, _ = cli("statement", "show", "--month", MONTH, "--customer", "acme")
    assert code == 0 and "<!DOCTYPE html>" in out and "99.731 %" in out
    assert "5,260,274 IRR" in out and "1404/06/10 10:00:00 (UTC+03:30)" in out
    code, out, _ = cli("statement", "show", "--month", MONTH, "--customer", "acme",
                       "--format", "csv")
    # Whole rials, as in the HTML (the currency's unit decides), after a byte-order mark.
    assert code == 0 and "1404-06,acme,1,summary,,credit_value,5260274\n" in out
    assert out.startswith("\ufeffmonth,")
    code, out, _ = cli("statement", "show", "--month", MONTH, "--customer", "acme",
                       "--format", "json")
    shown = json.loads(out)
    assert code == 0 and (shown["revision"], shown["downtime_seconds"]) == (1, 7200)
    target = tmp_path / "bita.pdf"
    code, _, err = cli("statement", "show", "--month", MONTH, "--customer", "bita",
                       "--format", "pdf", "-o", str(target))
    assert code == 0 and f"wrote {target}" in err
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert BITA in "".join(c for c in text if c not in "\u202a\u202b\u202c\u200c")
    assert "meets the 99.8 % target" in text
    code, out, _ = cli("statement", "show", "--month", MONTH, "--customer", "dorna")
    assert code == 0 and "No credit is due for this month:" in out
    assert "for which the contract grants no service credits." in out and "(R-EX6)" not in out


@pytest.mark.slow
def test_report_summary_as_html_and_pdf(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("report", "--month", MONTH, "--format", "html")
    assert code == 0 and "SLA summary for 1404-06" in out
    assert "Not closed" in out and "8 days of service; 5,260,274 IRR" in out
    assert "R-N1 notification" in out  # the breach, listed
    target = tmp_path / "summary.pdf"
    assert cli("report", "--month", MONTH, "--format", "pdf", "-o", str(target))[0] == 0
    assert target.read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_bad_input_exits_2_and_changes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("statement", "show", "--month", MONTH, "--customer", "acme")
    assert code == 2 and err.startswith("sla-monitor: error: --month: '1404-06' is not valid")
    assert "a month that has been closed" in err and "Traceback" not in err
    code, _, err = cli("statement", "send", "--month", "2026-11")
    assert code == 2 and "--month: '2026-11'" in err and "1405-08/1405-09" in err
    code, _, err = cli("statement", "send", "--month", MONTH, "--customer", "nobody")
    assert code == 2 and "--customer: 'nobody'" in err
    code, _, err = cli("statement", "send", "--month", MONTH, "--workers", "-1")
    assert code == 2 and "--workers: -1 is not valid" in err and "from 0" in err
    code, _, err = cli("report", "--month", MONTH, "--format", "pdf", "-o",
                       str(tmp_path / "missing" / "x.pdf"))
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "Maildir").exists()
    code, out, _ = cli("report", "--month", MONTH, "--format", "json")
    assert code == 0 and json.loads(out)["month"] == MONTH
    assert cli("statement", "show", "--month", MONTH, "--customer", "acme")[0] == 2  # still
    # not closed: nothing above froze a revision


@pytest.mark.parametrize("command", [["statement", "show"], ["statement", "send"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and "--month" in capsys.readouterr().out


# --- "sent" only when the SMTP server accepted it (the outbox tells the truth) ---------------

Run = Callable[..., Awaitable[tuple[int, str, str]]]


def smtp_config(tmp_path: Path, example_config_path: Path, db_url: str, sink: SMTPSink) -> Path:
    text = example_config_path.read_text()
    text = text.replace("  url: null ", f"  url: '{db_url}' ")
    text = text.replace("maildir: null ", f"smtp: {{host: 127.0.0.1, port: {sink.port}, "
                        "tls: none, timeout: 5s}\nmaildir: null ")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.fixture
async def smtp_cli(tmp_path: Path, example_config_path: Path, db_url: str,
                   capsys: pytest.CaptureFixture[str]) -> AsyncIterator[tuple[Run, SMTPSink]]:
    """The example with mail to a real SMTP sink, on SQLite and PostgreSQL; each command
    runs ``main`` on a thread of its own (its own event loop) while the sink serves here."""
    async with SMTPSink() as sink:
        path = smtp_config(tmp_path, example_config_path, db_url, sink)

        async def run(*args: str) -> tuple[int, str, str]:
            code = await asyncio.to_thread(main, ["-c", str(path), *args])
            out, err = capsys.readouterr()
            return code, out, err

        assert (await run("db", "upgrade"))[0] == 0
        assert (await run("incident", "add", "--service", "acme-survey", "--start",
                          "2025-09-01T10:00", "--end", "2025-09-01T12:00"))[0] == 0
        yield run, sink


def _acme(out: str) -> dict[str, object]:
    found: dict[str, object] = json.loads(out)["statements"][0]
    assert found["customer"] == "acme"
    return found


@pytest.mark.slow
async def test_send_says_queued_or_sent_as_it_is(smtp_cli: tuple[Run, SMTPSink]) -> None:
    run, sink = smtp_cli
    acme = ("statement", "send", "--month", MONTH, "--customer", "acme")
    await sink.go_down()
    code, out, _ = await run(*acme)  # queued, the server unreachable: not "sent"
    assert code == 1, out
    assert "acme: statement of revision 1: queued, NOT SENT: not yet accepted (" in out
    assert "sent:" not in out and "already sent" not in out
    code, out, _ = await run(*acme, "--format", "json")  # again: still not sent
    found = _acme(out)
    assert code == 1 and sink.messages == []
    assert (found["status"], found["delivery"], found["accepted_at"]) == (
        "already_queued", "queued", None)
    assert found["outbox_status"] == "pending" and found["error"]

    await sink.come_up()
    code, out, _ = await run(*acme)  # sent now: the message queued by the first run
    assert code == 0, out
    assert "acme: statement of revision 1: sent: accepted by the SMTP server " in out
    assert "(queued by an earlier run)" in out
    assert len(sink.messages) == 1
    code, out, _ = await run(*acme, "--format", "json")
    found = _acme(out)
    assert code == 0 and (found["status"], found["delivery"]) == ("already_sent", "sent")
    assert found["accepted_at"] is not None
    code, out, _ = await run(*acme)
    assert code == 0 and "acme: already sent: accepted by the SMTP server " in out
    assert len(sink.messages) == 1  # really sent before: nothing again

    code, out, _ = await run("statement", "send", "--month", MONTH, "--customer", "bita",
                             "--queue-only", "--format", "json")
    found = json.loads(out)["statements"][0]
    assert code == 0 and (found["customer"], found["status"], found["delivery"]) == (
        "bita", "queued", "queued")
    code, out, _ = await run("statement", "send", "--month", MONTH, "--customer", "bita",
                             "--queue-only")
    assert code == 0 and "bita: statement of revision 1: queued; the daemon's outbox" in out
    assert len(sink.messages) == 1  # queued only


@pytest.mark.slow
async def test_send_killed_in_the_send_is_sent_by_the_next_run_at_once(
    smtp_cli: tuple[Run, SMTPSink], tmp_path: Path, db_url: str
) -> None:
    """``kill -9`` of ``statement send`` while its message is leased: the next run releases
    the dead process's lease and sends the message now, not 5 minutes later."""
    _, sink = smtp_cli
    command = [*sla_monitor_command(), "-c", str(tmp_path / "config.yaml"), "statement",
               "send", "--month", MONTH, "--customer", "acme"]
    engine = create_engine(db_url)
    try:
        sink.rcpt_delay = 60.0  # the server is slow before it has the message
        first = await asyncio.create_subprocess_exec(
            *command, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            leased = await eventually(lambda: rows(engine, OutboxMessage,
                                                   OutboxMessage.status == "sending"),
                                      within=60, every=0.05)
            await asyncio.sleep(0.5)  # inside the slow step
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert leased[0].claimed_by is not None and str(first.pid) in leased[0].claimed_by
        sink.rcpt_delay = 0.0
        assert sink.messages == []
        loop = asyncio.get_running_loop()
        started = loop.time()
        second = await asyncio.create_subprocess_exec(
            *command, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(second.communicate(), 120)
        took = loop.time() - started
        assert second.returncode == 0, (out + err).decode()
        assert "acme: statement of revision 1: sent: accepted by the SMTP server" in out.decode()
        assert took < 30  # not the 5-minute lease, nor the 60 s wait for a live sender
        assert [m.rcpt_tos for m in sink.messages] == [("tech@acme.example",
                                                       "ceo@acme.example")]
        sent = await rows(engine, OutboxMessage)
        assert [(m.status, m.claimed_by) for m in sent] == [("sent", None)]
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_a_correction_lists_what_the_customer_is_told_as_a_quote(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The operators' output stays English (SPEC section 7); a correction's changes are what
    # its e-mail tells the customer, in the customer's language, so the line says so
    # instead of mixing Persian into the operators' sentence unannounced. (The example's
    # customers read English; bita reads Persian here.)
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("  # language: fa ", "  language: fa ", 1))
    assert cli("statement", "send", "--month", MONTH, "--queue-only")[0] == 0
    # A 20 min outage of the shared panel (1404/06/12 10:00-10:20 Tehran) changes everyone's.
    assert cli("incident", "add", "--service", "panel", "--start", "2025-09-03T10:00",
               "--end", "2025-09-03T10:20")[0] == 0
    code, out, err = cli("statement", "send", "--month", MONTH, "--queue-only")
    assert code == 0, err
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ": " in line}
    for customer in ("acme", "bita"):
        assert "corrects revision 1, as its e-mail tells the customer (fa): " in (
            lines[customer]), lines[customer]
        quoted = lines[customer].split("(fa): ", 1)[1]
        assert any("\u0600" <= c <= "\u06ff" for c in quoted), quoted  # Persian, quoted
