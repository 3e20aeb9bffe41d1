"""The fault tests' tools (shared helpers: ``tests/support.py``): another process holding an
SQLite database locked, a small filesystem that can be filled or made read-only, a private
PostgreSQL server that can be restarted, and the scenario's configuration.

Each tool cleans up after itself: processes stopped, mounts undone, servers stopped."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, free_port


def scenario(target: TargetServer, sink: SMTPSink, db_url: str, extra: str = "") -> str:
    """One web panel probed every 0.4 s, one customer, the SMTP sink, operators."""
    return f"""
{MONITOR}
provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{target.url('/')}", {FAST}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    sites: [{{domain: acme.example}}]
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
{extra}
"""


# SQLite may answer "database is locked" at once, without its busy handler (in WAL mode, while
# another connection checkpoints or rebuilds the index): the locker tries again for 30 s.
LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            connection.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    connection.execute("COMMIT")
    print("released", flush=True)
""")


@contextmanager
def sqlite_locked(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds ``BEGIN EXCLUSIVE`` on ``database`` for ``seconds``; for a
    daemon in a process of its own (one in this event loop: :func:`sqlite_locked_awaited`)."""
    process = _locker(database, seconds)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        _unlocked(process)


@asynccontextmanager
async def sqlite_locked_awaited(database: Path,
                                seconds: float) -> AsyncIterator[subprocess.Popen[str]]:
    """:func:`sqlite_locked` for a daemon that runs in this event loop: the lock is awaited,
    so that a transaction of the daemon's, open when the locker starts, can end. Waited for
    with the loop blocked, neither gets the lock: the locker gave up after 30 s in CI."""
    process = _locker(database, seconds)
    try:
        assert process.stdout is not None
        assert (await asyncio.to_thread(process.stdout.readline)).strip() == "locked"
        yield process
    finally:
        await asyncio.to_thread(_unlocked, process)


def _locker(database: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", LOCKER, str(database), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def _unlocked(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)


def can_mount() -> str | None:
    """None when this process may mount a tmpfs, else why not (printed with the skip)."""
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    if shutil.which("mount") is None:
        return "no mount command"
    return None


@contextmanager
def small_filesystem(path: Path, size: str = "3m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path`` (root only), unmounted afterwards."""
    reason = can_mount()
    if reason is not None:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    try:
        yield path
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:  # a file still open somewhere: detach now, freed when it is closed
            subprocess.run(["umount", "-l", str(path)], check=True)


def fill(path: Path) -> Path:
    """Fill the filesystem of ``path`` to the last byte; returns the filler to delete."""
    filler = path / "filler"
    for size in (65536, 4096, 1):  # big writes first, then what is left, byte by byte
        try:
            with filler.open("ab", buffering=0) as file:
                while True:
                    file.write(b"\0" * size)
        except OSError:
            pass
    return filler


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file():
            return candidate
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PrivatePostgres:
    """A PostgreSQL server of this test's own (initdb in tmp_path, a port of its own), so that
    restarting it never touches the shared server other tests use. As root it runs as the
    ``postgres`` user, as ``.ci/run`` does."""

    def __init__(self, directory: Path, listen: str = "127.0.0.1", clients: str = "") -> None:
        """``listen``: the address it listens on; ``clients``: a network (CIDR) whose hosts
        may connect too (trusted), besides this host's own addresses."""
        binaries = _pg_bin()
        if binaries is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL binaries (initdb, pg_ctl) missing in CI")
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
        self.bin = binaries
        self.directory = directory
        self.data = directory / "data"
        self.listen = listen
        self.clients = clients
        self.port = free_port()
        self.started = False

    def _as_postgres(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            self.directory.chmod(0o700)
        done = self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U",
                                 "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        assert done.returncode == 0, done.stderr
        if self.clients:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.clients} trust\n")

    def start(self) -> None:
        options = (f"-c listen_addresses={self.listen} -p {self.port} -k {self.directory} "
                   "-c fsync=off")
        done = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                                 str(self.directory / "postgres.log"), "-o", options, "start")
        assert done.returncode == 0, done.stderr + done.stdout
        self.started = True

    def stop(self, mode: str = "fast") -> None:
        done = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode,
                                 "-w", "stop")
        assert done.returncode == 0, done.stderr + done.stdout
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{self.listen}:{self.port}/postgres"


@contextmanager
def private_postgres(listen: str = "127.0.0.1", clients: str = "") -> Iterator[PrivatePostgres]:
    """A :class:`PrivatePostgres` started, then stopped and removed. Not under pytest's
    tmp_path: its base directory is private to root, and the server runs as postgres."""
    base = Path(tempfile.mkdtemp(prefix="sla-monitor-pg-"))
    base.chmod(0o755)
    server = PrivatePostgres(base / "pg", listen=listen, clients=clients)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.started:
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class TcpProxy:
    """A TCP relay on 127.0.0.1 (port 0, kept across restarts) to ``host:port``: ``stop()``
    closes the listener and cuts every connection (the database unreachable, as a network
    cut or a stopped server looks to a client); ``start()`` listens again."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.upstream = host, port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

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
                    target.write(data)
                    await target.drain()
            except OSError:
                pass
            finally:
                target.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))
