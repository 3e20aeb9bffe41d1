"""Unexpected errors in a request handler: answered 500 without details, counted, and
logged so that a flood of them cannot flood the log.

Each failed request is one short structured line (``request failed``: method, path,
the error's type and where it was raised, never the message, which may hold input) and
one increment of ``sla_monitor_http_unexpected_errors_total``. The traceback is logged
with the first failure of each distinct error, its type and place, then at most once a
:data:`TRACEBACK_EVERY` per distinct error: an attacker who found one repeats it for
free, and 50 clients for 10 s once wrote 30 MiB of the same traceback.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from monitor.http.traffic import of_registry

__all__ = ["TRACEBACK_EVERY", "UnexpectedErrors", "unexpected_errors"]

log = logging.getLogger(__name__)

TRACEBACK_EVERY = 60.0  # seconds between two tracebacks of the same error
_KEPT = 1000  # distinct errors remembered (the code has far fewer places to fail)


class UnexpectedErrors:
    """The counter and the traceback limiter of one registry (one daemon's application).

    >>> errors = UnexpectedErrors(CollectorRegistry(), clock=lambda: 0.0)
    >>> try:
    ...     raise KeyError("x")
    ... except KeyError as exc:
    ...     errors.traceback_due(exc), errors.traceback_due(exc)
    (True, False)
    """

    def __init__(self, registry: CollectorRegistry,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = Counter(
            "sla_monitor_http_unexpected_errors_total",
            "Requests answered 500 because a handler failed unexpectedly",
            registry=registry,
        )
        self._clock = clock
        self._logged: dict[tuple[str, str], float] = {}

    @staticmethod
    def where(exc: BaseException) -> str:
        """Where ``exc`` was raised: the innermost frame's file, line and function."""
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames:
            return "?"
        frame = frames[-1]
        return f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} in {frame.name}"

    def traceback_due(self, exc: BaseException) -> bool:
        """Whether this failure's traceback is logged: the first of its kind in a while."""
        key = (f"{type(exc).__module__}.{type(exc).__qualname__}", self.where(exc))
        now = self._clock()
        last = self._logged.get(key)
        if last is not None and now - last < TRACEBACK_EVERY:
            return False
        if len(self._logged) >= _KEPT:
            self._logged.clear()
        self._logged[key] = now
        return True

    def record(self, method: str, path: str, exc: BaseException) -> None:
        """Count one failed request and log its one line (with the traceback when due)."""
        self.counter.inc()
        with_traceback = self.traceback_due(exc)
        log.error("request failed", exc_info=exc if with_traceback else None, extra={
            "method": method,
            "path": path[:200],
            "error": type(exc).__qualname__,
            "where": self.where(exc),
            "traceback": "logged" if with_traceback else
            f"logged at most once a {TRACEBACK_EVERY:g} s for this error",
        })


def unexpected_errors(registry: CollectorRegistry) -> UnexpectedErrors:
    """The one :class:`UnexpectedErrors` of ``registry`` (:func:`.traffic.of_registry`)."""
    return of_registry(registry, UnexpectedErrors)
