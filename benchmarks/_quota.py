"""A CPU quota for the processes a benchmark starts: what a monitor gets on a busy host.

``CpuQuota(0.8)`` makes a control group that may use 80 % of one CPU, its processes
together (the kernel's CFS bandwidth control); ``add(pid)`` moves a process in, and the
children it starts afterwards (a daemon's probe workers) are in it too. cgroup v2 (the
``cpu`` controller at ``/sys/fs/cgroup``) or v1 (``/sys/fs/cgroup/cpu``); it needs root
(or a delegated group). The group is removed at the end; its processes must be gone by
then.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

PERIOD_US = 100_000
_V2 = Path("/sys/fs/cgroup")
_V1 = Path("/sys/fs/cgroup/cpu")


class CpuQuota:
    def __init__(self, cpus: float) -> None:
        most = os.cpu_count() or 1
        if not 0.01 <= cpus <= most:
            raise ValueError(f"a CPU quota from 0.01 to {most} CPUs, not {cpus:g}")
        self.cpus = cpus
        self.group: Path | None = None

    def __enter__(self) -> CpuQuota:
        name = f"sla-bench-{os.getpid()}"
        quota = int(self.cpus * PERIOD_US)
        controllers = _V2 / "cgroup.controllers"
        try:
            if controllers.exists() and "cpu" in controllers.read_text().split():
                self.group = _V2 / name
                self.group.mkdir()
                (self.group / "cpu.max").write_text(f"{quota} {PERIOD_US}\n")
            elif _V1.is_dir():
                self.group = _V1 / name
                self.group.mkdir()
                (self.group / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
                (self.group / "cpu.cfs_quota_us").write_text(f"{quota}\n")
            else:
                raise SystemExit("--cpu-quota: no cgroup cpu controller found "
                                 f"({_V2} v2 or {_V1} v1)")
        except PermissionError as error:
            raise SystemExit(f"--cpu-quota needs root (or a delegated cgroup): {error}") from None
        return self

    def add(self, pid: int) -> None:
        assert self.group is not None
        (self.group / "cgroup.procs").write_text(f"{pid}\n")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.group is None:
            return
        for _ in range(50):  # the last processes may take a moment to be reaped
            try:
                self.group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        self.group = None
