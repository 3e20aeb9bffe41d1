"""A probe worker: a child process that schedules and probes its shard of the targets.

Started by :class:`monitor.daemon.workers.ProbeWorkers` as ``python -m
monitor.daemon.probe_worker`` (no shell). It runs the same code as the daemon's
own probing (:class:`~monitor.daemon.scheduler.ProbeSchedule`, the probes of
:mod:`monitor.probes`: aiohttp, a fresh connection per probe, uvloop when the
configuration says so) and does nothing else: detection, blindness (R-M2),
storage and metrics stay in the daemon, which receives every result.

**Protocol**: one JSON value per line (``json.dumps`` never writes a raw newline),
both ways; nothing is unpickled. From the daemon, on standard input:

* ``{"op": "hello", ...}``: the shared settings (concurrency, resolver, body budget,
  the daemon's clock base so that both stamp the same times);
* ``{"op": "prepare"}``, then one ``{"op": "target", "id", "kind", "interval", "probe"}``
  per target of the shard, then ``{"op": "end"}``: every probe is built (a
  ``tls.ca_file`` that cannot be read fails it) and the worker answers
  ``{"op": "prepared"}`` or ``{"op": "refused", "reason"}``; nothing runs yet;
* ``{"op": "commit"}`` puts the prepared shard in force (prepare, then swap: a reload
  is never half-applied); ``{"op": "abort"}`` drops it;
* ``{"op": "stop"}`` or the end of standard input (the daemon is gone): stop starting
  probes, let running ones finish, send their results, exit.

To the daemon, on standard output: ``{"op": "prepared"}``/``{"op": "refused"}``, the
results of every few milliseconds as one line (an array of rows, see :func:`encode_result`),
and ``{"op": "stats", "missed": n, "late": [seconds...]}`` with the scheduler's figures
since the last one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import os
import signal
import sys
from typing import Any

from monitor.clock import SteadyClock
from monitor.config.schema import PROBE_MODELS, ResolverSettings
from monitor.probes import Probe, ProbeResult, ProbeSessions, build_probe

__all__ = ["decode_result", "encode_result", "main"]

# Results are written to the daemon in batches at most this often (seconds).
BATCH_EVERY = 0.02


def encode_result(result: ProbeResult) -> list[Any]:
    """The compact line of one result: an array, positions as in :func:`decode_result`."""
    cert = result.cert_not_after
    return [
        result.target_id,
        result.state,
        result.at.timestamp(),
        result.failure_class,
        result.detail,
        result.http_status,
        result.dns,
        result.connect,
        result.tls,
        result.first_byte,
        result.total,
        None if cert is None else cert.timestamp(),
    ]


def decode_result(row: list[Any]) -> ProbeResult:
    """A result line back into a :class:`ProbeResult` (the daemon's side)."""
    (target_id, state, at, failure_class, detail, status, dns, connect, tls, first_byte,
     total, cert) = row
    return ProbeResult(
        target_id=target_id,
        state=state,
        at=dt.datetime.fromtimestamp(at, dt.UTC),
        failure_class=failure_class,
        detail=detail,
        http_status=status,
        dns=dns,
        connect=connect,
        tls=tls,
        first_byte=first_byte,
        total=total,
        cert_not_after=None if cert is None else dt.datetime.fromtimestamp(cert, dt.UTC),
    )


class _Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class _Lateness:
    def __init__(self) -> None:
        self.values: list[float] = []

    def observe(self, value: float) -> None:
        self.values.append(round(value, 4))


class _SchedulerFigures:
    """What :class:`ProbeSchedule` reports, kept to be sent to the daemon."""

    def __init__(self) -> None:
        self.scheduler_missed = _Counter()
        self.scheduler_lateness = _Lateness()


class Worker:
    def __init__(self, hello: dict[str, Any], out: asyncio.StreamWriter) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from monitor.daemon.scheduler import ProbeSchedule

        base = hello.get("clock")  # the daemon's clock: both processes stamp the same times
        self.clock = clock = SteadyClock(base=tuple(base) if base is not None else None)
        self.out = out
        self.sessions = ProbeSessions(
            hello["max_concurrency"],
            clock=clock,
            resolver=ResolverSettings.model_validate(hello["resolver"]),
            max_body_memory=hello["max_body_memory"],
        )
        self.resolver_settings = hello["resolver"]
        self.new_resolver: tuple[dict[str, Any], Any] | None = None
        self.probes: dict[str, Probe] = {}
        self.configs: dict[str, int] = {}  # id -> a hash of the probe's configuration as sent
        self.prepared: tuple[dict[str, Probe], dict[str, int], list[tuple[str, float]]] | None
        self.prepared = None
        self.building: tuple[dict[str, Probe], dict[str, int], list[tuple[str, float]]]
        self.building = ({}, {}, [])
        self.problem: str | None = None
        self.pending: list[list[Any]] = []  # encode_result rows, sent as one line a batch
        self.figures = _SchedulerFigures()
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.schedule = ProbeSchedule(
            self.scheduler,
            self.run_probe,
            self.figures,  # type: ignore[arg-type]
            slot=hello.get("slot", 0.05),
            wall=clock.timestamp,
            limit=self.sessions.max_concurrency,
        )
        self.stopping = asyncio.Event()

    async def run_probe(self, target_id: str) -> None:
        probe = self.probes.get(target_id)
        if probe is not None:
            result = await probe.check()
            # Into the batch pending now: ``self.pending.append(... await ...)`` took the list
            # of when the probe began, and a batch sent meanwhile took the result with it unsent.
            self.pending.append(encode_result(result))

    def begin(self, resolver: dict[str, Any] | None = None) -> None:
        """A new shard begins: its targets come one line at a time (:meth:`add`)."""
        self.building = ({}, {}, [])
        self.problem = None
        self.new_resolver = None
        if resolver is not None and resolver != self.resolver_settings:
            try:
                settings = ResolverSettings.model_validate(resolver)
                self.new_resolver = (resolver, self.sessions.prepare_resolver(settings))
            except Exception as exc:
                self.problem = f"{type(exc).__name__}: {exc}"

    def add(self, line: bytes) -> None:
        """Build one target's probe as its line arrives (or keep the running one when its
        configuration did not change): nothing of the message outlives this call, so that
        40,000 of them never sit in memory at once (measured: 140 MB that the allocator
        then keeps)."""
        if self.problem is not None:
            return
        probes, configs, intervals = self.building
        try:
            target = json.loads(line)
            target_id = target["id"]
            probe = target["probe"]
            # A hash of the configuration as sent, to keep unchanged probes (not the text:
            # 20,000 of them would cost megabytes for a comparison).
            digest = hash(json.dumps(probe, sort_keys=True))
            configs[target_id] = digest
            intervals.append((target_id, float(target["interval"])))
            kept = self.probes.get(target_id)
            if kept is not None and self.configs.get(target_id) == digest:
                probes[target_id] = kept
                return
            kind = PROBE_MODELS[probe["type"]]
            probes[target_id] = build_probe(target_id, kind.model_validate(probe), self.sessions)
        except Exception as exc:
            self.problem = f"{type(exc).__name__}: {exc}"

    def end(self) -> str | None:
        """The shard is complete: the reason it cannot be probed, or None (prepared)."""
        building, self.building = self.building, ({}, {}, [])
        if self.problem is not None:
            return self.problem
        self.prepared = building
        return None

    def commit(self) -> None:
        if self.prepared is None:
            return
        self.probes, self.configs, intervals = self.prepared
        self.prepared = None
        if self.new_resolver is not None:
            self.resolver_settings, resolver = self.new_resolver
            self.sessions.use_resolver(resolver)
            self.new_resolver = None
        self.schedule.set_targets(intervals)
        # As in the daemon (monitor.app): long-lived probes out of the collector's sight.
        gc.collect()
        gc.freeze()
        from monitor.collector import give_back  # here: a worker imports what probing needs

        give_back()

    async def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message).encode() + b"\n")
        await self.out.drain()

    async def flush(self) -> None:
        figures = self.figures
        lines = []
        if self.pending:
            # One line, an array of the batch's rows: one json.dumps for them all.
            lines.append(json.dumps(self.pending, separators=(",", ":")))
            self.pending = []
        if figures.scheduler_missed.value or figures.scheduler_lateness.values:
            stats = {
                "op": "stats",
                "missed": figures.scheduler_missed.value,
                "late": figures.scheduler_lateness.values,
            }
            figures.scheduler_missed.value = 0
            figures.scheduler_lateness.values = []
            lines.append(json.dumps(stats, separators=(",", ":")))
        if lines:
            self.out.write(("\n".join(lines) + "\n").encode())
            await self.out.drain()

    async def flusher(self) -> None:
        while True:
            await asyncio.sleep(BATCH_EVERY)
            await self.flush()

    async def read_commands(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return  # the daemon is gone or closed our input: stop
            if line.startswith(b'{"op":"target"'):
                self.add(line)
                continue
            message = json.loads(line)
            op = message["op"]
            if op == "prepare":
                self.begin(message.get("resolver"))
            elif op == "end":
                reason = self.end()
                await self.send({"op": "prepared"} if reason is None
                                else {"op": "refused", "reason": reason})
            elif op == "commit":
                self.commit()
                if not self.scheduler.running:
                    self.scheduler.start()
                    self.schedule.start()
            elif op == "abort":
                self.prepared = None
            elif op == "stop":
                return

    async def run(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # systemd signals the whole control group: stop as for a "stop" from the daemon.
            loop.add_signal_handler(sig, self.stopping.set)
        flusher = loop.create_task(self.flusher())
        commands = loop.create_task(self.read_commands(reader))
        stopping = loop.create_task(self.stopping.wait())
        await asyncio.wait({commands, stopping}, return_when=asyncio.FIRST_COMPLETED)
        commands.cancel()
        stopping.cancel()
        grace = max((getattr(p, "_timeout", 5.0) for p in self.probes.values()), default=1.0)
        await self.schedule.stop(grace + 1.0)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        try:
            await self.flush()
        except (ConnectionError, OSError):
            pass  # the daemon is gone
        await self.sessions.close()


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(sys.stdout.fileno(), "wb", 0)
    )
    out = asyncio.StreamWriter(transport, protocol, None, loop)
    first = await reader.readline()
    if not first:
        return
    hello = json.loads(first)
    worker = Worker(hello, out)
    await worker.run(reader)
    transport.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m monitor.daemon.probe_worker EVENT_LOOP LOG_LEVEL`` (the daemon's settings)."""
    from monitor.daemon.loop import loop_factory
    from monitor.logs import setup_logging

    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads come from the daemon, never a hangup
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the loop's handler is in place
    setup_logging(args[1] if len(args) > 1 else "WARNING")
    factory, _ = loop_factory(args[0] if args else "auto")
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_main())


if __name__ == "__main__":
    main()
