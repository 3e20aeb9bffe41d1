"""Which event loop the daemon runs on (``monitor.event_loop``).

uvloop (libuv) runs the same asyncio code with its transports, sockets and timers in
C. Measured here for the daemon (``benchmarks/bench_probes.py --variant``), it costs
markedly less CPU per fresh-connection probe than asyncio's own selector loop; see
``benchmarks/HISTORY.md``. It is a dependency on Linux (CPython); elsewhere, or with
``event_loop: asyncio``, the standard loop runs, with the same behaviour.

* ``auto`` (the default): uvloop when it can be imported, else asyncio's;
* ``uvloop``: uvloop or a configuration error at start (exit code 2);
* ``asyncio``: asyncio's own loop.

The setting is read at start; a reload does not change the loop.

>>> loop_factory("asyncio")
(None, 'asyncio')
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from monitor.errors import ConfigError, ConfigIssue

__all__ = ["ARENA_VARIABLE", "loop_factory", "one_allocator_arena",
           "running_loop_name"]

ARENA_VARIABLE = "MALLOC_ARENA_MAX"  # glibc's own: an operator's value is kept
_M_ARENA_MAX = -8  # mallopt's parameter (glibc's malloc.h)


def loop_factory(setting: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """The factory for ``asyncio.Runner`` (None: asyncio's own) and the loop's name."""
    if setting == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if setting == "uvloop":
            raise ConfigError(
                "monitor.event_loop",
                [
                    ConfigIssue(
                        "monitor.event_loop",
                        None,
                        "uvloop is not installed; install it (pip install uvloop, Linux and "
                        "macOS) or choose 'auto' or 'asyncio'",
                        setting,
                    )
                ],
            ) from None
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this coroutine runs on (for the start-up log)."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


def one_allocator_arena() -> bool:
    """Have glibc's ``malloc`` serve every thread of this process from one arena, as
    ``MALLOC_ARENA_MAX=1`` would; called first thing by ``sla-monitor run``, before any
    thread starts. True if set; False where the C library is not glibc, or when the
    operator's environment sets ``MALLOC_ARENA_MAX`` (glibc then follows it).

    By default glibc gives each thread that allocates an arena of its own (up to eight per
    core): the daemon's database thread builds a flush's rows and statements in its arena,
    the event loop's thread the results and scrapes in the main one, and neither can reuse
    what the other freed, so each keeps its own high-water mark. *Measured*
    (``bench_probes.py --targets 150000``, three alternated runs each,
    ``benchmarks/HISTORY.md``): the daemon's resident memory 464–529 → 438–449 MB (all processes
    3.92–4.35 → 3.75–3.82 KB per target), and 0.152–0.154 → 0.158–0.159 CPU-s per 1,000
    probes in the runs that kept pace (perhaps the database thread and the loop sharing one
    lock; later runs of the same code on the same idle machine varied far more than that).
    """
    libc = _glibc()
    if libc is None or ARENA_VARIABLE in os.environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, 1))


def _glibc() -> Any:
    """glibc's ``ctypes`` handle, or None on another C library (whose ``malloc`` is left as
    it is)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
