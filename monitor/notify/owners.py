"""Who holds an outbox lease, and whether that process is still there.

An outbox row being sent carries ``claimed_by``, the name of the lease holder::

    {host}/{space}:{pid}:{start}:{nonce}-{sender}

* ``host``: this host's name, cut to 20 characters (for people reading the table);
* ``space``: 8 hex digits naming the *process space*, a hash of the host name, the kernel's
  boot id (``/proc/sys/kernel/random/boot_id``) and the PID namespace
  (``/proc/self/ns/pid``): processes whose pids can be compared with ours;
* ``pid`` and ``start``: the process and its start time (field 22 of ``/proc/PID/stat``,
  clock ticks since boot), so that a pid the kernel has given to another process since is
  not mistaken for the holder;
* ``nonce`` and ``sender``: which sender of that process (a daemon runs several, the CLI
  one).

*Decision: how "gone" is known.* A holder of **our process space** is gone when
``/proc/PID/stat`` does not exist, names a zombie, or gives another start time: its leases
are released at once by whoever finds them (:meth:`monitor.notify.outbox.OutboxWorker.
release_orphans`: the daemon at start and every few seconds, ``statement send`` before
and while it waits). A holder of **another process space** (another host of a cluster,
another container, an earlier boot, or a name of an older version) cannot be judged from
here: its leases run out as before (the outbox lease, 5 minutes by default). Where
``/proc`` is missing (not Linux), the start time is 0 and only the pid is checked.

*Under the systemd unit* (``ProcSubset=pid``, ``ProtectProc=invisible``) the daemon reads
no boot id, so its process space differs from that of a command run from a shell
(``statement send`` as root): each waits out the other's leases instead of judging them.
That is deliberate, and safe: under ``ProtectProc=invisible`` the daemon cannot see another
user's processes, so a ``/proc/PID`` it cannot read says nothing about whether the holder
is gone; judged in one space, a command's live lease would be taken for an orphan's.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessName", "alive", "this_process"]

PROC = Path("/proc")


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _space(host: str) -> str:
    try:
        namespace = str(os.stat(PROC / "self" / "ns" / "pid").st_ino)
    except OSError:
        namespace = ""
    boot = _read(PROC / "sys" / "kernel" / "random" / "boot_id")
    return hashlib.sha256(f"{host}|{boot}|{namespace}".encode()).hexdigest()[:8]


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot); None when there is no such
    process, or only its zombie; 0 where ``/proc`` does not say."""
    if not (PROC / "self" / "stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0
    stat = _read(PROC / str(pid) / "stat")
    if not stat:
        return None
    # "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return int(fields[19])


@dataclass(frozen=True, slots=True)
class ProcessName:
    """This process as a lease holder: ``prefix`` (its process space) and ``name``."""

    prefix: str  # "{host}/{space}:", shared by every process whose pids we can check
    pid: int
    start: int
    nonce: str

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.pid}:{self.start}:{self.nonce}"


def this_process() -> ProcessName:
    """This process's name as a lease holder (a new nonce each call)."""
    host = socket.gethostname()[:20].replace(":", "_").replace("/", "_")
    pid = os.getpid()
    return ProcessName(f"{host}/{_space(host)}:", pid, start_ticks(pid) or 0,
                       uuid.uuid4().hex[:6])


def alive(holder: str, prefix: str) -> bool:
    """Whether the process holding a lease as ``holder`` may still run: False only for a
    holder of our process space (``prefix``) whose process is gone (see the module)."""
    if not holder.startswith(prefix):
        return True  # not ours to judge: its lease runs out
    parts = holder[len(prefix):].split(":")
    if len(parts) < 3 or not (parts[0].isascii() and parts[0].isdigit()
                              and parts[1].isascii() and parts[1].isdigit()):
        return True
    pid, start = int(parts[0]), int(parts[1])
    found = start_ticks(pid)
    if found is None:
        return False
    return found == start or found == 0 or start == 0
