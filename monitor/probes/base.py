"""The probe interface and its result, shared by every kind of probe.

A probe answers one question, "is this target up right now?", and never raises
for a target's failure: it returns a :class:`ProbeResult` whose
``failure_class`` says what went wrong (SPEC section 8). Every failure is one of
the :class:`~monitor.errors.ProbeError` classes: the probes raise the ones about
an answer themselves (``http_status``, ``condition``, ``too_slow``,
``too_large``, ``dns_answer``), and :func:`classify_exception` maps connection-level
exceptions to the others with one table (:data:`EXCEPTIONS`).

>>> failure = classify_exception(ConnectionRefusedError(), "127.0.0.1:9")
>>> failure
ConnectRefused('connection to 127.0.0.1:9 refused')
>>> at = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
>>> ProbeResult("shop", "down", at, failure.failure_class, str(failure)).failure_class
'connect_refused'
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp

from monitor.errors import (
    ConditionFailed,
    ConnectRefused,
    ConnectTimeout,
    DNSAnswerError,
    DNSError,
    FailureClass,
    HTTPStatusError,
    ProbeError,
    ProbeTimeout,
    RedirectLoop,
    TLSError,
    TooLarge,
    TooSlow,
)
from monitor.probes.stalls import Stalls

__all__ = [
    "EXCEPTIONS",
    "FAILURE_CLASSES",
    "PROBE_ERRORS",
    "FailureClass",
    "Probe",
    "ProbeResult",
    "ProbeVerdict",
    "checked",
    "classify_exception",
    "shorten",
]

ProbeVerdict = Literal["up", "down", "unknown"]
"""A probe says up or down, or ``unknown`` when it could not judge the target because this
monitor was stalled at its deadline (:func:`late_enough`); the canaries' ``unknown`` is
decided later, by the daemon (R-M2)."""

PROBE_ERRORS: tuple[type[ProbeError], ...] = (
    DNSError,
    ConnectRefused,
    ConnectTimeout,
    TLSError,
    ProbeTimeout,
    HTTPStatusError,
    ConditionFailed,
    TooSlow,
    TooLarge,
    RedirectLoop,
    DNSAnswerError,
    ProbeError,
)
#: Every failure class, from the error classes themselves (the one source of the names).
FAILURE_CLASSES: tuple[FailureClass, ...] = tuple(error.failure_class for error in PROBE_ERRORS)

# Evidence is stored for every failure (R-M7): a detail is one short line, never a traceback.
MAX_DETAIL = 200

#: R-M2, the monitor's own stall: a probe's deadline noticed later than this share of its
#: timeout (and at least :data:`LATE_FLOOR` seconds; timers run a few ms late on a busy
#: host) means this process's event loop was held up when the deadline passed (CPU
#: starvation, a long collection, a blocking call). An answer that arrived meanwhile was
#: never read: asyncio runs the expired timer in the same turn as the socket's event, and
#: the timer wins. Such a result is ``unknown``, not the target's failure. A stall that ends
#: before the deadline changes nothing (the answer is read once the loop runs again).
LATE_SHARE = 0.1
LATE_FLOOR = 0.02


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one check found. Created ~670 times a second at full load, hence ``slots``.

    Timings are seconds; ``None`` means the phase was not reached (or, for
    ``dns``, not needed: the target is an IP address). What each phase covers
    is documented by the probe that fills it (:mod:`monitor.probes.http`,
    :mod:`monitor.probes.tcp`).
    """

    target_id: str
    state: ProbeVerdict
    at: dt.datetime
    """aware UTC time the check started (after it got a concurrency slot)"""
    failure_class: FailureClass | None = None
    """None when up"""
    detail: str = ""
    """short human text, e.g. ``HTTP 503 Service Unavailable (expected 2xx)``"""
    http_status: int | None = None
    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    first_byte: float | None = None
    total: float | None = None
    cert_not_after: dt.datetime | None = None
    """HTTPS: expiry of the certificate the target presented, when known"""

    @property
    def is_up(self) -> bool:
        return self.state == "up"



class Probe(Protocol):
    """One target's check. ``check()`` returns a classified result; it never raises for
    a target failure (only ``asyncio.CancelledError`` passes through, on shutdown)."""

    target_id: str

    async def check(self) -> ProbeResult: ...


def late_enough(late: float, timeout: float) -> bool:
    """Whether a deadline noticed ``late`` seconds after it passed means this monitor was
    stalled then (:data:`LATE_SHARE`), for a probe of ``timeout`` seconds."""
    return late > max(LATE_FLOOR, LATE_SHARE * timeout)


def noticed_late(
    deadline: asyncio.Timeout, timeout: float, stalls: Stalls, started: float
) -> float | None:
    """When this process noticed the expired ``deadline`` late enough to mean it was
    stalled itself (:func:`late_enough`), how long it was held up since the check
    ``started`` (monotonic): the whole stall as ``stalls`` saw it, at least the lateness
    (a stall that began before the deadline is not only its late part); else None."""
    when = deadline.when()
    if when is None:
        return None
    now = asyncio.get_running_loop().time()
    late = now - when
    if not late_enough(late, timeout):
        return None
    return max(late, stalls.held_up(started, now))


def judged(failure: ProbeError | None, held_up: float | None) -> tuple[ProbeVerdict, str]:
    """A check's verdict and its evidence's detail: ``unknown`` when the monitor's own
    process was ``held_up`` (seconds) in a way that made the failure (R-M2: the monitor,
    not the target, was slow): a deadline noticed late (:func:`noticed_late`), an answer
    too slow or a body cut by the probe's own clock only because of a stall
    (:class:`monitor.probes.stalls.Stalls`, the failure's ``held_up``); saying so."""
    if failure is None:
        return "up", ""
    if held_up is None:
        held_up = failure.held_up
    if held_up is None:
        return "down", shorten(str(failure))
    return "unknown", shorten(
        f"not judged: this monitor's own process was held up {held_up:.2f} s meanwhile, "
        f"the target may have been in time: {failure}")


def checked(target_id: str, at: dt.datetime, started: float, failure: ProbeError | None,
            held_up: float | None, **timings: Any) -> ProbeResult:
    """A check's result: its verdict and detail (:func:`judged`), its failure's class, the
    ``timings`` it measured (and what else it read: ``http_status``, ``cert_not_after``),
    and its whole time since ``started`` (monotonic)."""
    state, detail = judged(failure, held_up)
    return ProbeResult(
        target_id=target_id,
        state=state,
        at=at,
        failure_class=None if failure is None else failure.failure_class,
        detail=detail,
        total=time.monotonic() - started,
        **timings,
    )


def shorten(text: str) -> str:
    """One line of at most ``MAX_DETAIL`` characters: targets control some of this text."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"


def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _redirects(error: aiohttp.TooManyRedirects, where: str) -> str:
    last = error.history[-1] if error.history else None
    location = last.headers.get("Location", "") if last is not None else ""
    return f"{len(error.history)} redirects without an answer; last to {location}"


def _certificate(error: aiohttp.ClientConnectorCertificateError, where: str) -> str:
    cause = error.certificate_error
    reason = getattr(cause, "verify_message", None) or _os_reason(cause)
    return f"TLS certificate of {error.host} rejected: {reason}"


# Connection-level exceptions and the failure each one is, most specific first (aiohttp's
# certificate error is an SSL error is a connector error is an OSError), with how its
# detail reads. ``where`` names the target: ``host:port`` or the URL.
EXCEPTIONS: tuple[tuple[type[BaseException], type[ProbeError], Callable[[Any, str], str]], ...] = (
    (aiohttp.TooManyRedirects, RedirectLoop, _redirects),
    (
        aiohttp.ClientConnectorDNSError,
        DNSError,
        lambda e, _: f"DNS lookup of {e.host} failed: {_os_reason(e.os_error)}",
    ),
    (aiohttp.ClientConnectorCertificateError, TLSError, _certificate),
    (
        aiohttp.ClientSSLError,
        TLSError,
        lambda e, _: f"TLS handshake with {e.host}:{e.port} failed: {_ssl_reason(e.os_error)}",
    ),
    (
        ssl.SSLCertVerificationError,
        TLSError,
        lambda e, where: f"TLS certificate of {where} rejected: {e.verify_message}",
    ),
    (ssl.SSLError, TLSError, lambda e, where: f"TLS with {where} failed: {_ssl_reason(e)}"),
    (
        socket.gaierror,
        DNSError,
        lambda e, where: f"DNS lookup for {where} failed: {_os_reason(e)}",
    ),
    (ConnectionRefusedError, ConnectRefused, lambda e, where: f"connection to {where} refused"),
    # The kernel's ETIMEDOUT, not our deadline (the probes name what their deadline cut).
    (TimeoutError, ConnectTimeout, lambda e, where: f"connection to {where} timed out"),
    (
        aiohttp.ServerDisconnectedError,
        ProbeError,
        lambda e, where: f"{where} closed the connection without a complete answer",
    ),
    (
        aiohttp.ClientPayloadError,
        ProbeError,
        lambda e, where: f"invalid response body from {where}: {e}",
    ),
    (
        aiohttp.ClientResponseError,
        ProbeError,
        lambda e, where: f"invalid HTTP response from {where}: {e.message}",
    ),
    (OSError, ProbeError, lambda e, where: f"cannot connect to {where}: {_os_reason(e)}"),
)


def classify_exception(error: BaseException, where: str) -> ProbeError:
    """The :class:`ProbeError` a connection-level exception stands for, with a short detail.

    A connector error other than the DNS and TLS ones is classified by the OS error
    inside it (refused, timed out...), named by its ``host:port``.
    """
    if isinstance(error, ProbeError):
        return error
    for kind, failure, describe in EXCEPTIONS:
        if isinstance(error, kind):
            if kind is OSError and isinstance(error, aiohttp.ClientConnectorError):
                return classify_exception(error.os_error, f"{error.host}:{error.port}")
            return failure(shorten(describe(error, where)))
    return ProbeError(shorten(f"{type(error).__name__}: {error}"))


def _ssl_reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return _os_reason(error)
