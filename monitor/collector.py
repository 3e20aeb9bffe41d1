"""Python's cyclic garbage collector, paused for bulk work on a month's records.

A month's report is millions of small objects (at 10,000 customers, hundreds of
thousands of incident lines, each a tuple of times, numbers and texts) that live until
the step that made them ends and hold no reference cycles. While they pile up, the
collector would walk them again and again, each time its young generation fills: at
10,000 customers a third of a close's or a report's CPU (measured: the README's
"Benchmarks"). Reading a month, computing, encoding or parsing its report holds
:data:`paused`; reference counting still frees everything let go, and any cycle left
meanwhile (by anything else in the process) is collected once it resumes. Holders may
overlap, in tasks and threads alike.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["paused"]


class _CollectorPause:
    """Python's cyclic garbage collector, paused while any holder needs it paused (threads
    and tasks alike) and then as it was before the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._was_enabled:
                    gc.enable()


#: ``with paused():`` the collector pauses, and resumes as it was when the last holder
#: leaves.
paused = _CollectorPause()

