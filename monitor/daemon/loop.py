"""Which event loop the daemon runs on (``monitor.event_loop``).

uvloop (libuv) runs the same asyncio code with its transports, sockets and timers in
C. Measured here for the daemon (``benchmarks/bench_probes.py --variant``), it costs
markedly less CPU per fresh-connection probe than asyncio's own selector loop; see
the README's "Benchmarks". It is a dependency on Linux (CPython); elsewhere, or with
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
from collections.abc import Callable

from monitor.errors import ConfigError, ConfigIssue

__all__ = ["give_back_memory", "loop_factory", "running_loop_name"]


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


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere
    nothing). Called after start-up and each reload, whose transient objects (the
    configuration's JSON, the probes' settings) leave free holes that glibc keeps
    otherwise: measured here, a probe worker's 40,000 probes 237 -> 218 MB."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc
