"""The comparison: Prometheus' blackbox exporter doing the daemon's work, driven at the same rate.

* :class:`BlackboxExporter`: Debian's ``prometheus-blackbox-exporter`` on
  127.0.0.1 with a module per probe kind (``http``: the http prober,
  ``preferred_ip_protocol: ip4``; ``dns``: the dns prober asking a name of the DNS
  target server's zone over UDP, its A record checked), the probe timeout, in a
  temporary directory;
* the driver (``python benchmarks/_blackbox.py ...``, run in a process of its
  own so that its CPU is not the exporter's): what Prometheus would do, one
  ``GET /probe?module=http&target=URL`` (``module=dns&target=127.0.0.1:PORT``) per
  target and interval, spread evenly
  like the daemon's schedule, over keep-alive connections to the exporter. It
  stops by itself at ``--stop-at`` and prints a JSON summary of the probes that
  *completed* inside ``[--window-start, --window-end)`` (Unix times).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from _targets import (
    DNS_ADDRESS,
    DNS_ZONE,
    HOST,
    cpu_seconds,
    free_port,
    rss_bytes,
    stop_process,
    wait_for_http,
)

EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
#: One module per probe kind, named as the kind: what the daemon's probes of that kind do
#: (for dns, the zone's name asked over UDP, an A record holding its address).
CONFIG = """\
modules:
  http:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
  dns:
    prober: dns
    timeout: {timeout}s
    dns:
      transport_protocol: udp
      preferred_ip_protocol: ip4
      query_name: t.{zone}
      query_type: A
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_none_matches_regexp: ['.*\\t{address}$']
"""


def target_path(index: int, failing: bool = False) -> str:
    """The path of target ``index`` on the target server: distinct per target, like the daemon's;
    under ``/f/`` the server answers 503 (a failing target)."""
    return f"/{'f' if failing else 't'}/{index:05d}"


class BlackboxExporter:
    def __init__(self, timeout: float, module: str = "http") -> None:
        self.timeout = timeout
        self.module = module
        self.port = free_port()
        self._workdir = Path(tempfile.mkdtemp(prefix="bench-blackbox-"))

    @staticmethod
    def available() -> bool:
        return Path(EXPORTER).exists()

    def probe_url(self) -> str:
        return f"http://{HOST}:{self.port}/probe"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss_bytes(self) -> int:
        return rss_bytes(self.process.pid)

    def __enter__(self) -> BlackboxExporter:
        config = self._workdir / "blackbox.yml"
        config.write_text(CONFIG.format(timeout=self.timeout, zone=DNS_ZONE,
                                        address=DNS_ADDRESS))
        self.process = subprocess.Popen(
            [
                EXPORTER,
                f"--config.file={config}",
                f"--web.listen-address={HOST}:{self.port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            cwd=self._workdir,
        )
        try:
            wait_for_http(f"http://{HOST}:{self.port}/metrics", within=20, process=self.process)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if getattr(self, "process", None) is not None:
            stop_process(self.process)
        shutil.rmtree(self._workdir, ignore_errors=True)


async def drive(args: argparse.Namespace) -> dict[str, float]:
    import aiohttp

    step = args.interval / args.targets  # one probe every `step` seconds, targets in turn
    urls = [
        f"{args.exporter}?module={args.module}&target="
        + quote(args.target_base + target_path(i) if args.module == "http"
                else args.target_base.removeprefix("dns://").rstrip("/"), safe="")
        for i in range(args.targets)
    ]
    counts = {
        "ok": 0, "failed": 0, "errors": 0, "window_ok": 0, "window_failed": 0, "late": 0,
        "unfinished": 0,
    }
    semaphore = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def probe(session: aiohttp.ClientSession, url: str) -> None:
        async with semaphore:
            try:
                async with session.get(url) as response:
                    body = await response.read()
                success = response.status == 200 and b"\nprobe_success 1\n" in body
            except (aiohttp.ClientError, OSError):
                counts["errors"] += 1
                return
        done = time.time()
        counts["ok" if success else "failed"] += 1
        if args.window_start <= done < args.window_end:
            counts["window_ok" if success else "window_failed"] += 1

    timeout = aiohttp.ClientTimeout(total=args.timeout + 5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sequence = math.ceil(time.time() / step)  # due time = sequence × step, like the daemon
        while (now := time.time()) < args.stop_at:
            while sequence * step <= now + 0.025:
                if now - sequence * step > 1.0:
                    counts["late"] += 1
                task = asyncio.ensure_future(probe(session, urls[sequence % args.targets]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sequence += 1
            await asyncio.sleep(0.05)
        if tasks:
            await asyncio.wait(tasks, timeout=args.timeout + 10)
        # Probes still queued behind the semaphore (the driver or the exporter fell behind)
        # are counted, not started on a closed session.
        counts["unfinished"] = len(tasks)
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
    return {key: float(value) for key, value in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="drive the blackbox exporter (benchmark helper)")
    parser.add_argument("--exporter", required=True, help="the exporter's /probe URL")
    parser.add_argument("--target-base", required=True,
                        help="http://127.0.0.1:PORT, or dns://127.0.0.1:PORT (the nameserver)")
    parser.add_argument("--module", choices=("http", "dns"), default="http")
    parser.add_argument("--targets", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=2000)
    parser.add_argument("--window-start", type=float, required=True)
    parser.add_argument("--window-end", type=float, required=True)
    parser.add_argument("--stop-at", type=float, required=True)
    args = parser.parse_args()
    if not args.target_base.startswith((f"http://{HOST}:", f"dns://{HOST}:")):
        parser.error(f"--target-base must be on {HOST}")
    if args.stop_at - time.time() > 3600:
        parser.error("--stop-at is more than an hour away")
    print(json.dumps(asyncio.run(drive(args))))


if __name__ == "__main__":
    main()
