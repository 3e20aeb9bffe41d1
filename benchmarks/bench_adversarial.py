"""Hostile input and faults, counted: bad command lines and configurations against
an installed ``sla-monitor``, then the fault tests.

One command::

    python benchmarks/bench_adversarial.py [--sla-monitor PATH] [--faults] [--json FILE]

For each bad command line (run in a scratch directory holding a configuration and a
database with records) and each bad configuration (``check-config``, and ``run`` for the
ones that can only fail at start), it records the exit code, whether standard error is
one clear line per problem or a traceback, the time and peak memory (each child is
capped at 2 GB of address space, so a bomb shows as a failure, not a swapped machine),
and whether any row of the database changed. ``--sla-monitor`` points at another
installation (e.g. a venv of an older commit) to compare. ``--faults`` also runs the
fault tests (``tests/faults``, ``tests/notify/test_outbox_faults.py``; each asserts
nothing recorded lost and nothing the SMTP server accepted sent twice) and counts them.
Prints tables, with the CPU of the commands run and, over the same time, the rest of the
machine's busy time (others) and steal (a time read on a busy machine is not the
command's own); ``--json`` writes every result.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import resource
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import Load

ROOT = Path(__file__).resolve().parents[1]
LIMIT_AS = 2 * 1024**3
TIMEOUT = 60.0

BASE = """\
provider: {timezone: America/New_York, operators: [noc@rabit.example]}
servers:
  - {id: srv-1, probe: {type: tcp, host: 127.0.0.1, port: 9}}
services:
  - {id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9}}
  - {id: shop, kind: project, server: srv-1, probe: {type: tcp, host: 127.0.0.1, port: 9}}
policy: {claim_deadline: 40d}
customers:
  - id: acme
    name: ACME
    contacts: {technical: {email: tech@acme.example, phone: "+98 21 5555"}}
    fee: {amount: 1000, currency: EUR}
    services: [shop]
    sites: [{domain: acme.example, paid_until: 2099-06-30}]
  - id: bita
    name: Bita
    contacts: {technical: {email: it@bita.example}}
    fee: {amount: 1000, currency: EUR}
    sites: [{domain: poll.bita.example}]
ticket_types: [{id: receipt, name: Registering a payment receipt, price: 5}]
storage: {url: "sqlite+aiosqlite:///DB"}
http: {listen: "127.0.0.1:0", link_key_file: "LINKKEY"}
"""

W = ["--start", "2025-01-01T00:00", "--end", "2025-01-01T01:00"]
CLI: list[tuple[str, list[str]]] = [
    ("incident add: --end past year 9999 in UTC",
     ["incident", "add", "--service", "panel", "--start", "2026-01-01T00:00",
      "--end", "9999-12-31T23:59:59-05:00"]),
    ("incident add: --start year 1", ["incident", "add", "--service", "panel",
                                      "--start", "0001-01-01T00:00", "--end", "2026-01-01T00:00"]),
    ("incident add: unknown service", ["incident", "add", "--service", "nope", *W]),
    ("incident add: no --end", ["incident", "add", "--service", "panel", "--start", "2025-01-01"]),
    ("incident add: --start not a time", ["incident", "add", "--service", "panel",
                                          "--start", "yesterday", "--end", "2025-01-01T01:00"]),
    ("incident add: month 13", ["incident", "add", "--service", "panel",
                                "--start", "2025-13-01T00:00", "--end", "2025-01-01T01:00"]),
    ("incident add: 30 February", ["incident", "add", "--service", "panel",
                                   "--start", "2025-02-30T00:00", "--end", "2025-03-01T01:00"]),
    ("incident add: hour 25", ["incident", "add", "--service", "panel",
                               "--start", "2025-01-01T25:00", "--end", "2025-01-02T01:00"]),
    ("incident add: offset +25:00", ["incident", "add", "--service", "panel",
                                     "--start", "2025-01-01T00:00+25:00",
                                     "--end", "2025-01-02T01:00"]),
    ("incident add: empty --start", ["incident", "add", "--service", "panel",
                                     "--start", "", "--end", "2025-01-01T01:00"]),
    ("incident add: end before start", ["incident", "add", "--service", "panel",
                                        "--start", "2025-01-01T02:00",
                                        "--end", "2025-01-01T01:00"]),
    ("incident add: end == start", ["incident", "add", "--service", "panel",
                                    "--start", "2025-01-01T02:00", "--end", "2025-01-01T02:00"]),
    ("incident add: end in the future", ["incident", "add", "--service", "panel",
                                         "--start", "2025-01-01T02:00",
                                         "--end", "2099-01-01T00:00"]),
    ("incident add: unknown cause", ["incident", "add", "--service", "panel", *W,
                                     "--cause", "gremlins"]),
    ("incident add: a 100 kB note", ["incident", "add", "--service", "panel", *W,
                                   "--note", "x" * 100_000]),
    ("incident add: overlapping manual", ["incident", "add", "--service", "panel",
                                          "--start", "2024-06-01T00:30",
                                          "--end", "2024-06-01T00:45"]),
    ("incident cause: id beyond 64 bits", ["incident", "cause", "18446744073709551616",
                                           "--cause", "external", "--reason", "x"]),
    ("incident cause: id 0", ["incident", "cause", "0", "--cause", "external", "--reason", "x"]),
    ("incident cause: id -1", ["incident", "cause", "-1", "--cause", "external",
                               "--reason", "x"]),
    ("incident cause: id abc", ["incident", "cause", "abc", "--cause", "external",
                                "--reason", "x"]),
    ("incident cause: unknown id", ["incident", "cause", "999999", "--cause", "external",
                                    "--reason", "x"]),
    ("incident cause: unknown cause", ["incident", "cause", "1", "--cause", "aliens",
                                       "--reason", "x"]),
    ("incident cause: blank reason", ["incident", "cause", "1", "--cause", "external",
                                      "--reason", "   "]),
    ("incident cause: same cause", ["incident", "cause", "1", "--cause", "provider",
                                    "--reason", "x"]),
    ("incident cause: 100 kB reason", ["incident", "cause", "1", "--cause", "external",
                                     "--reason", "r" * 100_000]),
    ("incident notified: id beyond 64 bits", ["incident", "notified", "18446744073709551616",
                                              "--at", "2024-06-01T00:10", "--channel", "phone"]),
    ("incident notified: unknown id", ["incident", "notified", "999999",
                                       "--at", "2024-06-01T00:10", "--channel", "phone"]),
    ("incident notified: channel fax", ["incident", "notified", "1",
                                        "--at", "2024-06-01T00:10", "--channel", "fax"]),
    ("incident notified: --at in the future", ["incident", "notified", "1",
                                               "--at", "2099-01-01T00:00", "--channel", "phone"]),
    ("incident notified: --at before the start", ["incident", "notified", "1",
                                                  "--at", "2024-05-01T00:00",
                                                  "--channel", "phone"]),
    ("incident notified: unknown customer", ["incident", "notified", "1",
                                             "--at", "2024-06-01T00:10", "--channel", "phone",
                                             "--customer", "nope"]),
    ("incident notified: --at garbage", ["incident", "notified", "1", "--at", "soon",
                                         "--channel", "phone"]),
    ("incident list: unknown --service", ["incident", "list", "--service", "nope"]),
    ("incident list: --month 2026-13", ["incident", "list", "--month", "2026-13"]),
    ("incident list: --month abc", ["incident", "list", "--month", "abc"]),
    ("incident list: --month 0000-01", ["incident", "list", "--month", "0000-01"]),
    ("incident list: --month 99999-01", ["incident", "list", "--month", "99999-01"]),
    ("incident list: --format xml", ["incident", "list", "--format", "xml"]),
    ("maintenance add: service twice", ["maintenance", "add", "--services", "panel,panel", *W,
                                        "--reason", "x"]),
    ("maintenance add: empty --services", ["maintenance", "add", "--services", "", *W,
                                           "--reason", "x"]),
    ("maintenance add: --services ','", ["maintenance", "add", "--services", ",", *W,
                                         "--reason", "x"]),
    ("maintenance add: one unknown service", ["maintenance", "add", "--services", "panel,nope",
                                              *W, "--reason", "x"]),
    ("maintenance add: end before start", ["maintenance", "add", "--services", "panel",
                                           "--start", "2025-01-01T02:00",
                                           "--end", "2025-01-01T01:00", "--reason", "x"]),
    ("maintenance add: blank reason", ["maintenance", "add", "--services", "panel", *W,
                                       "--reason", " "]),
    ("maintenance add: 100 kB reason", ["maintenance", "add", "--services", "panel", *W,
                                      "--reason", "y" * 100_000]),
    ("maintenance add: notified after the window", ["maintenance", "add", "--services",
                                                    "panel", *W, "--reason", "x",
                                                    "--notified-at", "2025-01-02T00:00"]),
    ("maintenance add: notified in the future", ["maintenance", "add", "--services", "panel",
                                                 "--start", "2099-01-01T00:00",
                                                 "--end", "2099-01-01T01:00", "--reason", "x",
                                                 "--notified-at", "2098-12-31T00:00"]),
    ("maintenance add: --notified-at garbage", ["maintenance", "add", "--services", "panel",
                                                *W, "--reason", "x", "--notified-at", "?"]),
    ("maintenance add: end past year 9999", ["maintenance", "add", "--services", "panel",
                                             "--start", "2025-01-01T00:00",
                                             "--end", "9999-12-31T23:59:59-05:00",
                                             "--reason", "x"]),
    ("maintenance list: --month abc", ["maintenance", "list", "--month", "abc"]),
    ("report: --month 2026-13", ["report", "--month", "2026-13"]),
    ("report: --month abc", ["report", "--month", "abc"]),
    ("report: --month 0000-12", ["report", "--month", "0000-12"]),
    ("report: --month 9999-12", ["report", "--month", "9999-12"]),
    ("report: unknown customer", ["report", "--month", "2024-06", "--customer", "nope"]),
    ("report: --format xml", ["report", "--month", "2024-06", "--format", "xml"]),
    ("report: no --month", ["report"]),
    ("report close: --month abc", ["report", "close", "--month", "abc"]),
    ("unknown command", ["frobnicate"]),
    ("unknown global option", ["--colour", "check-config"]),
    ("-c a missing file", ["-c", "/nonexistent/config.yaml", "check-config"]),
    ("-c a directory", ["-c", "/", "check-config"]),
    ("-c /dev/zero (endless)", ["-c", "/dev/zero", "check-config"]),
    ("run --log-level TRACE", ["run", "--log-level", "TRACE"]),
    # The contract's commands (claims, tickets, the ledger, links, tokens, -o FILE). LAST is
    # the last month (open to claims: claim_deadline 40d); claim 1 and ticket 1 exist.
    ("claim submit: another customer's --site", ["claim", "submit", "--customer", "bita",
                                                 "--month", "LAST", "--site", "acme.example"]),
    ("claim submit: a 100 kB --note", ["claim", "submit", "--customer", "bita", "--month",
                                       "LAST", "--note", "n" * 100_000]),
    ("claim decide: a 100 kB --reason", ["claim", "decide", "1", "--reject",
                                         "--reason", "n" * 100_000]),
    ("claim decide: --partly 1e30", ["claim", "decide", "1", "--partly", "1e30"]),
    ("claim show: id beyond 64 bits", ["claim", "show", "18446744073709551616"]),
    ("ticket open: a 100 kB --summary", ["ticket", "open", "--customer", "acme", "--service",
                                         "panel", "--channel", "email",
                                         "--summary", "s" * 100_000]),
    ("ticket follow-up: a 100 kB --note", ["ticket", "follow-up", "1", "--channel", "phone",
                                           "--note", "n" * 100_000]),
    ("ticket fix: a 100 kB --note", ["ticket", "fix", "1", "--note", "n" * 100_000]),
    ("ticket fix: id beyond 64 bits", ["ticket", "fix", "18446744073709551616"]),
    ("ticket reprice: --price 1e30", ["ticket", "reprice", "1", "--price", "1e30"]),
    ("ledger deposit: a 100 kB --reference", ["ledger", "deposit", "--site", "acme.example",
                                              "--amount", "5", "--reference", "r" * 100_000]),
    ("ledger deposit: --amount 1e30", ["ledger", "deposit", "--site", "acme.example",
                                       "--amount", "1e30", "--reference", "r"]),
    ("ledger renew: --until 9999-12-31", ["ledger", "renew", "--site", "acme.example",
                                          "--until", "9999-12-31"]),
    ("customer link: --valid 3000000d", ["customer", "link", "acme", "--valid", "3000000d"]),
    ("customer link: --valid 100000d (year 2300)", ["customer", "link", "acme",
                                                    "--valid", "100000d"]),
    ("token new customer:ACME", ["token", "new", "customer:ACME"]),
    ("token new customer:nobody", ["token", "new", "customer:nobody"]),
    ("token new read --name 'a b'", ["token", "new", "read", "--name", "a b"]),
    ("report -o a device node (as /dev/full)", ["report", "--month", "LAST", "--format", "csv",
                                                "-o", "DEVICE"]),
    ("report -o a directory", ["report", "--month", "LAST", "--format", "csv", "-o", "."]),
]


def _bomb(levels: int) -> str:
    names = "abcdefghijklmnop"
    text = f'{names[0]}: &{names[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for a, b in itertools.pairwise(names):
        text += f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n"
    return text


def _merge_bomb() -> str:
    return "l0: &l0 {x: 1, y: 2}\n" + "".join(
        f"l{n}: &l{n} {{<<: [{', '.join(['*l' + str(n - 1)] * 10)}]}}\n" for n in range(1, 9))


def _service(probe: str) -> str:
    return BASE.replace("probe: {type: tcp, host: 127.0.0.1, port: 9}}\n  - {id: shop",
                        f"probe: {{type: tcp, host: 127.0.0.1, port: 9, {probe}}}}}\n  - {{id: shop",
                        1)


CONFIGS: list[tuple[str, str | bytes, list[str]]] = [
    ("billion laughs (9 levels, 342 bytes)", _bomb(9), ["check-config"]),
    ("billion laughs on run", _bomb(9), ["run"]),
    ("7-level alias bomb", _bomb(7), ["check-config"]),
    ("merge-key bomb", _merge_bomb(), ["check-config"]),
    ("self-referencing alias", "servers: &x [*x]\n", ["check-config"]),
    ("nested 100,000 levels", "a: " + "[" * 100_000 + "]" * 100_000, ["check-config"]),
    ("nested 900 levels", "a: " + "[" * 900 + "]" * 900, ["check-config"]),
    ("not UTF-8", b"provider: {name: \"\xff\xfe\"}\n", ["check-config"]),
    ("a NUL byte", b"provider: {name: \"a\x00b\"}\n", ["check-config"]),
    ("a tab for indentation", "provider:\n\tname: x\n", ["check-config"]),
    ("two YAML documents", "provider: {}\n---\nprovider: {}\n", ["check-config"]),
    ("a list at the top", "- a\n- b\n", ["check-config"]),
    ("binary garbage", bytes(range(256)) * 4, ["check-config"]),
    ("interval .inf", _service("interval: .inf"), ["check-config"]),
    ("interval .inf on run", _service("interval: .inf"), ["run"]),
    ("interval 7e23 days", _service('interval: "700000000000000000000000d"'), ["check-config"]),
    ("interval 1 µs, timeout 0.1 µs", _service("interval: 0.000001, timeout: 0.0000001"),
     ["check-config"]),
    ("timeout .nan", _service("timeout: .nan"), ["check-config"]),
    ("heartbeat_interval .inf", BASE + "monitor: {heartbeat_interval: .inf}\n",
     ["check-config"]),
    ("unknown_after .inf", BASE + "monitor: {unknown_after: .inf}\n", ["check-config"]),
    ("tier min_downtime .inf", BASE + "policy: {tiers: [{name: x, min_downtime: .inf, "
     "credit_days: 1}]}\n", ["check-config"]),
    ("fee amount 1e400", BASE.replace("amount: 1000", "amount: 1e400"), ["check-config"]),
    ("fee amount .nan", BASE.replace("amount: 1000", "amount: .nan"), ["check-config"]),
    ("seven weekend days", BASE.replace("provider: {", "provider: {weekend_days: [monday, "
     "tuesday, wednesday, thursday, friday, saturday, sunday], "), ["check-config"]),
    ("duplicate key", BASE.replace("provider: {", "provider: {name: a, name: b, "),
     ["check-config"]),
    ("unknown key", BASE + "colour: blue\n", ["check-config"]),
    ("storage.url with a password, wrong scheme",
     BASE.replace("sqlite+aiosqlite:///DB", "mysql://root:S3CRET@db/x"), ["check-config"]),
    ("storage.url not a URL", BASE.replace("sqlite+aiosqlite:///DB", "postgresql://:@:x/"),
     ["check-config"]),
    ("storage.url not a URL on run",
     BASE.replace("sqlite+aiosqlite:///DB", "postgresql://:@:x/"), ["run"]),
    ("unreachable PostgreSQL at start",
     BASE.replace("sqlite+aiosqlite:///DB", "postgresql+asyncpg://u:S3CRET@127.0.0.1:1/x"),
     ["run"]),
    ("read-only state directory at start",
     BASE.replace("sqlite+aiosqlite:///DB", "sqlite+aiosqlite:////proc/sla-monitor/x.db"),
     ["run"]),
    ("smtp timeout .inf", BASE + "smtp: {host: m, sender: a@b.example, timeout: .inf}\n",
     ["check-config"]),
    ("webhook url ftp://", BASE + "webhook: {url: 'ftp://x/'}\n", ["check-config"]),
    ("a 10 MB string value", BASE.replace("name: ACME", "name: " + "A" * 10_000_000),
     ["check-config"]),
    ("a header with a line break", _service("").replace(
        "probe: {type: tcp, host: 127.0.0.1, port: 9, }", 'probe: {type: http, url: "http://h/", '
        'headers: {X-A: "a\\r\\nX-Injected: 1"}}'), ["check-config"]),
    ("port 70000", BASE.replace("port: 9}", "port: 70000}", 1), ["check-config"]),
]


@dataclass
class Result:
    kind: str
    name: str
    exit_code: int | None
    clear: bool  # exit 2 (or 1 naming the database) with sla-monitor's error lines only
    traceback: bool
    seconds: float
    peak_mb: float
    rows_changed: bool
    first_line: str


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


def run(command: list[str], cwd: Path) -> tuple[int | None, str, float, float]:
    """Exit code (None: killed after TIMEOUT), standard error, seconds, peak resident MB."""
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors,
                                   preexec_fn=_limit)
        code: int | None = None
        peak = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                peak = usage.ru_maxrss / 1024
                break
            if time.monotonic() - started > TIMEOUT:
                process.kill()
                os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        process.returncode = code if code is not None else -9  # reaped here, not by Popen
        elapsed = time.monotonic() - started
        errors.seek(0)
        return code, errors.read().decode(errors="replace"), elapsed, peak


def counts(database: Path) -> dict[str, int]:
    if not database.exists():
        return {}
    connection = sqlite3.connect(database)
    try:
        tables = [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in tables if t != "daemon_sessions"}
    finally:
        connection.close()


def judge(code: int | None, stderr: str) -> tuple[bool, bool, str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("{")]  # JSON log lines aside
    traceback = "Traceback" in stderr
    first = errors[0] if errors else (lines[0] if lines else "")
    said = bool(errors) and (errors[0].startswith("sla-monitor: error") or
                             errors[0].startswith("usage:"))
    clear = code in (1, 2) and said and not traceback and "unexpected error" not in stderr
    if code == 1:  # exit 1 is only right for a database that cannot be reached
        clear = clear and "storage:" in stderr
    return clear, traceback, first[:160]


def _last_month() -> str:
    first = datetime.datetime.now(datetime.UTC).date().replace(day=1)
    return (first - datetime.timedelta(days=1)).strftime("%Y-%m")


def _device(scratch: Path) -> Path:
    """A stand-in for /dev/full in the scratch directory (the real one is never risked: an
    older version renamed its file over it): a character device as root, else a FIFO."""
    path = scratch / "full"
    if os.geteuid() == 0:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    else:
        os.mkfifo(path)
    return path


def inputs(sla_monitor: Path, scratch: Path) -> list[Result]:
    database = scratch / "sla-monitor.db"
    config = scratch / "config.yaml"
    key = scratch / "link-key"
    key.write_text("link-key-0123456789abcdefghijklmnopqrstuvwxyz\n")
    config.write_text(BASE.replace("DB", str(database)).replace("LINKKEY", str(key)))
    base = [str(sla_monitor), "-c", str(config)]
    last = _last_month()
    for setup in (["db", "upgrade"],
                  ["incident", "add", "--service", "panel", "--start", "2024-06-01T00:00",
                   "--end", "2024-06-01T01:00"],
                  ["ledger", "deposit", "--site", "acme.example", "--amount", "50",
                   "--reference", "invoice 1"],
                  ["claim", "submit", "--customer", "acme", "--month", last],
                  ["ticket", "open", "--customer", "acme", "--service", "panel", "--channel",
                   "email", "--summary", "help", "--type", "receipt"],
                  ["ticket", "diagnose", "1", "--provider-fault"]):
        subprocess.run(base + setup, check=True, capture_output=True, cwd=scratch)
    device = _device(scratch)
    values = {"LAST": last, "DEVICE": str(device)}
    results = []
    for name, given in CLI:
        arguments = [values.get(a, a) for a in given]
        before = counts(database)
        full = arguments if arguments[:1] == ["-c"] else ["-c", str(config), *arguments]
        code, stderr, seconds, peak = run([str(sla_monitor), *full], scratch)
        clear, traceback, first = judge(code, stderr)
        mode = device.lstat().st_mode
        if "DEVICE" in given and not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            clear = False  # the node was replaced by a file
            device.unlink()
            device = _device(scratch)
        results.append(Result("cli", name, code, clear, traceback, seconds, peak,
                              counts(database) != before, first))
    return results


def configs(sla_monitor: Path, scratch: Path) -> list[Result]:
    database = scratch / "sla-monitor.db"
    results = []
    for index, (name, text, command) in enumerate(CONFIGS):
        path = scratch / f"bad-{index}.yaml"
        data = text if isinstance(text, bytes) else text.replace("DB", str(database)).encode()
        path.write_bytes(data)
        before = counts(database)
        code, stderr, seconds, peak = run([str(sla_monitor), "-c", str(path), *command], scratch)
        clear, traceback, first = judge(code, stderr)
        results.append(Result("config", name, code, clear, traceback, seconds, peak,
                              counts(database) != before, first))
    # A 50 MB configuration with one error: refused for its size, fast.
    big = scratch / "big.yaml"
    with big.open("w") as file:
        file.write("services:\n")
        line = '  - {id: t%06d, kind: mobile_api, probe: {type: http, url: "http://h/%d"}}\n'
        n = 0
        while file.tell() < 50 * 1024 * 1024:
            file.write(line % (n, n))
            n += 1
        file.write("  - {id: bad, kind: nope, probe: {type: tcp, host: h, port: 1}}\n")
    code, stderr, seconds, peak = run([str(sla_monitor), "-c", str(big), "check-config"], scratch)
    clear, traceback, first = judge(code, stderr)
    results.append(Result("config", "50 MB file with one error", code, clear, traceback,
                          seconds, peak, False, first))
    return results


def faults(pytest: Path) -> list[dict[str, object]]:
    """The fault tests through the venv's pytest (never ``python -m pytest``: the suite tests
    the installed package, not the checkout)."""
    with tempfile.TemporaryDirectory(prefix="sla-monitor-faults-") as directory:
        report = Path(directory) / "junit.xml"
        subprocess.run([str(pytest), "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        "tests/faults", "tests/notify/test_outbox_faults.py",
                        "tests/test_secrets.py"], cwd=ROOT, check=False)
        cases = list(ElementTree.parse(report).getroot().iter("testcase"))
    found = []
    for case in cases:
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        found.append({"test": f"{case.get('classname')}::{case.get('name')}",
                      "outcome": outcome, "seconds": float(case.get("time") or 0)})
    return found


def table(results: list[Result]) -> None:
    width = max(len(r.name) for r in results)
    print(f"{'input':<{width}}  exit  clear  traceback  rows changed  seconds  peak MB")
    for r in results:
        code = "T/O" if r.exit_code is None else str(r.exit_code)
        print(f"{r.name:<{width}}  {code:>4}  {'yes' if r.clear else 'NO':>5}  "
              f"{'YES' if r.traceback else 'no':>9}  {'YES' if r.rows_changed else 'no':>12}  "
              f"{r.seconds:7.2f}  {r.peak_mb:7.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sla-monitor", type=Path,
                        default=Path(sys.executable).with_name("sla-monitor"),
                        help="the installed command to test (default: this venv's)")
    parser.add_argument("--faults", action="store_true", help="also run the fault tests")
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sla-monitor-adversarial-") as directory:
        scratch = Path(directory)
        os.chmod(scratch, 0o700)
        load = Load(children=True)  # the commands are this process's waited-for children
        results = inputs(args.sla_monitor, scratch) + configs(args.sla_monitor, scratch)
        figures = load.figures()
    table(results)
    print()
    for kind in ("cli", "config"):
        mine = [r for r in results if r.kind == kind]
        print(f"{kind:>6}: {len(mine)} inputs tried, {sum(r.clear for r in mine)} clear errors, "
              f"{sum(r.traceback for r in mine)} tracebacks, "
              f"{sum(r.exit_code is None for r in mine)} timeouts, "
              f"{sum(r.rows_changed for r in mine)} changed the database")
    print(f"  in {figures['wall_s']:.1f} s: CPU {figures['cpu_s']:.1f} s (the commands and "
          f"this process), others {figures['others_cpu_s']:.1f} s, steal "
          f"{figures['steal_s']:.1f} s")
    fault_results: list[dict[str, object]] = []
    if args.faults:
        fault_results = faults(Path(sys.executable).with_name("pytest"))
        print()
        for f in fault_results:
            print(f"{f['outcome']:>7}  {float(f['seconds']):6.1f} s  {f['test']}")
        print(f"faults: {len(fault_results)} tried, "
              f"{sum(f['outcome'] == 'passed' for f in fault_results)} survived with nothing "
              f"lost or sent twice, {sum(f['outcome'] == 'failed' for f in fault_results)} "
              f"failed, {sum(f['outcome'] == 'skipped' for f in fault_results)} skipped")
    if args.json:
        args.json.write_text(json.dumps(
            {"inputs": [asdict(r) for r in results], "load": figures,
             "faults": fault_results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
