"""What the probe benchmark runs and measures besides the daemon: the target server and /proc.

* :class:`Nginx`: nginx on 127.0.0.1 (one worker, ``daemon off``, no access log,
  ``200 ok`` for every path), run as ``nobody`` when we are root, in a
  temporary directory that goes away with it;
* :class:`AiohttpTarget`: the fallback when nginx is not installed, the same
  answer from an aiohttp server in a process of its own
  (``python benchmarks/_targets.py PORT`` runs it in the foreground);
* :class:`Dnsmasq`: dnsmasq answering every name of :data:`DNS_ZONE`, for DNS probes;
* :func:`cpu_times` / :func:`cpu_seconds` / :func:`rss_bytes`: utime, stime and
  VmRSS of a process (threads included; ``tree=True`` adds its live children,
  for nginx's worker); :func:`tree_cpu_times` / :func:`tree_rss_bytes`: the same
  for a process and all its descendants (the daemon and its probe workers, found
  by parent id in /proc, so that children of any thread count), with the CPU of
  children it already reaped; :func:`machine_cpu`: busy and stolen time of the machine;
* :func:`scrape`: the samples of chosen metric families from a Prometheus text page.

Every process started here is stopped by its ``with`` block, also on errors.
"""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"  # loopback only: the benchmark never probes anything else
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, within: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers at all (any status); fails if ``process`` dies first."""
    deadline = time.monotonic() + within
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {within:.0f} s") from None
            time.sleep(0.1)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of ``pid`` in seconds, all its threads together."""
    # Fields after the command name, which may contain spaces: utime and stime are 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_seconds(pid: int, tree: bool = False) -> float:
    """utime + stime of ``pid``; with ``tree``, plus its live children's (nginx's worker)."""
    total = sum(cpu_times(pid))
    if tree:
        total += sum(cpu_seconds(child, tree=True) for child in _children(pid))
    return total


def _stat_fields(pid: int) -> list[str]:
    # Fields after the command name, which may contain spaces: ppid is 1, utime and stime
    # 11 and 12, the reaped children's cutime and cstime 13 and 14.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def tree_pids(pid: int) -> list[int]:
    """``pid`` and every live descendant of it (by parent id, whatever thread started them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def tree_cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) seconds of ``pid`` and its descendants, including the children each
    of them already reaped (a probe worker that exited and was waited for)."""
    user = system = 0.0
    for member in tree_pids(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        user += (int(fields[11]) + int(fields[13])) / CLOCK_TICKS
        system += (int(fields[12]) + int(fields[14])) / CLOCK_TICKS
    return user, system


def tree_rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` and its descendants, summed (pages shared between them count twice)."""
    total = 0
    for member in tree_pids(pid):
        try:
            total += rss_bytes(member)
        except OSError:
            continue
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU-seconds of the whole machine since boot, all CPUs together.

    Busy is user + nice + system + irq + softirq; steal is time the hypervisor gave
    our virtual CPUs to someone else. Both show how disturbed a measurement was.
    """
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


def rss_bytes(pid: int, tree: bool = False) -> int:
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1]) * 1024
    if tree:
        total += sum(rss_bytes(child, tree=True) for child in _children(pid))
    return total


def scrape(url: str, families: tuple[str, ...]) -> tuple[dict[str, float], float]:
    """``{"name{labels}": value}`` for the sample lines of ``families`` (prefix match), and
    the middle of the request on ``time.monotonic()``: about when the values were read."""
    before = time.monotonic()
    with urllib.request.urlopen(url, timeout=60) as response:
        text = response.read().decode()
    middle = (before + time.monotonic()) / 2
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(families):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples, middle


def stop_process(process: subprocess.Popen[bytes], within: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after ``within`` seconds; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class _Target:
    """A target server process on ``HOST:port``; ``url(path)`` addresses it."""

    name = "target"
    process: subprocess.Popen[bytes]

    def __init__(self) -> None:
        self.port = free_port()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid, tree=True)

    def requests(self) -> int | None:
        """Requests served so far, as the server counts them (None: it does not)."""
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if getattr(self, "process", None) is not None:
            # nginx: SIGTERM is a fast shutdown (SIGQUIT would wait for connections).
            stop_process(self.process)
        shutil.rmtree(self._workdir, ignore_errors=True)


NGINX_CONF = """\
daemon off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
    server {{
        listen {host}:{port} backlog=4096;
        location / {{ return 200 "ok\\n"; }}
        location = /nginx-status {{ stub_status; }}
        location /f/ {{ return 503 "failing\\n"; }}
    }}
}}
"""


class Nginx(_Target):
    """nginx as an unprivileged foreground process (``nobody`` when started as root)."""

    name = "nginx"

    @staticmethod
    def available() -> bool:
        return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()

    def __enter__(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self._workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self._workdir, host=HOST, port=self.port))
        user = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self._workdir, nobody.pw_uid, nobody.pw_gid)
            user, group = nobody.pw_uid, nobody.pw_gid
        try:
            self.process = subprocess.Popen(
                [binary, "-p", str(self._workdir), "-c", str(conf), "-e", "stderr"],
                stdin=subprocess.DEVNULL,
                user=user,
                group=group if user is not None else None,
                extra_groups=[] if user is not None else None,
            )
            wait_for_http(self.url("/"), within=10, process=self.process)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self


    def requests(self) -> int | None:
        """nginx's own count of the requests it has read (``stub_status``), this one
        included: the probes it answered, counted where they arrive."""
        with urllib.request.urlopen(self.url("/nginx-status"), timeout=10) as response:
            text = response.read().decode()
        # "Active connections: 1\nserver accepts handled requests\n 5 5 7\n..."
        return int(text.splitlines()[2].split()[2])


class AiohttpTarget(_Target):
    """The same ``200 ok`` from aiohttp in its own process: costs far more CPU than nginx."""

    name = "aiohttp"

    def __enter__(self) -> AiohttpTarget:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.port)], stdin=subprocess.DEVNULL
        )
        try:
            wait_for_http(self.url("/"), within=20, process=self.process)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self


#: The zone the DNS target server answers: every name under it an A record of
#: :data:`DNS_ADDRESS`, every name under ``f.`` of it NXDOMAIN (a failing target).
DNS_ZONE = "bench.test"
DNS_ADDRESS = "192.0.2.1"


class Dnsmasq(_Target):
    """dnsmasq as a foreground authoritative answerer on ``HOST:port`` (UDP and TCP): the
    DNS probes' target server (``bench_probes.py --probe dns``). It reads no configuration
    file, no ``/etc/hosts`` and asks no upstream; dropping to ``nobody`` when root."""

    name = "dnsmasq"

    @staticmethod
    def available() -> bool:
        return shutil.which("dnsmasq") is not None or Path("/usr/sbin/dnsmasq").exists()

    def url(self, path: str) -> str:
        return f"dns://{HOST}:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> Dnsmasq:
        binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self.process = subprocess.Popen(
            [binary, "--keep-in-foreground", "--conf-file=/dev/null", f"--port={self.port}",
             f"--listen-address={HOST}", "--bind-interfaces", "--no-resolv", "--no-hosts",
             "--no-poll", "--pid-file=", "--log-facility=/dev/null", "--cache-size=0",
             "--dns-forward-max=10000", f"--address=/{DNS_ZONE}/{DNS_ADDRESS}",
             f"--address=/f.{DNS_ZONE}/"],
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait(within=10)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait(self, within: float) -> None:
        import dns.exception
        import dns.message
        import dns.query

        deadline = time.monotonic() + within
        question = dns.message.make_query(f"t.{DNS_ZONE}", "A")
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited with {self.process.returncode}")
            try:
                dns.query.udp(question, HOST, port=self.port, timeout=0.5)
                return
            except (dns.exception.DNSException, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dnsmasq did not answer within {within:.0f} s") from None
                time.sleep(0.1)


#: Any of the target servers.
TargetServer = Nginx | AiohttpTarget | Dnsmasq


def target_server() -> Nginx | AiohttpTarget:
    return Nginx() if Nginx.available() else AiohttpTarget()


def _serve_aiohttp(port: int) -> None:
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        if request.path.startswith("/f/"):  # a failing target (bench_probes --failing)
            return web.Response(status=503, text="failing\n")
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    _serve_aiohttp(int(sys.argv[1]))


def own_cpu(children: bool = False) -> float:
    """This process's CPU-seconds (and its waited-for children's, with ``children``)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    total = used.ru_utime + used.ru_stime
    if children:
        waited = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += waited.ru_utime + waited.ru_stime
    return total


class Load:
    """What happened over an interval, from when it was made to :meth:`figures`: the wall time, this process's CPU (all its threads; with ``children``
    its waited-for children's too), the rest of the machine's busy time (others: other
    processes, other sessions) and the hypervisor's steal, in seconds. The machine is
    shared: every figure is read beside its others and steal."""

    def __init__(self, children: bool = False) -> None:
        self.children = children
        self._wall = time.perf_counter()
        self._own = own_cpu(self.children)
        self._busy, self._steal = machine_cpu()

    def figures(self, besides: float = 0.0) -> dict[str, float]:
        """``besides``: CPU-seconds of processes that are part of the measurement (a
        daemon under test), not counted among others."""
        wall = time.perf_counter() - self._wall
        own = own_cpu(self.children) - self._own
        busy, steal = machine_cpu()
        return {"wall_s": wall, "cpu_s": own,
                "others_cpu_s": max(0.0, busy - self._busy - own - besides),
                "steal_s": steal - self._steal}


def timed(what: Callable[[], object], repeat: int, *, children: bool = False
          ) -> dict[str, float]:
    """``what()`` run ``repeat`` times: the median wall time and CPU (this process, and its
    children with ``children``), the rest of the machine's busy time over the same interval
    (others) and steal, in seconds; and the longest wall time."""
    runs = []
    for _ in range(repeat):
        load = Load(children)
        what()
        runs.append(load.figures())
    return {"wall_s": statistics.median(r["wall_s"] for r in runs),
            "max_wall_s": max(r["wall_s"] for r in runs),
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "others_cpu_s": statistics.median(r["others_cpu_s"] for r in runs),
            "steal_s": statistics.median(r["steal_s"] for r in runs)}
