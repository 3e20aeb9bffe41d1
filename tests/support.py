"""The one module of helpers the test packages share (scenario data stays with its package:
``tests/notify/helpers.py``, ``tests/sla/builders.py``; servers come from the public
``monitor.testing``):

* polling: :func:`eventually`;
* the store: :func:`rows` from any handle (engine, session factory, ``Database``),
  also while a daemon subprocess has not created the schema yet; :func:`row_counts`,
  what "nothing changes" compares (SPEC section 8), in one round trip;
* probes: :func:`http_config`, :func:`tcp_config` validated like YAML, and
  :data:`MARGIN`, the slack allowed past a probe's deadline;
* the clock: :func:`closable_month`, a month a test can close at any wall-clock time;
* the daemon: sub-second probe settings (:data:`FAST`, :data:`MONITOR`), the installed
  console script, and the daemon as a subprocess (for signals and ``kill -9``);
  :func:`communicate_within`, a child's output awaited within a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.config.schema import HTTPProbe, TCPProbe
from monitor.probes.stalls import EVERY
from monitor.sla import Policy, month_containing, month_settled
from monitor.store import Database, session_factory

FAST = "interval: 0.4s, timeout: 0.3s, fail_after: 3, recover_after: 2"
MONITOR = "monitor: {heartbeat_interval: 0.2s, unknown_after: 1s}"

# A probe deadline is a correctness bound: the probe must end by then, plus scheduling slack.
MARGIN = 0.5


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 15.0, every: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        await asyncio.sleep(every)


Source = AsyncEngine | Database | async_sessionmaker[AsyncSession]


async def rows(source: Source, model: Any, *where: Any) -> list[Any]:
    """Rows of ``model`` in primary-key order; none while a daemon subprocess has not created
    the schema."""
    if isinstance(source, Database):
        source = source.engine
    sessions = source if isinstance(source, async_sessionmaker) else session_factory(source)
    query = select(model).where(*where).order_by(*model.__table__.primary_key.columns)
    try:
        async with sessions() as session:
            return list((await session.execute(query)).scalars())
    except DBAPIError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return []
        raise


async def row_counts(source: AsyncEngine | Database | str,
                     models: Sequence[Any]) -> dict[str, int]:
    """The number of rows of each of ``models`` (by class name), in one query; ``source`` may
    be a database URL (opened and closed here)."""
    query = select(*(select(func.count()).select_from(model).scalar_subquery()
                     for model in models))
    if isinstance(source, str):
        from monitor.store import create_engine

        engine = create_engine(source)
        try:
            return await row_counts(engine, models)
        finally:
            await engine.dispose()
    engine = source.engine if isinstance(source, Database) else source
    async with engine.connect() as connection:
        found = (await connection.execute(query)).one()
    return {model.__name__: int(count) for model, count in zip(models, found, strict=True)}


def closable_month(policy: Policy | None = None, now: dt.datetime | None = None) -> str:
    """The latest Gregorian month in UTC that can be closed at ``now`` (the wall clock's by
    default): last month, except in a month's first hours (2 h by the embedded ``policy``)
    while an incident of last month's last hours may still be notified in time (R-N1,
    :func:`monitor.sla.month_settled`), when it is the month before. Tests that closed
    "last month" failed in those hours ("this one can be closed from ...")."""
    policy = policy or Policy()
    at = now or dt.datetime.now(dt.UTC)
    period = month_containing(at, "gregorian", "UTC")
    while True:
        period = month_containing(period.start - dt.timedelta(seconds=1), "gregorian", "UTC")
        if at >= month_settled(period.end, policy):
            return period.label


async def communicate_within(process: asyncio.subprocess.Process, seconds: float
                             ) -> tuple[bytes, bytes]:
    """``process.communicate()`` within ``seconds`` (less than the test's own time limit, so
    that a child that hangs fails here), the child stopped however it ends: when the time
    limit struck first, the child was left running."""
    try:
        return await asyncio.wait_for(process.communicate(), timeout=seconds)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on, for a server a test starts later (a
    daemon given it in its configuration, a PostgreSQL of the test's own), or for a
    connection that must be refused. Chosen below the kernel's range of ephemeral ports:
    a port from that range, free when asked, can be given meanwhile to another parallel
    test's socket bound to port 0 or to an outgoing connection; one below it only to
    another test's pick of the same number (1 in thousands)."""
    low = int(_EPHEMERAL.read_text().split()[0]) if _EPHEMERAL.exists() else 32768
    pick = random.SystemRandom()
    for _ in range(1000):
        port = pick.randrange(max(1024, low - 16384), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # taken, or still in TIME_WAIT: another one
                continue
            return port
    raise RuntimeError(f"no free port of 127.0.0.1 below {low} in 1000 tries")


_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def http_config(url: str, **settings: Any) -> HTTPProbe:
    """An HTTP probe configuration, validated like one from YAML."""
    return HTTPProbe.model_validate({"type": "http", "url": url, **settings})


NOT_JUDGED = "not judged: this monitor's own process was held up "


def says_held_up_for(detail: str, stall: float) -> bool:
    """Whether a result's ``detail`` says this process was held up (R-M2's ``unknown``:
    :func:`monitor.probes.base.judged`) for the ``stall`` (seconds) a test made: at most
    :data:`~monitor.probes.stalls.EVERY` less (a stall is counted from when the stalls'
    wake-up was due), said to hundredths (half of one more)."""
    found = re.match(re.escape(NOT_JUDGED) + r"(\d+\.\d+) s meanwhile", detail)
    assert found is not None, detail
    return float(found.group(1)) >= stall - EVERY - 0.005 - 1e-9


def tcp_config(host: str, port: int, **settings: Any) -> TCPProbe:
    return TCPProbe.model_validate({"type": "tcp", "host": host, "port": port, **settings})


def sla_monitor_command() -> list[str]:
    """The installed console script of the venv running these tests: what operators run.

    Never ``python -m monitor`` with the checkout on ``PYTHONPATH``: a package missing
    from the wheel must fail here, as it fails for a user who ran ``pip install .``.
    """
    script = Path(sys.executable).with_name("sla-monitor")
    if not script.is_file():
        raise AssertionError(f"{script} is missing: install the project (pip install '.[test]')")
    return [str(script)]


class DaemonProcess:
    """``sla-monitor run`` as a real subprocess, for signals and ``kill -9``."""

    def __init__(
        self,
        config: Path,
        log: Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.log = log
        self.args = list(args)  # after ``run``, e.g. ("--log-level", "DEBUG")
        self.env = dict(env) if env is not None else None  # the environment, whole
        # Before the command, e.g. ("ip", "netns", "exec", NAME): a program that execs it,
        # so that the process signalled is still the daemon.
        self.prefix = list(prefix)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [*self.prefix, *sla_monitor_command(), "-c", str(self.config), "run", *self.args],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.config.parent,
            env=self.env,
        )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self._log_file.close()
        return code

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def catches(self, sig: int) -> bool:
        """Whether the process has a handler of ``sig`` installed (``SigCgt`` in its
        ``/proc`` status): sent before, a signal would have its default action."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines()
                          if line.startswith("SigCgt:")).split()[1], 16)
        return bool(caught & (1 << (sig - 1)))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            self.wait()


def editable_install_of(checkout: Path) -> bool:
    """Whether the installed ``sla-monitor`` is ``pip install -e`` of ``checkout``."""
    import json
    from importlib import metadata

    # Every distribution of the name on sys.path: `python -m pytest` puts the checkout
    # first, where setuptools' egg-info (no direct_url.json) would hide the installed one.
    for distribution in metadata.distributions(name="sla-monitor"):
        text = distribution.read_text("direct_url.json")
        if not text:
            continue
        found = json.loads(text)
        url = str(found.get("url", ""))
        if (found.get("dir_info", {}).get("editable") and url.startswith("file://")
                and Path(url[len("file://"):]).resolve() == checkout):
            return True
    return False


@contextlib.contextmanager
def report_reads(*columns: str) -> Iterator[list[str]]:
    """The statements reading a frozen revision's report (tens of megabytes at 10,000
    customers), or any of its ``columns`` when named, by any engine of this process (a
    daemon's own among them), while the block runs."""
    reads: list[str] = []
    wanted = [f"report_revisions.{column}" for column in columns or ("report",)]

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and any(
                column in statement for column in wanted):
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
