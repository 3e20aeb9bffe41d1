"""The installed ``sla-monitor run`` as systemd runs it (``Type=notify``, ``WatchdogSec=``,
stderr to the journal), with this test in systemd's place: a real ``AF_UNIX`` datagram socket
in $NOTIFY_SOCKET, $WATCHDOG_USEC of 1 s, and the daemon's stderr a pipe named by
$JOURNAL_STREAM.

**How the event loop is blocked, honestly.** Not with SIGSTOP (that stops the whole
process, whatever runs the pings) and not with a hidden debug switch in the product: the
test does what a stalled journald or log shipper does to a daemon, it stops reading the
daemon's stderr pipe and fills it. The daemon's next log line (the outage the test then
causes: "incident opened") blocks in ``write(2)`` on the event loop's thread, exactly as in
production. A watchdog fed from a thread would keep pinging through that; ours must go
silent, so that systemd restarts the service; when the pipe drains the loop resumes and
so do the pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, sla_monitor_command

WATCHDOG_USEC = 1_000_000  # systemd's WatchdogSec=1s: a ping is due every 0.5 s


class Notifications:
    """What systemd would receive: datagrams on a socket in ``directory``, with arrival times."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify"
        assert len(str(self.path)) < 100  # sun_path holds 108 bytes
        self.messages: list[tuple[float, str]] = []  # (time.monotonic(), text)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Notifications:
        self._socket.bind(str(self.path))
        self._socket.setblocking(False)
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._socket.close()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self._socket, 4096)
            self.messages.append((time.monotonic(), data.decode()))

    async def next(self, first_line: str, after: float, within: float = 30.0) -> tuple[float, str]:
        """The first message starting with ``first_line`` that arrived after ``after``."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for at, text in self.messages:
                if at > after and text.split("\n")[0] == first_line:
                    return at, text
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {first_line} within {within} s; got {self.messages}")

    def pings(self, start: float, end: float = float("inf")) -> list[float]:
        return [at for at, text in self.messages if text == "WATCHDOG=1" and start < at <= end]


class StderrPipe:
    """The daemon's stderr: a pipe this test drains on its loop, or stops draining and fills."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        # A second open file description of the write end, non-blocking for the filler only:
        # the daemon's own writes stay blocking, as on a real journal stream.
        self._filler = os.open(f"/proc/self/fd/{self.write_fd}", os.O_WRONLY | os.O_NONBLOCK)
        self.received = bytearray()

    @property
    def journal_stream(self) -> str:
        """What systemd puts in $JOURNAL_STREAM: the stream's device and inode."""
        status = os.fstat(self.write_fd)
        return f"{status.st_dev}:{status.st_ino}"

    def drain(self) -> None:
        asyncio.get_running_loop().add_reader(self.read_fd, self._read)

    def _read(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.received += os.read(self.read_fd, 1 << 16)

    def stall(self) -> None:
        """Stop reading and fill the pipe to the last byte: the next write blocks."""
        asyncio.get_running_loop().remove_reader(self.read_fd)
        for chunk in (b"\n" * 4096, b"\n"):  # newlines: blank lines among the log lines
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(self._filler, chunk)

    def lines(self) -> list[str]:
        return [line for line in self.received.decode(errors="replace").splitlines() if line]

    def close(self) -> None:
        with contextlib.suppress(ValueError, KeyError):
            asyncio.get_running_loop().remove_reader(self.read_fd)
        for fd in (self.read_fd, self.write_fd, self._filler):
            with contextlib.suppress(OSError):
                os.close(fd)


def config_text(url: str, db: Path, extra: str = "") -> str:
    return f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{url}", {FAST}}}
{extra}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "sqlite+aiosqlite:///{db}"}}
"""


@contextlib.contextmanager
def daemon_under_systemd(
    config: Path, notifications: Notifications, stderr: StderrPipe
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "LISTEN_FDS")}
    env.update(
        NOTIFY_SOCKET=str(notifications.path),
        WATCHDOG_USEC=str(WATCHDOG_USEC),
        JOURNAL_STREAM=stderr.journal_stream,
    )
    process = subprocess.Popen(
        [*sla_monitor_command(), "-c", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=stderr.write_fd,
        cwd=config.parent,
        env=env,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


async def get(url: str, within: float = 2.0) -> int | None:
    """The status of GET ``url``; None when nothing answers within ``within`` seconds."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as http,
            http.get(url) as response,
        ):
            return response.status
    except (TimeoutError, aiohttp.ClientError):
        return None


async def until(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_ready_watchdog_reload_and_stop_as_systemd_sees_them(tmp_path: Path) -> None:
    db = tmp_path / "sla-monitor.db"
    config = tmp_path / "config.yaml"
    stderr = StderrPipe()
    try:
        async with (
            TargetServer() as target,
            Notifications(tmp_path) as notifications,
        ):
            config.write_text(config_text(target.url("/"), db))
            stderr.drain()
            started = time.monotonic()
            with daemon_under_systemd(config, notifications, stderr) as process:
                # --- READY=1: only once migrated, scheduling and bound ---------------------
                ready_at, ready = await notifications.next("READY=1", started)
                port_match = re.search(r"HTTP on 127\.0\.0\.1:(\d+)", ready)
                assert port_match, ready
                port = int(port_match.group(1))
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    pass  # the port accepted the connection the moment READY arrived
                base = f"http://127.0.0.1:{port}"
                assert await get(f"{base}/healthz") == 200
                assert await get(f"{base}/readyz") == 200  # database and scheduler
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                    assert connection.execute("SELECT version_num FROM alembic_version").fetchone()
                assert ready.split("\n")[1] == f"STATUS=monitoring 1 targets; HTTP on 127.0.0.1:{port}"
                assert [t for t, _ in notifications.messages if t < ready_at] == []

                # --- WATCHDOG=1 every half of WATCHDOG_USEC ----------------------------------
                await asyncio.sleep(2.2)
                pings = notifications.pings(ready_at)
                gaps = [b - a for a, b in itertools.pairwise(pings)]
                assert 3 <= len(pings) <= 6, pings  # 2.2 s / 0.5 s: 4, give or take one
                assert 0.35 <= statistics.median(gaps) <= 0.75, gaps

                # --- the loop blocked in a write to a stalled log pipe: no pings ------------
                stderr.stall()
                target.set_status(503)  # the daemon will log "incident opened", and block
                blocked_at = None
                unanswered = 0  # /healthz asked in a row without an answer within 0.5 s
                deadline = time.monotonic() + 15
                while blocked_at is None and time.monotonic() < deadline:
                    asked = time.monotonic()
                    if await get(f"{base}/healthz", within=0.5) is None:
                        unanswered += 1
                        if unanswered == 2:  # one alone may be a loaded machine's
                            blocked_at = asked + 0.5  # the loop has not answered for 0.5 s
                    else:
                        unanswered = 0
                        await asyncio.sleep(0.1)
                assert blocked_at is not None, "the daemon's loop never blocked"
                await asyncio.sleep(2.0)  # twice WatchdogSec: systemd would have restarted it
                released_at = time.monotonic()
                assert process.poll() is None  # alive, only blocked
                assert notifications.pings(blocked_at, released_at) == []

                # --- the pipe drains, the loop resumes, and so do the pings -----------------
                stderr.drain()
                await notifications.next("WATCHDOG=1", released_at, within=5)
                assert await get(f"{base}/healthz") == 200
                await until(
                    lambda: any("incident opened" in line for line in stderr.lines()),
                    5, "the blocked log line",
                )

                # --- SIGHUP: RELOADING=1 (+ MONOTONIC_USEC), then READY=1 ---------------------
                config.write_text(config_text(target.url("/"), db, extra="# reloaded"))
                sent_us = time.monotonic_ns() // 1000
                sent = time.monotonic()
                process.send_signal(signal.SIGHUP)
                reloading_at, reloading = await notifications.next("RELOADING=1", sent, 10)
                stamp = int(reloading.split("\n")[1].removeprefix("MONOTONIC_USEC="))
                assert sent_us <= stamp <= time.monotonic_ns() // 1000
                _, reloaded = await notifications.next("READY=1", reloading_at, 10)
                assert reloaded.endswith("; configuration reloaded")

                # A bad configuration: refused, and READY=1 all the same (the old one runs).
                config.write_text(config_text(target.url("/"), db, extra="bogus: 1"))
                sent = time.monotonic()
                process.send_signal(signal.SIGHUP)
                reloading_at, _ = await notifications.next("RELOADING=1", sent, 10)
                _, refused = await notifications.next("READY=1", reloading_at, 10)
                assert "; reload refused: " in refused and "unknown key 'bogus'" in refused
                assert "\n" not in refused.split("\n", 1)[1]  # READY=1, then one STATUS= line

                # --- SIGTERM: STOPPING=1, exit 0 ---------------------------------------------
                sent = time.monotonic()
                process.send_signal(signal.SIGTERM)
                await notifications.next("STOPPING=1", sent, 10)
                assert await asyncio.to_thread(process.wait, 30) == 0
            await asyncio.sleep(0.1)  # the last log lines
            stderr._read()
    finally:
        stderr.close()

    # --- stderr was the journal: every line is <priority> + one JSON event -----------------
    lines = stderr.lines()
    assert lines and all(re.match(r"<[0-7]>\{", line) for line in lines), lines[:3]
    events = {json.loads(line[3:])["event"]: line[:3] for line in lines}
    assert events["daemon started"] == "<6>"  # info
    assert events["incident opened"] == "<4>"  # warning
    assert events["configuration reload refused; the old one keeps running"] == "<3>"  # err
    assert events["daemon stopped"] == "<6>"


@pytest.mark.slow
def test_the_watchdog_abort_leaves_the_stuck_stack_in_the_log(tmp_path: Path) -> None:
    """systemd kills a daemon that stopped pinging with SIGABRT (WatchdogSignal=): the log
    (the journal) then holds every thread's Python stack, for the operator to see why."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f'http: {{listen: "127.0.0.1:0"}}\nstorage: {{url: "sqlite+aiosqlite:///{tmp_path}/db"}}\n'
    )
    log = tmp_path / "stderr"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*sla_monitor_command(), "-c", str(config), "run"],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 30
            while "daemon started" not in log.read_text():
                assert time.monotonic() < deadline and process.poll() is None, log.read_text()
                time.sleep(0.05)
            process.send_signal(signal.SIGABRT)
            assert process.wait(10) == -signal.SIGABRT
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    text = log.read_text()
    assert "Fatal Python error: Aborted" in text
    # Where each thread was: "Current thread ... (most recent call first):" and its frames.
    assert "Current thread" in text and "most recent call first" in text, text[-2000:]
    assert re.search(r'File "[^"]+\.py", line \d+ in \w+', text), text[-2000:]
