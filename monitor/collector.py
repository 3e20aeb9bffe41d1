"""Python's cyclic garbage collector, paused for bulk work on a month's records.

A month's report is millions of small objects (at 10,000 customers, hundreds of
thousands of incident lines, each a tuple of times, numbers and texts) that live until
the step that made them ends and hold no reference cycles. While they pile up, the
collector would walk them again and again, each time its young generation fills: at
10,000 customers a third of a close's or a report's CPU (measured:
``benchmarks/HISTORY.md``). Reading a month, computing, encoding or parsing its report holds
:data:`paused`; reference counting still frees everything let go, and any cycle left
meanwhile (by anything else in the process) is collected once it resumes. Holders may
overlap, in tasks and threads alike.

When the last holder leaves, the bulk work is over: its caches (:func:`bulk_cache`) are
emptied, and when the process's resident memory grew by :data:`GIVE_BACK` or more
meanwhile, the memory freed is given back to the system: a full collection (it also empties
the interpreter's free lists of tuples, floats, dicts, whose few objects keep Python's
memory arenas from being freed) and glibc's ``malloc_trim``. The objects that lived before
the first holder came are frozen meanwhile (``gc.freeze``) and given back to the collector's
care after (``gc.unfreeze``): that collection walks what the bulk work made and kept, not
the whole process (at 10,000 customers configured 0.32 s of a month's close; the memory
given back the same, 332 MB resident after it either way); a cycle of theirs that became
garbage meanwhile waits for the collector's next full pass. A month's close at 10,000
customers left about 270 MB of the command's 420 resident after it (measured:
``benchmarks/HISTORY.md``): the 65,536 cached instants and the free lists' objects, made among the
month's records, kept the arenas those records used, and glibc kept the rest.

Bulk work done on a worker thread hands its result over (:func:`in_thread`) rather than
through the future ``asyncio.to_thread`` gives: that future keeps its result for as long as
it lives, and it lives until the collector frees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

__all__ = ["bulk_cache", "give_back", "in_thread", "paused"]

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")

#: Each bulk cache's ``cache_clear``.
_CACHES: list[Callable[[], None]] = []


def bulk_cache(function: Callable[[_K], _V]) -> Callable[[_K], _V]:
    """``function`` with a cache of 65,536 results for bulk work (a month's report repeats
    the same few instants per incident), emptied when the bulk work ends (:data:`paused`)."""
    cached = functools.lru_cache(maxsize=1 << 16)(function)
    _CACHES.append(cached.cache_clear)
    return cached


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library)."""
    import ctypes  # only once some bulk work ends: not at every command's start

    try:
        return ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):
        return None


#: Resident memory grown during bulk work from which what it freed is given back (the full
#: collection takes about 0.3 s with 10,000 customers configured).
GIVE_BACK = 64 << 20


def _resident() -> int | None:
    """The process's resident memory in bytes (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _bulk_done(resident_before: int | None) -> None:
    """The bulk work's caches emptied; the memory it freed given back, if it grew."""
    for clear in _CACHES:
        clear()
    now = _resident()
    if resident_before is None or now is None or now - resident_before < GIVE_BACK:
        return
    gc.collect()
    give_back()


def give_back() -> None:
    """The C heap's free pages given back to the system (glibc's ``malloc_trim``; nothing
    with another C library): after bulk work; after the daemon's start-up and each reload,
    whose transient objects (the configuration's JSON, the probes' settings) leave free
    holes that glibc keeps otherwise (measured: a probe worker's 40,000 probes 237 -> 218
    MB); after a native library's work (Typst's layout of a long document's part,
    :func:`monitor.present.printed.typeset_long`)."""
    trim = _trim()
    if trim is not None:
        trim(0)


class _CollectorPause:
    """Python's cyclic garbage collector, paused while any holder needs it paused (threads
    and tasks alike) and then as it was before the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False
        self._resident: int | None = None  # when the first holder came

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
                gc.freeze()  # what lived before: not walked by the collection at the end
                self._resident = _resident()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                done = self._holders == 0
                if done and self._was_enabled:
                    gc.enable()
                resident = self._resident
            if done:  # outside the lock: a finalizer the collection runs may pause it again
                try:
                    _bulk_done(resident)
                finally:
                    gc.unfreeze()


#: ``with paused():`` the collector pauses, and resumes as it was when the last holder
#: leaves.
paused = _CollectorPause()



async def in_thread(function: Callable[..., _V], /, *args: object) -> _V:
    """``await asyncio.to_thread(function, *args)``, its result handed over to the caller
    alone. The future ``to_thread`` awaits keeps its result for as long as it lives, and
    the last one a task awaited lives until the collector frees it: a month's report of
    10,000 customers (400,000 objects) outlived its use by the HTTP API until the next full
    collection, which walked and freed it at once, holding the GIL for 0.3 s (the daemon's
    event loop with it; 0.05 s once the report is let go first). Here the future's result
    is a list, emptied as it is handed over."""
    box = await asyncio.to_thread(lambda: [function(*args)])
    return box.pop()
