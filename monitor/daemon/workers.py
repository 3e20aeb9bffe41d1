"""Probe workers: child processes that probe a shard of the targets each (``monitor.probe_workers``).

One Python process probes on one core; most of its time goes to aiohttp's client
(measured, README "The runtime at scale"). With probe workers the probing is
spread over processes, and everything else stays in one place, the daemon:

    daemon (1 share + canaries) ─┬── detection, blindness (R-M2), history, metrics, e-mail
    worker 1..N (2 shares each) ─┘   (every result, whichever process probed it)

* **Fewest hops**: each worker gets its shard of the targets (by a stable hash of the
  target id, so a reload keeps a target where it was; the daemon probes one share, each
  worker two, because the daemon also handles every result: measured, a daemon probing
  half of them was the busier process, and one probing none left the worker alone to fall
  behind; README "The runtime at scale") and schedules and probes it with
  the daemon's own code (:class:`~monitor.daemon.scheduler.ProbeSchedule`, aiohttp, a
  fresh connection per probe); it streams each result as one compact JSON line; the
  daemon hands it to :meth:`Watch.handle` exactly as if it had probed it. Canaries
  (R-M2), the confirmation probes (a server checked at once, R-M4) and certificate
  checks run in the daemon.
* **Decision (``auto``)**: one worker when the configuration has more than
  :data:`AUTO_TARGETS` targets and the machine more than one CPU, else none (probing
  in the daemon, as before). The number is decided at start; a reload re-shards the
  targets over the same processes. ``monitor.max_concurrency`` is shared out between
  the processes equally. The daemon builds probe objects only for its shard, canaries and servers
  (:func:`probes_here`): the workers hold the others'.
* **Reload** (SIGHUP) is still prepare, then swap: each worker builds its new shard's
  probes and answers before anything is swapped; a refusal refuses the reload.
* **A worker that dies** (killed, crashed) is logged, counted
  (``sla_monitor_probe_worker_restarts_total``) and started again after a short
  back-off; the time its shard went unprobed is logged and added to
  ``sla_monitor_probe_worker_gap_seconds_total``. Its targets are not probed in that
  gap: no result, so no incident opens or closes on it (R-M3's "unknown", not "up"),
  and each target's stretch without a probe is its unknown time, measured from its last
  result, or, for one with none yet, from when the worker began probing its shard
  (``died``).
* **SIGTERM**: the daemon asks each worker to stop (running probes finish and their
  results are handled), then flushes the history as before. A worker whose daemon
  disappears (``kill -9``) sees its input close and exits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import time
import zlib
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from monitor.clock import Clock, SystemClock
from monitor.config.schema import PushProbe
from monitor.config.topology import Target
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.probe_worker import decode_result
from monitor.errors import MonitorError
from monitor.probes import ProbeResult

__all__ = [
    "AUTO_TARGETS", "ProbeWorkers", "Shard", "probes_here", "shard_for", "shard_of", "worker_count",
]

log = logging.getLogger(__name__)

#: ``probe_workers: auto`` starts a worker above this many targets (measured: one process
#: holds 35,000 at 30 s on this machine, but already spends half a core at 20,000).
AUTO_TARGETS = 10_000
#: Back-off before a dead worker is started again; doubled each time it dies within a
#: minute of starting, up to :data:`RESTART_MAX`.
RESTART_FIRST = 0.5
RESTART_MAX = 30.0
STOP_GRACE_EXTRA = 2.0
#: Shares of the targets each worker probes for the daemon's one (shard_of).
WORKER_SHARES = 2
#: A worker that has not built its shard by then refuses the reload.
PREPARE_TIMEOUT = 120.0
#: Bytes read from a worker's output at a time (its lines come in batches every 20 ms).
READ_SIZE = 256 * 1024

HandleResult = Callable[[ProbeResult], Coroutine[Any, Any, None]]
# Handles a result at once when nothing in it can wait; False: await HandleResult instead.
HandleNow = Callable[[ProbeResult], bool]


def worker_count(setting: int | str, targets: int, cpus: int | None) -> int:
    """Probe workers to start for ``monitor.probe_workers``.

    >>> worker_count("auto", 40_000, 2), worker_count("auto", 5_000, 2), worker_count(3, 10, 1)
    (1, 0, 3)
    """
    if setting == "auto":
        return 1 if targets > AUTO_TARGETS and (cpus or 1) >= 2 else 0
    return int(setting)


def shard_of(target_id: str, workers: int) -> int:
    """The process that probes ``target_id``: 0 the daemon, 1..workers a worker; a stable
    hash of its id. The daemon takes one share and each worker two (:data:`WORKER_SHARES`):
    the daemon also handles every result.

    >>> shard_of("panel", 1), shard_of("mobile", 1), shard_of("mobile", 3)
    (0, 1, 2)
    """
    share = zlib.crc32(target_id.encode()) % (1 + WORKER_SHARES * workers)
    return 0 if share == 0 else (share - 1) // WORKER_SHARES + 1


def shard_for(target: Target, workers: int) -> int:
    """The process whose scheduler probes ``target`` (:func:`shard_of`), the canaries
    always the daemon's (R-M2: its own view of its connectivity) and so are push targets
    (their pushes reach the daemon's HTTP edge, :mod:`monitor.probes.push`): what each
    worker is sent (:meth:`ProbeWorkers.split`) and whose targets a dead worker leaves
    unwatched."""
    return 0 if in_daemon(target) else shard_of(target.id, workers)


def in_daemon(target: Target) -> bool:
    """Whether ``target`` is always checked in the daemon: a canary or a push target."""
    return target.kind == "canary" or isinstance(target.probe, PushProbe)


class Shard:
    """A worker's shard as the lines sent to it, kept compressed: iterating gives the lines
    again, the same bytes in the same order. A worker started again is sent the same; the
    lines of its 26,700 targets at 40,000 are about 4.4 MB as they are and about 0.4 MB
    compressed (measured), and a shard is read only when a worker starts or a reload
    prepares it."""

    __slots__ = ("_count", "_deflate", "_packed", "_parts")

    def __init__(self) -> None:
        self._count = 0
        self._packed = b""
        self._parts: list[bytes] = []
        self._deflate: Any = zlib.compressobj(1)

    @classmethod
    def of(cls, lines: list[bytes]) -> Shard:
        shard = cls()
        for line in lines:
            shard.add(line)
        return shard.close()

    def add(self, line: bytes) -> None:
        """One more line (ending in a newline), compressed as it comes."""
        part = self._deflate.compress(line)
        if part:
            self._parts.append(part)
        self._count += 1

    def close(self) -> Shard:
        """No more lines: the shard is complete (and read as often as needed)."""
        if self._deflate is not None:
            self._parts.append(self._deflate.flush())
            self._packed = b"".join(self._parts)
            self._parts, self._deflate = [], None
        return self

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        """The lines, decompressed a piece at a time (never the whole shard at once)."""
        inflate = zlib.decompressobj()
        rest = b""
        packed = memoryview(self._packed)
        for start in range(0, len(packed), 16384):
            rest += inflate.decompress(packed[start : start + 16384])
            *lines, rest = rest.split(b"\n")
            for line in lines:
                yield line + b"\n"
        rest += inflate.flush()
        for line in rest.split(b"\n")[:-1]:
            yield line + b"\n"


def probes_here(workers: int) -> Callable[[Target], bool]:
    """With probe workers, the targets the daemon builds a probe for: its own shard, the
    canaries and push targets (:func:`in_daemon`) and the servers (R-M4: a server is
    checked at once before a project's incident would open)."""

    def here(target: Target) -> bool:
        return (target.kind == "server" or in_daemon(target)
                or shard_of(target.id, workers) == 0)

    return here


class _Slot:
    """One worker process and what it probes."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.committed = Shard().close()
        self.committed_at: dt.datetime | None = None  # when it began probing the shard
        self.answer: asyncio.Future[str | None] | None = None
        self.started_at = 0.0
        self.backoff = RESTART_FIRST
        self.alive = False


class ProbeWorkers:
    def __init__(
        self,
        count: int,
        handle: HandleResult,
        metrics: DaemonMetrics,
        hello: dict[str, Any],
        event_loop: str = "auto",
        log_level: str = "WARNING",
        daemon_stopping: Callable[[], bool] = lambda: False,
        handle_now: HandleNow = lambda result: False,
        died: Callable[[int, dt.datetime], None] = lambda shard, since: None,
        clock: Clock | None = None,
    ) -> None:
        self.daemon_stopping = daemon_stopping
        self.count = count
        self.handle = handle
        self.handle_now = handle_now
        # A worker died: its shard's number, and when that shard's probing began (R-M3).
        self.died = died
        # The daemon's clock, which stamps the results too (a step of the wall clock moves
        # neither, monitor.clock): when a shard's probing began is told in the same time.
        self.clock = clock or SystemClock()
        self.metrics = metrics
        self.hello = {"op": "hello", **hello}
        self.resolver = hello["resolver"]
        self.event_loop = event_loop
        self.log_level = log_level
        self.slots = [_Slot(number) for number in range(1, count + 1)]
        self._handling: set[asyncio.Task[None]] = set()
        self._restarting: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.results = 0

    # --- shards --------------------------------------------------------------------------------

    def split(self, targets: list[Target]) -> tuple[list[Target], list[Shard]]:
        """The daemon's own targets (its shard and the canaries) and each worker's shard, as
        the lines sent to it (kept as they are sent, compressed (:class:`Shard`): a worker
        started again is sent the same; bytes, about 150 a target, not the dicts, about 700
        a target, measured)."""
        own: list[Target] = []
        shards = [Shard() for _ in self.slots]
        for target in targets:
            shard = shard_for(target, self.count)
            if shard == 0:
                own.append(target)
            else:
                message = {
                    "op": "target",
                    "id": target.id,
                    "interval": target.probe.interval,
                    # Only what differs from the defaults: a line of about 100 bytes,
                    # not 500 (the worker validates it, defaults and all).
                    "probe": target.probe.model_dump(
                        mode="json", by_alias=True, exclude_defaults=True
                    ),
                }
                shards[shard - 1].add(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        return own, [shard.close() for shard in shards]

    # --- start, prepare, commit --------------------------------------------------------------

    async def start(self, shards: list[Shard]) -> None:
        for slot, shard in zip(self.slots, shards, strict=True):
            await self._spawn(slot)
            reason = await self._prepare_slot(slot, shard)
            if reason is not None:
                raise MonitorError(f"probe worker {slot.number} cannot probe its targets: {reason}")
            slot.committed, slot.committed_at = shard, self.clock.now()
            await self._send(slot, {"op": "commit"})

    async def prepare(
        self, shards: list[Shard], resolver: dict[str, Any] | None = None
    ) -> None:
        """Each worker builds its new shard (and resolver, when ``monitor.resolver`` changed);
        raises MonitorError (nothing changed) if one cannot."""
        if resolver is not None:
            self.resolver = resolver
        for slot, shard in zip(self.slots, shards, strict=True):
            if not slot.alive:
                continue  # being restarted: it starts with what is committed
            try:
                reason = await self._prepare_slot(slot, shard)
            except (ConnectionError, OSError):
                continue  # it died meanwhile: its restart takes the committed shard
            if reason is not None:
                self.abort()
                raise MonitorError(f"probe worker {slot.number} refused the reload: {reason}")

    def commit(self, shards: list[Shard]) -> None:
        for slot, shard in zip(self.slots, shards, strict=True):
            slot.committed, slot.committed_at = shard, self.clock.now()
            self._write(slot, {"op": "commit"})

    def abort(self) -> None:
        for slot in self.slots:
            self._write(slot, {"op": "abort"})

    async def _prepare_slot(self, slot: _Slot, shard: Shard) -> str | None:
        assert slot.process is not None and slot.process.stdin is not None
        slot.answer = asyncio.get_running_loop().create_future()
        stdin = slot.process.stdin
        stdin.write(json.dumps({"op": "prepare", "resolver": self.resolver}).encode() + b"\n")
        for index, line in enumerate(shard):
            stdin.write(line)
            if index % 1000 == 999:
                await stdin.drain()
        stdin.write(b'{"op":"end"}\n')
        await stdin.drain()
        try:
            return await asyncio.wait_for(slot.answer, PREPARE_TIMEOUT)
        except TimeoutError:
            return f"no answer within {PREPARE_TIMEOUT:g} s"

    def _write(self, slot: _Slot, message: dict[str, Any]) -> None:
        process = slot.process
        if slot.alive and process is not None and process.stdin is not None:
            try:
                process.stdin.write(json.dumps(message).encode() + b"\n")
            except (ConnectionError, OSError):
                pass  # it died: the restart takes the committed shard

    async def _send(self, slot: _Slot, message: dict[str, Any]) -> None:
        self._write(slot, message)
        if slot.process is not None and slot.process.stdin is not None:
            await slot.process.stdin.drain()

    async def _spawn(self, slot: _Slot) -> None:
        # No shell: the same interpreter, our own module (monitor.daemon.probe_worker).
        slot.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",  # never the current directory's modules: the installed package's
            "-m",
            "monitor.daemon.probe_worker",
            self.event_loop,
            self.log_level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        slot.alive = True
        slot.started_at = time.monotonic()
        await self._send(slot, self.hello)
        slot.reader = asyncio.get_running_loop().create_task(self._read(slot))
        log.info("probe worker started", extra={"worker": slot.number, "pid": slot.process.pid})

    # --- results -------------------------------------------------------------------------------

    async def _read(self, slot: _Slot) -> None:
        assert slot.process is not None and slot.process.stdout is not None
        await self.read_lines(slot.process.stdout, slot)
        await self._gone(slot)

    async def read_lines(self, stdout: asyncio.StreamReader, slot: _Slot) -> None:
        """A worker's lines until its output ends, each read of the pipe's whole lines parsed
        in one go (one ``json.loads`` of them all, not a ``readline`` and a ``json.loads``
        each): results, stats and answers (:mod:`monitor.daemon.probe_worker`)."""
        rest = b""
        while True:
            try:
                data = await stdout.read(READ_SIZE)
            except ConnectionError:
                data = b""
            if not data:
                break
            end = data.rfind(b"\n")
            if end < 0:
                rest += data
                continue
            lines = rest + data[:end] if rest else data[:end]
            rest = data[end + 1 :]
            for message in json.loads(b"[" + lines.replace(b"\n", b",") + b"]"):
                self._message(slot, message)

    def _message(self, slot: _Slot, message: list[Any] | dict[str, Any]) -> None:
        if isinstance(message, list):  # a batch of result rows
            handle_now = self.handle_now
            for row in message:
                self.results += 1
                result = decode_result(row)
                try:
                    if handle_now(result):
                        continue
                except Exception:  # as a task's would be: logged, the other results go on
                    log.exception("probe result handling failed",
                                  extra={"target": result.target_id})
                    continue
                # Otherwise one task per result, as when the daemon probed it: a result may
                # wait (a server confirmed at once, R-M4) without holding up the others.
                task = asyncio.get_running_loop().create_task(self.handle(result))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
            return
        op = message.get("op")
        if op == "stats":
            metrics = self.metrics
            if message["missed"]:
                metrics.scheduler_missed.inc(message["missed"])
            observe = metrics.scheduler_lateness.observe
            for late in message["late"]:
                observe(late)
        elif op in ("prepared", "refused") and slot.answer is not None:
            if not slot.answer.done():
                slot.answer.set_result(None if op == "prepared" else message["reason"])

    async def _gone(self, slot: _Slot) -> None:
        slot.alive = False
        process = slot.process
        assert process is not None
        code = await process.wait()
        if slot.answer is not None and not slot.answer.done():
            slot.answer.set_exception(ConnectionError("probe worker exited"))
        if code == 0 and not self._stopping:
            # A clean exit unasked: systemd's SIGTERM reaches the whole control group, and the
            # daemon's own stop follows at once; not a death to report.
            await asyncio.sleep(RESTART_FIRST)
        if self._stopping or self.daemon_stopping():
            return
        died_at = time.monotonic()
        if slot.committed_at is not None:
            self.died(slot.number, slot.committed_at)
        self.metrics.probe_worker_restarts.inc()
        log.error(
            "probe worker exited; starting it again",
            extra={"worker": slot.number, "pid": process.pid, "exit_code": code,
                   "targets": len(slot.committed)},
        )
        task = asyncio.get_running_loop().create_task(self._restart(slot, died_at))
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)

    async def _restart(self, slot: _Slot, died_at: float) -> None:
        if died_at - slot.started_at < 60.0:
            slot.backoff = min(slot.backoff * 2, RESTART_MAX)
        else:
            slot.backoff = RESTART_FIRST
        await asyncio.sleep(slot.backoff)
        while not self._stopping:
            try:
                await self._spawn(slot)
                shard = slot.committed
                reason = await self._prepare_slot(slot, shard)
            except (ConnectionError, OSError) as exc:
                log.error("probe worker could not be started", extra={"worker": slot.number,
                                                                      "error": str(exc)})
                await asyncio.sleep(RESTART_MAX)
                continue
            if reason is not None:  # a ca_file gone since: its targets stay unprobed
                log.error("probe worker refused its targets", extra={"worker": slot.number,
                                                                    "reason": reason})
            await self._send(slot, {"op": "commit"})
            if shard is not slot.committed:  # a reload came meanwhile
                continue
            gap = time.monotonic() - died_at
            self.metrics.probe_worker_gap_seconds.inc(gap)
            log.warning(
                "probe worker running again; its targets were not probed meanwhile",
                extra={"worker": slot.number, "pid": slot.process.pid if slot.process else None,
                       "gap_seconds": round(gap, 3), "targets": len(shard)},
            )
            return

    # --- stop ----------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """Each worker stops: its running probes finish and their results are handled."""
        self._stopping = True
        for task in list(self._restarting):
            task.cancel()
        for slot in self.slots:
            self._write(slot, {"op": "stop"})
        for slot in self.slots:
            process = slot.process
            if process is None:
                continue
            try:
                await asyncio.wait_for(process.wait(), grace + STOP_GRACE_EXTRA)
            except TimeoutError:
                log.warning("probe worker did not stop in time; killed",
                            extra={"worker": slot.number, "pid": process.pid})
                process.kill()
                await process.wait()
            if slot.reader is not None:
                await asyncio.gather(slot.reader, return_exceptions=True)
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=grace)

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process is not None and s.alive]


def cpus() -> int | None:
    """CPUs this process may run on (the affinity mask, as systemd's CPUAffinity sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count()
