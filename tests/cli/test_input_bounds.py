"""Bad values for the contract commands (claims, tickets, the ledger, customer links): each
is one line naming the argument, the value as typed and what is allowed, exit 2, no
traceback, and no row of the database changes (counted before and after, on SQLite and
PostgreSQL). Free text over 2,000 characters, numbers past their bounds, ids no database
holds, a link valid for centuries, a domain of another customer (the answer is the one for
a domain that does not exist)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import Settings, load_config, parse_config
from monitor.errors import ConfigError
from monitor.http.auth import load_tokens
from monitor.sla import month_containing
from monitor.store.models import (
    AuditEvent,
    Claim,
    LedgerEntry,
    OutboxMessage,
    Ticket,
    TicketEvent,
)
from tests.faults.helpers import fill, small_filesystem
from tests.support import closable_month, row_counts

CONFIG = """\
provider: {{timezone: UTC}}
policy: {{claim_deadline: 40d}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    sites: [{{domain: acme.example, paid_until: 2099-06-30}}]
  - id: bita
    name: Bita
    contacts: {{technical: {{email: it@bita.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    sites: [{{domain: poll.bita.example, paid_until: 2099-06-30}}]
ticket_types:
  - {{id: receipt, name: Registering a payment receipt, price: 5}}
storage: {{url: '{url}'}}
http: {{link_key_file: {key}}}
"""
TABLES = (Claim, Ticket, TicketEvent, LedgerEntry, OutboxMessage, AuditEvent)
LONG = "n" * 100_000
TOO_LONG = "at most 2000 characters (this one has 100000)"


def last_month() -> str:
    now = dt.datetime.now(dt.UTC)
    this = month_containing(now, "gregorian", "UTC")
    return month_containing(this.start - dt.timedelta(seconds=1), "gregorian", "UTC").label


def configured(directory: Path, url: str) -> Path:
    key = directory / "link-key"
    key.write_text("link-key-0123456789abcdefghijklmnopqrstuvwxyz\n")
    path = directory / "config.yaml"
    path.write_text(CONFIG.format(url=url, key=key))
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str, schema_at_head: None) -> Path:
    return configured(tmp_path, db_url)


@pytest.fixture(scope="module")
def with_records(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configuration of one database per module and backend, with records in it (see
    :func:`records`), shared by the tests that prove a refused command changes nothing:
    each counts the rows before and after, so each starts from the same records."""
    config = configured(tmp_path_factory.mktemp("bounds"), module_db_url)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        records(config)
    return config


def counts(db_url: str) -> dict[str, int]:
    return asyncio.run(row_counts(db_url, TABLES))


def records(config: Path) -> None:
    """A claim (1) and a priced ticket (1) with a balance, so "nothing changed" is about a
    database with records."""
    base = ["-c", str(config)]
    assert main([*base, "ledger", "deposit", "--site", "acme.example", "--amount", "50",
                 "--reference", "invoice 1"]) == 0
    assert main([*base, "claim", "submit", "--customer", "acme", "--month", last_month()]) == 0
    assert main([*base, "ticket", "open", "--customer", "acme", "--service", "panel",
                 "--channel", "email", "--summary", "help", "--type", "receipt"]) == 0
    assert main([*base, "ticket", "diagnose", "1", "--provider-fault"]) == 0


CASES = [
    # (id, arguments, the argument named)
    ("ticket-open-summary", ["ticket", "open", "--customer", "acme", "--service", "panel",
                             "--channel", "email", "--summary", LONG], "--summary"),
    ("ticket-follow-up-note", ["ticket", "follow-up", "1", "--channel", "phone",
                               "--note", LONG], "--note"),
    ("ticket-fix-note", ["ticket", "fix", "1", "--note", LONG], "--note"),
    ("ticket-ask-note", ["ticket", "ask", "1", "--note", LONG], "--note"),
    ("ledger-deposit-reference", ["ledger", "deposit", "--site", "acme.example",
                                  "--amount", "5", "--reference", LONG], "--reference"),
    ("claim-submit-note", ["claim", "submit", "--customer", "bita", "--month", "LAST",
                           "--note", LONG], "--note"),
    ("claim-decide-reason", ["claim", "decide", "1", "--reject", "--reason", LONG],
     "--reason"),
]
LIMITS = [
    ("another-customers-site",
     ["claim", "submit", "--customer", "bita", "--month", "LAST", "--site", "acme.example"],
     "--site: 'acme.example' is not valid; allowed: one of bita's domains: poll.bita.example"),
    ("deposit-amount-1e30",
     ["ledger", "deposit", "--site", "acme.example", "--amount", "1e30", "--reference", "r"],
     "--amount: '1e30' is not valid; allowed: an amount above 0 EUR and at most "
     "1000000000000000 EUR"),
    ("deposit-amount-nan",
     ["ledger", "deposit", "--site", "acme.example", "--amount", "NaN", "--reference", "r"],
     "--amount: 'NaN' is not valid; allowed: a number like 2500000"),
    ("reprice-1e30", ["ticket", "reprice", "1", "--price", "1e30"],
     "--price: '1e30' is not valid; allowed: an amount above 0 EUR and at most"),
    ("partly-1e30", ["claim", "decide", "1", "--partly", "1e30"],
     "--partly: '1e30' is not valid; allowed: a number of days above 0 and at most 36600"),
    # A year no one means is the calendar's refusal, as a month's; a plausible
    # one past the ten years a renewal may pay for is the action's.
    ("renew-until-9999",
     ["ledger", "renew", "--site", "acme.example", "--until", "9999-12-31"],
     "--until: '9999-12-31' is not valid; allowed: a day YYYY-MM-DD of the provider's "
     "calendar, Gregorian, years 1970 to 2200"),
    ("renew-until-2200",
     ["ledger", "renew", "--site", "acme.example", "--until", "2200-12-31"],
     "--until: '2200-12-31' is not valid; allowed: a date after the current paid period "
     "(2099-06-30) and after today"),
    ("claim-id-beyond-the-database", ["claim", "show", "99999999999999999999"],
     "ID: 99999999999999999999 is not valid; allowed: an existing claim id"),
    ("claim-id-beyond-32-bits", ["claim", "decide", "4294967296", "--approve"],
     "ID: 4294967296 is not valid; allowed: an existing claim id"),
    ("ticket-id-beyond-the-database", ["ticket", "fix", "99999999999999999999"],
     "ID: 99999999999999999999 is not valid; allowed: an existing ticket id"),
    ("ticket-show-id-beyond-32-bits", ["ticket", "show", "4294967296"],
     "ID: 4294967296 is not valid; allowed: an existing ticket id"),
    ("statement-revision-beyond-the-database",
     ["statement", "show", "--month", "LAST", "--customer", "acme",
      "--revision", "99999999999999999999"],
     "--revision: 99999999999999999999 is not valid; allowed: a revision number from 1"),
    ("link-valid-3000000d", ["customer", "link", "acme", "--valid", "3000000d"],
     "--valid: '3000000d' is not valid; allowed: a duration above zero and at most 366 d "
     "(http.link_max_lifetime)"),
    ("link-valid-100000d", ["customer", "link", "acme", "--valid", "100000d"],
     "--valid: '100000d' is not valid; allowed: a duration above zero and at most 366 d"),
    # Not UTF-8 ($'\xed\xa0\x80', an encoded surrogate): a traceback and exit 1 before.
    ("ticket-open-summary-not-utf8",
     ["ticket", "open", "--customer", "acme", "--service", "panel", "--channel", "email",
      "--summary", "\udced\udca0\udc80"],
     "--summary: '\\xed\\xa0\\x80' is not valid; allowed: text in UTF-8"),
    # Numbers in other digits than ASCII's: int(), Decimal() and the durations' \d read
    # Persian (U+06F0..) and Arabic-Indic (U+0660..) digits.
    ("ticket-show-id-arabic-indic-digits", ["ticket", "show", "\u0661"],
     "ID: '\u0661' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("claim-show-id-persian-digits", ["claim", "show", "\u06f1"],
     "ID: '\u06f1' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("claim-decide-id-persian-digits", ["claim", "decide", "\u06f1", "--approve"],
     "ID: '\u06f1' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("statement-revision-persian-digits",
     ["statement", "show", "--month", "LAST", "--customer", "acme", "--revision", "\u06f1"],
     "--revision: '\u06f1' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("statement-workers-persian-digits",
     ["statement", "send", "--month", "LAST", "--workers", "\u06f2"],
     "--workers: '\u06f2' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("deposit-amount-persian-digits",
     ["ledger", "deposit", "--site", "acme.example", "--amount", "\u06f5", "--reference", "r"],
     "--amount: '\u06f5' is not valid; allowed: a number like 2500000"),
    ("reprice-persian-digits", ["ticket", "reprice", "1", "--price", "\u06f5"],
     "--price: '\u06f5' is not valid; allowed: a number like"),
    ("partly-persian-digits", ["claim", "decide", "1", "--partly", "\u06f1"],
     "--partly: '\u06f1' is not valid; allowed: a number like"),
    ("link-valid-persian-digits", ["customer", "link", "acme", "--valid", "\u06f2d"],
     "--valid: '\u06f2d' is not valid; allowed: expected a duration (a number of seconds or "
     "a string like '30s'"),
]


def one_clear_line(config: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                   args: list[str], expected: str) -> None:
    before = counts(db_url)
    args = [last_month() if a == "LAST" else a for a in args]
    code = main(["-c", str(config), *args])
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err[:2000]
    assert len(lines[0]) < 400
    assert "Traceback" not in err and out == ""
    assert counts(db_url) == before


@pytest.mark.slow
@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_free_text_over_the_limit_is_one_line_and_changes_nothing(
    with_records: Path, module_db_url: str, capsys: pytest.CaptureFixture[str],
    args: list[str], expected: str,
) -> None:
    shown = "n" * 40 + "..."  # the start of the text, its length and the limit
    one_clear_line(with_records, module_db_url, capsys, args,
                   f"{expected}: {shown!r} is not valid; allowed: {TOO_LONG}")


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_values_past_their_bounds_are_one_line_and_change_nothing(
    with_records: Path, module_db_url: str, capsys: pytest.CaptureFixture[str],
    args: list[str], expected: str,
) -> None:
    one_clear_line(with_records, module_db_url, capsys, args, expected)


def test_a_link_within_the_maximum_is_made(config: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    assert main(["-c", str(config), "customer", "link", "acme", "--valid", "366d"]) == 0
    assert "valid for 366 d" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["customer", "link", "acme"], ["customer", "link-key"],
                                  ["token", "new", "read"]])
def test_json_is_laid_out_by_the_one_printer(config: Path, capsys: pytest.CaptureFixture[str],
                                             args: list[str]) -> None:
    # These printed one compact line; every other command indents (print_json).
    assert main(["-c", str(config), *args, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=2, ensure_ascii=False) + "\n"


def test_the_default_link_lifetime_is_within_the_maximum() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("http: {link_lifetime: 30d, link_max_lifetime: 10d}")
    assert "http.link_lifetime: 30 d is longer than http.link_max_lifetime (10 d)" in str(
        error.value)
    assert parse_config("").http.link_max_lifetime == 366 * 86400


@pytest.mark.parametrize(("args", "expected"), [
    (["customer:ACME"], "SCOPE: 'customer:ACME' is not valid; allowed: read, write, "
     "customer:ID with a configured customer's id (customer:acme, customer:bita) or push:ID "
     "with a configured push target's (none configured)"),
    (["customer:nobody"], "SCOPE: 'customer:nobody' is not valid; allowed: read, write, "
     "customer:ID with a configured customer's id"),
    (["push:panel"], "SCOPE: 'push:panel' is not valid; allowed: read, write, customer:ID"),
    (["customer:"], "SCOPE: 'customer:' is not valid"),
    (["admin"], "SCOPE: 'admin' is not valid"),
    (["read#"], "SCOPE: 'read#' is not valid"),
    (["read", "--name", "a b"], "--name: 'a b' is not valid; allowed: a name http.tokens_file "
     "reads back"),
    (["read", "--name", "grafana#1"], "--name: 'grafana#1' is not valid"),
    (["read", "--name", ""], "--name: '' is not valid"),
    (["read", "--name", "x" * 81], "--name: 'xxxx"),
])
def test_token_new_prints_only_lines_the_loader_reads(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    # It printed "customer:ACME sha256:... client" and "read sha256:... a b", which the
    # daemon's next start refused.
    code = main(["-c", str(config), "token", "new", *args])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err


def test_a_printed_token_line_loads(config: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    for args in (["customer:acme", "--name", "acme-portal"], ["read"],
                 ["write", "--name", "noc@rabit.example"]):
        assert main(["-c", str(config), "token", "new", *args, "--format", "json"]) == 0
        lines.append(json.loads(capsys.readouterr().out))
    tokens = tmp_path / "api-tokens"
    tokens.write_text("\n".join(found["line"] for found in lines) + "\n")
    settings = Settings.from_config(load_config(config))
    http = settings.http.model_copy(update={"tokens_file": str(tokens)})
    loaded = load_tokens(http, frozenset(settings.topology.customers))
    principal = loaded.find(lines[0]["token"])
    assert principal is not None and (principal.customer, principal.name) == (
        "acme", "acme-portal")
    assert [p.name for _, p in loaded.entries] == ["acme-portal", "client", "noc@rabit.example"]


# --- -o FILE: a regular file, written whole beside its place and renamed, or nothing ---------


def device(tmp_path: Path) -> Path:
    """A stand-in for /dev/full in the test's directory (the real one is never risked): a
    character device with its numbers as root, else a FIFO."""
    path = tmp_path / "full"
    if os.geteuid() == 0:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    else:
        os.mkfifo(path)
    return path


def output(config: Path, capsys: pytest.CaptureFixture[str], *args: str
           ) -> tuple[int, str, str]:
    code = main(["-c", str(config), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_o_refuses_a_path_that_is_not_a_regular_file(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    month = closable_month()
    node = device(tmp_path)
    kind = node.stat().st_mode
    (tmp_path / "target.csv").write_text("kept\n")
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    assert main(["-c", str(config), "report", "close", "--month", month]) == 0
    capsys.readouterr()
    listing = sorted(os.listdir(tmp_path))
    for target, what in ((node, "a character device" if stat.S_ISCHR(kind) else "a FIFO"),
                         (tmp_path, "a directory"), (link, "a symbolic link")):
        for args in (["report", "--month", month, "--format", "csv"],
                     ["statement", "show", "--month", month, "--customer", "acme",
                      "--format", "csv"]):
            code, _, err = output(config, capsys, *args, "-o", str(target))
            assert code == 2, err
            lines = err.strip().splitlines()
            assert len(lines) == 1, err
            assert (f"-o/--output: {str(target)!r} is not valid; allowed: a regular file "
                    f"(it is {what}); nothing was written") in lines[0], err
    assert stat.S_IFMT(node.lstat().st_mode) == stat.S_IFMT(kind)  # still the device
    assert sorted(os.listdir(tmp_path)) == listing  # no .partial left anywhere
    assert (tmp_path / "target.csv").read_text() == "kept\n" and link.is_symlink()


def test_o_writes_whole_files_with_the_usual_mode(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = ["report", "--month", last_month(), "--format", "csv"]
    code, printed, _ = output(config, capsys, *report)
    assert code == 0 and printed
    target = tmp_path / "out" / "report.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o640)
    code, _, err = output(config, capsys, *report, "-o", str(target))
    assert code == 0 and "wrote" in err
    assert target.read_text() in (printed, printed.removesuffix("\n"))
    assert os.listdir(target.parent) == ["report.csv"]  # nothing beside it
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file it replaced kept its mode
    new = tmp_path / "out" / "new.csv"
    umask = os.umask(0o022)
    try:
        assert output(config, capsys, *report, "-o", str(new))[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644  # as any new file, not 0600
    assert new.read_text() == target.read_text()


def test_o_on_a_full_disk_is_one_line_and_leaves_nothing(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    month = last_month()
    with small_filesystem(tmp_path / "small", "256k") as small:
        filler = fill(small)
        code, _, err = output(config, capsys, "report", "--month", month, "--format", "csv",
                              "-o", str(small / "x.csv"))
        assert code in (1, 2), err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert (f"-o/--output: cannot write {str(small / 'x.csv')!r}: No space left on device;"
                " nothing was written") in lines[0], err
        assert os.listdir(small) == [filler.name]  # no x.csv, no .x.csv.partial
