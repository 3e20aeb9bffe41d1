"""The daemon works inside the unit's seccomp sandbox: ``SystemCallFilter=``,
``RestrictAddressFamilies=`` and ``MemoryDenyWriteExecute=`` as systemd 252 applies them.

Without systemd as PID 1 (CI runs in a container) the unit cannot be started, so this
test builds the same filters from ``systemd/sla-monitor.service`` itself and applies them
the way systemd does, with libseccomp, right before ``execve`` of the installed
``sla-monitor run``:

* the system-call allow list: the groups of every ``SystemCallFilter=`` line, expanded by
  ``systemd-analyze syscall-filter``, minus the ``~`` groups; anything else fails with the
  unit's ``SystemCallErrorNumber=`` (EPERM);
* ``socket()`` only for the families of ``RestrictAddressFamilies=`` (others:
  EAFNOSUPPORT);
* ``MemoryDenyWriteExecute=``: ``mmap`` of memory both writable and executable, any
  ``mprotect``/``pkey_mprotect`` adding execute, and ``shmat`` with ``SHM_EXEC`` fail with
  EPERM. This is systemd 252's filter, stricter than the kernel's ``PR_SET_MDWE`` that newer
  systemd versions use where the kernel has it.

A control run of a small Python program in the same sandbox proves the filters hold
(``chroot``, ``sched_setaffinity``, a netlink socket and a W+X mapping are refused, after
``execve``). Then the daemon must do its whole job in it: CPython and its C extensions
(aiohttp's parsers, yarl, multidict, pydantic-core, libyaml, greenlet, aiosqlite or
asyncpg, ssl, cryptography) probe HTTP, HTTPS (reading the certificate) and TCP targets,
open an incident in SQLite or PostgreSQL, mail it through SMTP, serve /metrics, and stop
with exit code 0 on SIGTERM, with no error logged.

Not covered here (they need systemd itself): the mount namespace (``ProtectSystem=``,
``PrivateTmp=``...), ``PrivateUsers=``, ``IPAddressDeny=``, ``RestrictNamespaces=``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, sla_monitor_command

pytestmark = pytest.mark.slow

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "sla-monitor.service"
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10}

# Applies the filters described by $SANDBOX (JSON), then becomes argv[1:].
LAUNCHER = r"""
import ctypes, json, os, sys
spec = json.loads(os.environ.pop("SANDBOX"))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, as NoNewPrivileges=yes
    sys.exit("prctl(PR_SET_NO_NEW_PRIVS) failed")

class Cmp(ctypes.Structure):  # struct scmp_arg_cmp
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]

seccomp = ctypes.CDLL("libseccomp.so.2")
seccomp.seccomp_init.restype = ctypes.c_void_p
seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
seccomp.seccomp_rule_add_array.argtypes = [
    ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Cmp)]
seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, EQ, MASKED_EQ = 0x7FFF0000, 4, 7
def errno_action(number): return 0x00050000 | number
context = seccomp.seccomp_init(errno_action(spec["errno"]))

def rule(action, name, *conditions):
    number = seccomp.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # not a system call on this architecture
    array = (Cmp * len(conditions))(*conditions) if conditions else None
    code = seccomp.seccomp_rule_add_array(context, action, number, len(conditions), array)
    if code != 0:
        sys.exit(f"seccomp rule for {name}: {code}")

conditional = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat"}
for name in spec["allow"]:
    if name not in conditional:
        rule(ALLOW, name)
if "socket" in spec["allow"]:
    for family in range(64):
        action = ALLOW if family in spec["families"] else errno_action(97)  # EAFNOSUPPORT
        rule(action, "socket", Cmp(0, EQ, family, 0))
WRITE, EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
if "mmap" in spec["allow"]:
    for prot in (0, WRITE, EXEC):  # not both
        rule(ALLOW, "mmap", Cmp(2, MASKED_EQ, WRITE | EXEC, prot))
for name in ("mprotect", "pkey_mprotect"):
    if name in spec["allow"]:
        rule(ALLOW, name, Cmp(2, MASKED_EQ, EXEC, 0))
if "shmat" in spec["allow"]:
    rule(ALLOW, "shmat", Cmp(2, MASKED_EQ, SHM_EXEC, 0))
if seccomp.seccomp_load(context) != 0:
    sys.exit("seccomp_load failed")
os.execv(sys.argv[1], sys.argv[1:])
"""

# Run in the sandbox: what it refuses (and that it survived execve).
CONTROL = r"""
import mmap, os, socket
def outcome(call):
    try:
        call()
        return "allowed"
    except OSError as exc:
        return os.strerror(exc.errno)
print(outcome(lambda: os.chroot("/")))                    # @privileged; root may otherwise
print(outcome(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))))    # @resources
print(outcome(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)))  # not a family
print(outcome(lambda: mmap.mmap(-1, 4096, prot=7)))      # read, write and execute
print(outcome(lambda: socket.socket(socket.AF_INET6).close()))               # allowed
"""


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def syscall_groups(analyze: str) -> dict[str, list[str]]:
    """``systemd-analyze syscall-filter``: every group and its members (calls or groups)."""
    output = subprocess.run(
        [analyze, "syscall-filter"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    members: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("@"):
            members = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and members is not None:
            if not line.strip().startswith("#"):
                members.append(line.strip())
        else:
            members = None
    return groups


def expand(item: str, groups: dict[str, list[str]]) -> set[str]:
    if not item.startswith("@"):
        return {item}
    return set().union(*(expand(member, groups) for member in groups[item]))


def sandbox_spec() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run must install Debian's systemd")
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    if not Path("/usr/lib/x86_64-linux-gnu/libseccomp.so.2").exists() and not any(
        Path(p).glob("libseccomp.so.2") for p in ("/lib", "/usr/lib", "/usr/lib64")
    ):
        pytest.skip("libseccomp.so.2 not installed")
    settings = unit_settings()
    groups = syscall_groups(analyze)
    allowed: set[str] = set()
    for line in settings["SystemCallFilter"]:
        deny = line.startswith("~")
        names = set().union(*(expand(item, groups) for item in line.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    assert "execve" in allowed and "chroot" not in allowed and "sched_setaffinity" not in allowed
    assert settings["MemoryDenyWriteExecute"] == ["yes"]
    (error_name,) = settings["SystemCallErrorNumber"]
    (families,) = settings["RestrictAddressFamilies"]
    return json.dumps({
        "allow": sorted(allowed),
        "errno": getattr(errno, error_name),
        "families": [FAMILIES[name] for name in families.split()],
    })


def in_sandbox(spec: str, *command: str) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-c", LAUNCHER, *command], {**os.environ, "SANDBOX": spec}


def test_the_sandbox_refuses_what_the_unit_forbids() -> None:
    command, env = in_sandbox(sandbox_spec(), sys.executable, "-c", CONTROL)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        os.strerror(errno.EPERM),  # chroot
        os.strerror(errno.EPERM),  # sched_setaffinity
        os.strerror(errno.EAFNOSUPPORT),  # AF_NETLINK
        os.strerror(errno.EPERM),  # W+X mapping
        "allowed",  # an AF_INET6 socket
    ]


def config_text(http: TargetServer, https: TargetServer, sink: SMTPSink, db_url: str) -> str:
    return f"""
{MONITOR}
provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
servers:
  - id: srv-1
    probe: {{type: tcp, host: 127.0.0.1, port: {http.port}, {FAST}}}
services:
  - id: acme-survey
    kind: project
    server: srv-1
    probe: {{type: http, url: "{http.url("/json")}", json: {{path: status, equals: ok}}, {FAST}}}
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{https.url("/")}", {FAST},
             tls: {{ca_file: "{https.ca_file}", cert_check_interval: 1s}}}}
customers:
  - id: acme
    name: ACME Research
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    services: [acme-survey]
    sites: [{{domain: acme.example}}]
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


async def test_the_daemon_does_its_job_in_the_sandbox(tmp_path: Path, db_url: str) -> None:
    spec = sandbox_spec()
    async with (
        TargetServer() as http,
        TargetServer(tls="valid") as https,
        SMTPSink() as sink,
    ):
        config = tmp_path / "config.yaml"
        config.write_text(config_text(http, https, sink, db_url))
        log = tmp_path / "daemon.log"
        process = start_in_sandbox(spec, config, log)
        try:
            base = f"http://127.0.0.1:{await http_port(process, log)}"
            metrics = await wait_for_metrics(base, process, log, [
                'sla_monitor_probe_state{kind="project",target="acme-survey"} 1.0',
                'sla_monitor_probe_state{kind="web_panel",target="panel"} 1.0',
                'sla_monitor_probe_state{kind="server",target="srv-1"} 1.0',
                'sla_monitor_certificate_valid{target="panel"} 1.0',
            ])
            assert 'sla_monitor_certificate_expiry_timestamp_seconds{target="panel"}' in metrics
            http.set_status(503)  # the project's JSON condition fails: an incident, a mail
            mails = await sink.wait_for(2, within=20)  # the customer's and the operators'
            assert "tech@acme.example" in {r for m in mails for r in m.rcpt_tos}
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    text = tail(log, None)
    assert '"level": "error"' not in text and "Traceback" not in text, text[-3000:]
    assert '"event": "incident opened"' in text and '"event": "daemon stopped"' in text


def start_in_sandbox(spec: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    command, env = in_sandbox(spec, *sla_monitor_command(), "-c", str(config), "run")
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=config.parent
        )


def tail(log: Path, size: int | None = 3000) -> str:
    text = log.read_text(errors="replace")
    return text if size is None else text[-size:]


async def http_port(process: subprocess.Popen[bytes], log: Path) -> int:
    """The port the daemon bound, from its "daemon started" log line."""
    for _ in range(300):
        assert process.poll() is None, tail(log)
        for line in tail(log, None).splitlines():
            if '"event": "daemon started"' in line:
                return int(json.loads(line)["http_port"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the daemon did not start; log: {tail(log)}")


async def wait_for_metrics(
    base: str, process: subprocess.Popen[bytes], log: Path, wanted: list[str]
) -> str:
    text = ""
    for _ in range(300):
        assert process.poll() is None, tail(log)
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as r:
                text = await r.text()
        except aiohttp.ClientError:
            text = ""
        if all(line in text for line in wanted):
            return text
        await asyncio.sleep(0.1)
    missing = [line for line in wanted if line not in text]
    raise AssertionError(f"metrics never showed {missing}; log: {tail(log)}")
