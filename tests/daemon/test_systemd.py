"""sd_notify datagrams and the watchdog (monitor.daemon.systemd), on real AF_UNIX datagram
sockets: a path and an abstract name, as systemd passes them in $NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import doctest
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import monitor.daemon.systemd as systemd
from monitor.daemon.systemd import STATUS_LIMIT, SystemdNotifier, Watchdog, status_line


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    assert len(str(path)) < 100  # sun_path holds 108 bytes
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock``, as text."""
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        return messages
    finally:
        sock.settimeout(2.0)


def test_docstring_examples() -> None:
    assert doctest.testmod(systemd).failed == 0


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_environment({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.ready("x") is False and notifier.stopping() is False
    assert notifier.reloading() is False and notifier.watchdog() is False
    assert notifier._socket is None  # not even a socket was opened


def test_datagrams_to_a_path_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": path})
    before = time.monotonic_ns() // 1000
    assert notifier.ready("monitoring 3 targets")
    assert notifier.reloading()
    assert notifier.watchdog()
    assert notifier.stopping()
    after = time.monotonic_ns() // 1000
    ready, reloading, watchdog, stopping = (sock.recv(4096).decode() for _ in range(4))
    assert ready == "READY=1\nSTATUS=monitoring 3 targets"
    lines = reloading.split("\n")
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
    # The same CLOCK_MONOTONIC systemd reads, in microseconds.
    assert before <= int(lines[1].removeprefix("MONOTONIC_USEC=")) <= after
    assert watchdog == "WATCHDOG=1"
    assert stopping == "STOPPING=1\nSTATUS=stopping"
    notifier.close()


def test_datagrams_to_an_abstract_socket() -> None:
    name = f"sla-monitor-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    try:
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready("up")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"
        notifier.close()
    finally:
        sock.close()


def test_a_status_is_one_bounded_line() -> None:
    # A newline would start a new assignment: a reload error must not forge READY=1 or worse.
    assert status_line("reload refused:\n  line 3: x\nREADY=1") == (
        "STATUS=reload refused: line 3: x READY=1"
    )
    long = status_line("x" * 500)
    assert len(long) == len("STATUS=") + STATUS_LIMIT and long.endswith("…")


def test_a_vanished_socket_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING, logger="monitor.daemon.systemd"):
        assert [notifier.watchdog() for _ in range(3)] == [False, False, False]
    failures = [r for r in caplog.records if r.getMessage() == "systemd notification failed"]
    assert len(failures) == 1 and failures[0].__dict__["notification"] == "WATCHDOG"
    notifier.close()


def test_watchdog_settings_from_the_environment() -> None:
    assert SystemdNotifier.from_environment({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 30
    mine = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_environment(mine).watchdog_interval == 1.0
    # $WATCHDOG_PID names another process (we inherited the variables): not our watchdog.
    other = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier.from_environment(other).watchdog_interval is None
    for bad in ("0", "-5", "soon", ""):
        assert SystemdNotifier.from_environment({"WATCHDOG_USEC": bad}).watchdog_interval is None
    # vsock: addresses (systemd ≥ 253, for VMs) are not ours to use: disabled, not an error.
    assert not SystemdNotifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


@pytest.mark.slow
async def test_watchdog_pings_at_half_the_timeout_only_while_progress_advances(
    notify_socket: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The event loop runs throughout; only the progress counter stops (a stuck scheduler)."""
    sock, path = notify_socket
    notifier = SystemdNotifier(path, watchdog_interval=0.4)
    ticks = 0
    ticking = True

    async def scheduler() -> None:  # stands in for the probe tick: every 20 ms
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            if ticking:
                ticks += 1

    watchdog = Watchdog(notifier, 0.4, lambda: ticks)
    assert watchdog.period == 0.2
    ticker = asyncio.create_task(scheduler())
    with caplog.at_level(logging.WARNING, logger="monitor.daemon.systemd"):
        watchdog.start()
        await asyncio.sleep(1.1)  # 5 periods of 0.2 s
        progressing = received(sock)
        ticking = False
        # The period that saw the last ticks may still ping once, later than due when its
        # timers ran late (a loaded machine): drained until a period passes without one.
        for _ in range(10):
            await asyncio.sleep(0.25)
            if not received(sock):
                break
        await asyncio.sleep(1.0)  # the loop runs, the counter stands still
        stalled = received(sock)
        ticking = True
        await asyncio.sleep(0.5)
        resumed = received(sock)
        await watchdog.stop()
    ticker.cancel()
    assert progressing and set(progressing) == {"WATCHDOG=1"}
    assert 3 <= len(progressing) <= 6, progressing  # 1.1 s / 0.2 s: 5, give or take a late timer
    assert stalled == []
    assert watchdog.withheld >= 4
    assert resumed and set(resumed) == {"WATCHDOG=1"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("watchdog ping withheld" in m for m in messages) == 1  # once per stall
    assert any("watchdog pings resumed" in m for m in messages)
    notifier.close()
