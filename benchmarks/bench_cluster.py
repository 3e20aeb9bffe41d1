"""Probes per second with one and with several nodes of a cluster on one PostgreSQL, and
the faults a cluster survives, timed (``--faults``).

Run: ``python benchmarks/bench_cluster.py --json cluster.json`` (with the venv's python; about
two minutes). ``--pg-url`` (default ``$SLA_MONITOR_TEST_PG_URL``) is a PostgreSQL server where
a database is created for the run and dropped after it; ``--targets`` (default 1000) targets at
``--interval`` (default 2 s) on a local nginx (``/t/00042``, ``200 ok``), ``timeout`` 1 s,
``lease_timeout`` 10 s.

For each scenario (``1 node``, then ``--nodes`` nodes, default 2, on the same database and the
same targets; ``--nodes 3 --targets 30000 --interval 60`` takes about eight minutes) the
**installed** ``sla-monitor run`` daemons start, the benchmark waits until the nodes' leases
cover every target (``/readyz``), lets ``--warmup`` seconds pass, then measures a window of
``--duration`` seconds:

* probes per second: the increase of ``sla_monitor_probe_results_total`` over all nodes;
* CPU of each node (utime + stime of the daemon and its descendants, from /proc), in percent
  of one CPU, and CPU-seconds per 1,000 probes of all nodes together;
* the database's CPU: the PostgreSQL backends serving the run's database (``pg_stat_activity``,
  /proc of those pids, on this machine), in percent of one CPU and per 1,000 probes;
* others % (the rest of the machine's busy time: other helpers, the target server) and
  steal % (the hypervisor), in percent of one CPU: they show a disturbed measurement.

Both nodes share the machine's two cores (and the database): the second node adds no CPU,
it divides the same probes. Prints a table; ``--json PATH`` writes one object per scenario.
``--nodes N`` measures 1 node and then N nodes (default 2).

**Faults** (``--faults``): ``--nodes`` nodes (default 3) on one database, each reaching it
through a TCP relay of its own in this process (so that the database can be taken away), ``lease_timeout`` 10 s.
Each fault is made on a running, evenly divided cluster and timed from the fault, polling
``cluster_leases`` on the database directly every 0.1 s:

* ``divide``: the last nodes start while the first holds everything: from their
  ``/healthz`` answering (a node joins only once started) until each holds its fair share;
* ``SIGTERM``, ``SIGKILL``, ``SIGSTOP`` (outside a transaction: paused for 2.5 lease timeouts,
  then resumed) of the last node: until the others hold every target; its restart (or
  resumption) until the division is even again;
* ``partition``: the last node's relay drops every byte both ways for 25 s, its connections
  left open (no reset): until the others hold every target; healed, until even again;
* ``database away 5/20/40 s``: every relay cut (every connection reset, no new ones) and
  restored: from the restore until every target is held again, and the targets' unknown
  time then written (R-M3 per target: ``not_probed``, or ``node_lost``/``handover`` where
  another node took the lease; ``unknown_after`` 5 s, heartbeats every 2 s): rows and
  their mean length.

A fault's figure is ``None`` when its condition was not reached within 120 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from _targets import (
    CLOCK_TICKS,
    HOST,
    free_port,
    machine_cpu,
    scrape,
    stop_process,
    target_server,
    tree_cpu_times,
    wait_for_http,
)


def sla_monitor() -> str:
    script = Path(sys.executable).with_name("sla-monitor")
    if not script.is_file():
        raise SystemExit(f"{script} is missing: run with the venv's python after pip install .")
    return str(script)


def write_config(path: Path, *, node: str, port: int, db_url: str, base: str,
                 args: argparse.Namespace, unknown_after: str | None = None) -> None:
    monitor: dict[str, Any] = {"max_concurrency": 2000}
    if unknown_after is not None:  # the faults: short gaps become unknown time (R-M3)
        monitor.update(unknown_after=unknown_after, heartbeat_interval="2s")
    lines = [
        f"monitor: {json.dumps(monitor)}",
        f'http: {{listen: "{HOST}:{port}"}}',
        f"storage: {json.dumps({'url': db_url})}",
        f"cluster: {json.dumps({'node': node, 'lease_timeout': '10s'})}",
        "services:",
    ]
    probe = f"interval: {args.interval:g}, timeout: 1"
    lines += [
        f'  - {{id: t{i:05d}, kind: mobile_api, probe: {{type: http, '
        f'url: "{base}/t/{i:05d}", {probe}}}}}'
        for i in range(args.targets)
    ]
    path.write_text("\n".join(lines) + "\n")


def _readyz(port: int) -> dict[str, Any]:
    """The node's /readyz document, also while it answers 503 (starting, or degraded)."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as answer:
        return json.loads(answer.read() or b"{}")


def _held(port: int) -> int:
    return int(_readyz(port).get("cluster", {}).get("leases_held", 0))


def _probes(port: int) -> float:
    samples, _ = scrape(f"http://{HOST}:{port}/metrics", ("sla_monitor_probe_results_total",))
    return sum(samples.values())


def _pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def _backends(admin: str, database: str) -> list[int]:
    connection = await asyncpg.connect(admin)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def _db_cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = _pid_cpu(pid)
        except OSError:
            continue
    return found


def scenario(nodes: int, args: argparse.Namespace, db_url: str, admin: str, database: str,
             base: str, workdir: Path) -> dict[str, Any]:
    daemons = []
    try:
        for index in range(nodes):
            node = f"node-{index + 1}"
            port = free_port()
            config = workdir / f"{node}-{nodes}.yaml"
            write_config(config, node=node, port=port, db_url=db_url, base=base, args=args)
            log = (workdir / f"{node}-{nodes}.log").open("ab")
            process = subprocess.Popen([sla_monitor(), "-c", str(config), "run"],
                                       stdout=log, stderr=subprocess.STDOUT)
            daemons.append((node, port, process))
        for _, port, process in daemons:
            wait_for_http(f"http://{HOST}:{port}/healthz", 120, process)
        deadline = time.monotonic() + args.ready_within
        while sum(_held(port) for _, port, _ in daemons) != args.targets:
            if time.monotonic() > deadline:
                raise RuntimeError("the nodes' leases never covered every target")
            time.sleep(0.5)
        time.sleep(args.warmup)
        held = {node: _held(port) for node, port, _ in daemons}
        pids = asyncio.run(_backends(admin, database))
        db_before = _db_cpu(pids)
        probes_before = sum(_probes(port) for _, port, _ in daemons)
        cpu_before = {node: sum(tree_cpu_times(p.pid)) for node, _, p in daemons}
        busy_before, steal_before = machine_cpu()
        started = time.monotonic()
        time.sleep(args.duration)
        elapsed = time.monotonic() - started
        busy_after, steal_after = machine_cpu()
        cpu = {node: sum(tree_cpu_times(p.pid)) - cpu_before[node] for node, _, p in daemons}
        probes = sum(_probes(port) for _, port, _ in daemons) - probes_before
        db_after = _db_cpu(pids)
        database_cpu = sum(db_after[p] - db_before[p] for p in db_after if p in db_before)
        nodes_cpu = sum(cpu.values())
        others = busy_after - busy_before - nodes_cpu - database_cpu
        per_k = 1000 / probes if probes else float("nan")
        return {
            "nodes": nodes,
            "targets": args.targets,
            "interval_s": args.interval,
            "window_s": round(elapsed, 1),
            "probes_per_s": round(probes / elapsed, 1),
            "owed_probes_per_s": round(args.targets / args.interval, 1),
            "leases_held": held,
            "node_cpu_percent": {n: round(100 * c / elapsed, 1) for n, c in cpu.items()},
            "nodes_cpu_s_per_1k": round(nodes_cpu * per_k, 3),
            "database_cpu_percent": round(100 * database_cpu / elapsed, 1),
            "database_cpu_s_per_1k": round(database_cpu * per_k, 3),
            "database_backends": len(db_after),
            "others_busy_percent": round(100 * max(0.0, others) / elapsed, 1),
            "steal_percent": round(100 * (steal_after - steal_before) / elapsed, 1),
        }
    finally:
        for _, _, process in daemons:
            stop_process(process, within=30)


async def _create(admin: str, database: str, drop: bool = False) -> None:
    connection = await asyncpg.connect(admin)
    try:
        if drop:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        else:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


def print_table(results: list[dict[str, Any]]) -> None:
    header = ("nodes", "probes/s (owed)", "CPU % per node", "nodes CPU-s/1k",
              "DB CPU %", "DB CPU-s/1k", "others %", "steal %")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in results:
        per_node = ", ".join(f"{n} {v}" for n, v in r["node_cpu_percent"].items())
        print(" | ".join(str(v) for v in (
            r["nodes"], f'{r["probes_per_s"]} ({r["owed_probes_per_s"]})', per_node,
            r["nodes_cpu_s_per_1k"], r["database_cpu_percent"], r["database_cpu_s_per_1k"],
            r["others_busy_percent"], r["steal_percent"])))


# --- faults -------------------------------------------------------------------------------------


class Relay:
    """A TCP relay on 127.0.0.1 to the database, in a thread of its own: ``cut()`` closes the
    listener and resets every connection, ``restore()`` listens again on the same port.
    ``partition()`` drops every byte both ways and leaves the connections open (a network
    partition: no reset, the peer hears nothing); ``heal()`` resets the connections that
    lived through it (as TCP keepalive finally would) and forwards again."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.upstream, self.port = host, port, free_port()
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.dropping = False
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def partition(self) -> None:
        self.dropping = True

    def heal(self) -> None:
        async def reset() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
            self.dropping = False
        self._run(reset())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def restore(self) -> None:
        async def listen() -> None:
            self._server = await asyncio.start_server(self._relay, HOST, self.port)
        self._run(listen())

    def cut(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                for writer in list(self._writers):
                    writer.transport.abort()
                self._writers.clear()
                await self._server.wait_closed()
                self._server = None
        self._run(close())

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    if not self.dropping:
                        target.write(data)
                        await target.drain()
            except OSError:
                pass
            finally:
                target.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


class Watcher:
    """The database's view of the cluster, read directly (never through the relay)."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.loop = asyncio.new_event_loop()

    def held(self) -> dict[str, int]:
        """Node -> live target leases it holds."""
        rows = self.loop.run_until_complete(self._fetch(
            "SELECT node, count(*) AS n FROM cluster_leases WHERE name LIKE 'probe/%' "
            "AND node IS NOT NULL AND expires_at > now() GROUP BY node"))
        return {row["node"]: int(row["n"]) for row in rows}

    def target_unknown(self) -> tuple[int, float]:
        """Rows and total seconds of the targets' unknown time written so far (R-M3 per
        target: ``not_probed`` by a node that held the lease again at its epoch,
        ``node_lost``/``handover`` by one that took it at a new epoch)."""
        rows = self.loop.run_until_complete(self._fetch(
            "SELECT count(*) AS n, coalesce(sum(extract(epoch FROM \"end\" - start)), 0) AS s "
            "FROM unknown_intervals WHERE target_id IS NOT NULL"))
        return (int(rows[0]["n"]), float(rows[0]["s"])) if rows else (0, 0.0)

    async def _fetch(self, query: str) -> list[Any]:
        connection = await asyncpg.connect(self.admin)
        try:
            return list(await connection.fetch(query))
        except asyncpg.UndefinedTableError:
            return []  # the first node has not created the schema yet
        finally:
            await connection.close()

    def until(self, condition: Any, within: float = 120.0) -> float | None:
        """Seconds until ``condition(held)`` holds (polled every 0.1 s), or None."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            if condition(self.held()):
                return round(time.monotonic() - started, 1)
            time.sleep(0.1)
        return None


def _even(targets: int, nodes: list[str]) -> Any:
    share = targets // len(nodes)
    return lambda held: (sum(held.get(n, 0) for n in nodes) == targets
                         and all(held.get(n, 0) >= share for n in nodes))


def _covered(targets: int, nodes: list[str]) -> Any:
    return lambda held: sum(held.get(n, 0) for n in nodes) == targets


def faults(args: argparse.Namespace, db_url: str, admin: str, base: str,
           workdir: Path) -> list[dict[str, Any]]:
    from sqlalchemy.engine import make_url

    real = make_url(db_url)
    watcher = Watcher(make_url(admin).set(database=real.database).render_as_string(
        hide_password=False))
    names = [f"node-{i + 1}" for i in range(args.nodes)]
    ports = {name: free_port() for name in names}
    relays = {name: Relay(real.host or HOST, real.port or 5432) for name in names}
    for relay in relays.values():
        relay.restore()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    results: list[dict[str, Any]] = []

    def start(name: str) -> None:
        config = workdir / f"{name}-faults.yaml"
        relayed = real.set(host=HOST, port=relays[name].port).render_as_string(
            hide_password=False)
        write_config(config, node=name, port=ports[name], db_url=relayed, base=base, args=args,
                     unknown_after="5s")
        log = (workdir / f"{name}-faults.log").open("ab")
        processes[name] = subprocess.Popen([sla_monitor(), "-c", str(config), "run"],
                                           stdout=log, stderr=subprocess.STDOUT)

    def started(*started_names: str) -> None:
        """Until each answers on /healthz: it joins the cluster only once started."""
        for name in started_names:
            wait_for_http(f"http://{HOST}:{ports[name]}/healthz", 300, processes[name])

    def record(fault: str, measured: str, seconds: float | None, **more: Any) -> None:
        results.append({"fault": fault, "measured": measured, "seconds": seconds,
                        "nodes": args.nodes, "targets": args.targets,
                        "interval_s": args.interval, "lease_timeout_s": 10.0, **more})
        print(f"{fault}: {measured}: {seconds} s {more or ''}", flush=True)

    last, others = names[-1], names[:-1]
    try:
        start(names[0])
        started(names[0])
        record("start", "first node holds every target", watcher.until(
            _covered(args.targets, names[:1]), within=300))
        for name in names[1:]:
            start(name)
        started(*names[1:])
        record("divide", f"{len(names)} nodes each hold their share",
               watcher.until(_even(args.targets, names), within=300))
        for how, sig in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
            processes[last].send_signal(sig)
            record(how, "the others hold every target",
                   watcher.until(_covered(args.targets, others)))
            processes[last].wait(60)
            start(last)
            started(last)
            record(f"{how}: restart", "even again", watcher.until(_even(args.targets, names)))
        processes[last].send_signal(signal.SIGSTOP)
        paused = time.monotonic()
        record("SIGSTOP", "the others hold every target",
               watcher.until(_covered(args.targets, others)))
        time.sleep(max(0.0, 25.0 - (time.monotonic() - paused)))
        processes[last].send_signal(signal.SIGCONT)
        record("SIGSTOP: resumed", "even again", watcher.until(_even(args.targets, names)))
        relays[last].partition()
        parted = time.monotonic()
        record("partition", "the others hold every target",
               watcher.until(_covered(args.targets, others)))
        time.sleep(max(0.0, 25.0 - (time.monotonic() - parted)))
        relays[last].heal()
        record("partition: healed", "even again", watcher.until(_even(args.targets, names)))
        for away in args.database_away:
            rows_before, seconds_before = watcher.target_unknown()
            for relay in relays.values():
                relay.cut()
            time.sleep(away)
            for relay in relays.values():
                relay.restore()
            seconds = watcher.until(_covered(args.targets, names))
            waited = time.monotonic()  # the first probes after, then a flush (every 5 s)
            while time.monotonic() - waited < 30:
                rows, total = watcher.target_unknown()
                if rows - rows_before >= args.targets:
                    break
                time.sleep(1.0)
            new = rows - rows_before
            record(f"database away {away:g} s", "every target held again", seconds,
                   target_unknown_rows=new, target_unknown_mean_s=round(
                       (total - seconds_before) / new, 1) if new else None)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                stop_process(process, within=30)
        for relay in relays.values():
            relay.heal()
            relay.cut()
    return results


def print_faults(results: list[dict[str, Any]]) -> None:
    print("fault | measured | seconds | unknown rows (mean s)")
    print("--- | --- | --- | ---")
    for r in results:
        extra = (f'{r["target_unknown_rows"]} ({r["target_unknown_mean_s"]})'
                 if "target_unknown_rows" in r else "")
        print(f'{r["fault"]} | {r["measured"]} | {r["seconds"]} | {extra}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("SLA_MONITOR_TEST_PG_URL"))
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--nodes", type=int, default=None,
                        help="nodes of the cluster (default 2; with --faults 3)")
    parser.add_argument("--faults", action="store_true",
                        help="the fault scenarios instead of the throughput comparison")
    parser.add_argument("--ready-within", type=float, default=300.0,
                        help="seconds the nodes' leases may take to cover every target")
    parser.add_argument("--database-away", type=float, nargs="*", default=[5.0, 20.0, 40.0])
    args = parser.parse_args()
    if args.nodes is None:
        args.nodes = 3 if args.faults else 2
    if not args.pg_url:
        parser.error("--pg-url (or $SLA_MONITOR_TEST_PG_URL) is required: a PostgreSQL server")
    from sqlalchemy.engine import make_url

    url = make_url(args.pg_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    database = f"slamon_bench_{uuid.uuid4().hex[:10]}"
    db_url = url.set(database=database).render_as_string(hide_password=False)
    asyncio.run(_create(admin, database))
    results = []
    try:
        with target_server() as server, tempfile.TemporaryDirectory(
            prefix="bench-cluster-"
        ) as workdir:
            base = server.url("").rstrip("/")
            if args.faults:
                results = faults(args, db_url, admin, base, Path(workdir))
            else:
                for nodes in (1, args.nodes):
                    results.append(scenario(nodes, args, db_url, admin, database, base,
                                            Path(workdir)))
    finally:
        asyncio.run(_create(admin, database, drop=True))
    if args.faults:
        print_faults(results)
    else:
        print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
