"""systemd service integration: readiness, reload, stop and watchdog notifications.

The protocol of ``sd_notify(3)`` in a few lines of our own (the ``sdnotify``
package is unmaintained): each notification is one datagram of
newline-separated ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract name written ``@name``).
Without ``$NOTIFY_SOCKET`` every call is a no-op, so the same daemon runs
under systemd, in a container or in a terminal.

What the daemon says, and when (see ``monitor/app.py``):

* ``READY=1`` and a ``STATUS=`` line once migrations ran, the scheduler
  started, the HTTP port is bound and the signal handlers are installed;
* ``RELOADING=1`` with ``MONOTONIC_USEC=`` when a SIGHUP reload begins, and
  ``READY=1`` when it ends, applied or refused (the ``STATUS=`` says which);
* ``STOPPING=1`` on SIGTERM/SIGINT;
* ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC`` (systemd's ``WatchdogSec=``),
  only while the probe scheduler makes progress (:class:`Watchdog`).

Notifications never stop the daemon: the socket is non-blocking, and a send
that fails is logged once per kind and dropped. ``$WATCHDOG_PID``, when set,
names the process the watchdog is meant for; another process (a child that
inherited the environment) does not ping. The variables are left in the
environment: the unit's ``NotifyAccess=main`` already ignores messages from
any other process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

STATUS_LIMIT = 200  # characters of a STATUS= line; systemctl status shows one line


class SystemdNotifier:
    """Sends ``sd_notify`` datagrams to ``address``; a no-op when ``address`` is None.

    >>> notifier = SystemdNotifier.from_environment({})
    >>> notifier.enabled, notifier.watchdog_interval, notifier.ready("idle")
    (False, None, False)
    """

    def __init__(self, address: str | None, watchdog_interval: float | None = None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_interval
        self._socket: socket.socket | None = None
        self._failed: set[str] = set()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """The notifier systemd asked for: ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC``/``_PID``."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        if address is not None and not address.startswith(("/", "@")):
            # systemd ≥ 253 can also pass vsock: addresses (VMs); not ours to use.
            log.warning(
                "NOTIFY_SOCKET ignored: only a path or an @abstract name is supported",
                extra={"notify_socket": address},
            )
            address = None
        return cls(address, _watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send one notification of ``KEY=VALUE`` lines; True when it was handed over."""
        if self.address is None:
            return False
        kind = assignments[0].split("=", 1)[0] if assignments else ""
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
            self._socket.sendto("\n".join(assignments).encode(), target)
        except OSError as exc:
            if kind not in self._failed:  # one line per kind, not one per watchdog period
                self._failed.add(kind)
                log.warning(
                    "systemd notification failed",
                    extra={"notification": kind, "error": exc.strerror or type(exc).__name__},
                )
            return False
        self._failed.discard(kind)
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", status_line(status))

    def reloading(self) -> bool:
        # MONOTONIC_USEC: systemd (≥ 253, Type=notify-reload) matches it to its own reload request.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", status_line("stopping"))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def status_line(text: str) -> str:
    """``STATUS=`` with ``text`` on one line (a newline would start a new assignment)."""
    flat = " ".join(text.split())
    if len(flat) > STATUS_LIMIT:
        flat = flat[: STATUS_LIMIT - 1] + "…"
    return f"STATUS={flat}"


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """systemd's watchdog timeout in seconds, or None when it is off or meant for another PID."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("WATCHDOG_USEC ignored: not a positive number", extra={"watchdog_usec": usec})
        return None
    return value / 1_000_000


class Watchdog:
    """``WATCHDOG=1`` every half of the watchdog timeout, while ``progress()`` advances.

    The ping is an asyncio task on the daemon's event loop, never a thread:
    a loop that is blocked (a C call that does not return, a write to a
    stalled log pipe, a runaway computation) runs no task, so no ping is
    sent and systemd restarts the service after ``WatchdogSec=``. A loop
    that runs while the probe scheduler is stuck is caught too: a ping is
    sent only when ``progress()`` (the probe tick's counter, which
    APScheduler advances every 50 ms) changed since the previous one.
    Database trouble does *not* stop the pings: a restart would not cure
    an unreachable database, and the daemon keeps what it saw for the next
    flush (SPEC section 8).
    """

    def __init__(
        self, notifier: SystemdNotifier, timeout: float, progress: Callable[[], int]
    ) -> None:
        self.notifier = notifier
        self.period = timeout / 2
        self.progress = progress
        self.pings = 0
        self.withheld = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="systemd-watchdog")

    async def _run(self) -> None:
        last = self.progress()
        stalled_since: float | None = None
        while True:
            await asyncio.sleep(self.period)
            current = self.progress()
            if current != last:
                last = current
                self.notifier.watchdog()
                self.pings += 1
                if stalled_since is not None:
                    log.warning(
                        "probe scheduler progressing again; watchdog pings resumed",
                        extra={"stalled_seconds": round(time.monotonic() - stalled_since, 1)},
                    )
                    stalled_since = None
                continue
            self.withheld += 1
            if stalled_since is None:
                stalled_since = time.monotonic() - self.period
                log.error(
                    "probe scheduler made no progress; watchdog ping withheld "
                    "(systemd restarts the service if this lasts the watchdog timeout)",
                    extra={"watchdog_seconds": self.period * 2},
                )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
