"""Probes per second with one and with two nodes of a cluster on one PostgreSQL.

Run: ``python benchmarks/bench_cluster.py --json cluster.json`` (with the venv's python; about
two minutes). ``--pg-url`` (default ``$SLA_MONITOR_TEST_PG_URL``) is a PostgreSQL server where
a database is created for the run and dropped after it; ``--targets`` (default 1000) targets at
``--interval`` (default 2 s) on a local nginx (``/t/00042``, ``200 ok``), ``timeout`` 1 s,
``lease_timeout`` 10 s.

For each scenario (``1 node``, then ``2 nodes`` on the same database and the same targets) the
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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
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
                 args: argparse.Namespace) -> None:
    lines = [
        'monitor: {"max_concurrency": 2000}',
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
    with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=10) as response:
        return json.loads(response.read())


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
        deadline = time.monotonic() + 120
        while sum(_readyz(port)["cluster"]["leases_held"] for _, port, _ in daemons) \
                != args.targets:
            if time.monotonic() > deadline:
                raise RuntimeError("the nodes' leases never covered every target")
            time.sleep(0.5)
        time.sleep(args.warmup)
        held = {node: _readyz(port)["cluster"]["leases_held"] for node, port, _ in daemons}
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("SLA_MONITOR_TEST_PG_URL"))
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
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
            for nodes in (1, 2):
                results.append(scenario(nodes, args, db_url, admin, database, base,
                                        Path(workdir)))
    finally:
        asyncio.run(_create(admin, database, drop=True))
    print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
