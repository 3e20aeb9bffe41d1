"""The probe interface and its result, shared by every kind of probe.

A probe answers one question, "is this target up right now?", and never raises
for a target's failure: it returns a :class:`ProbeResult` whose
``failure_class`` says what went wrong (SPEC section 8). The strings are the
``failure_class`` of the :mod:`monitor.errors` probe errors, plus
``redirect_loop``.

>>> result = ProbeResult("panel", "down", at, failure_class="http_status",   # doctest: +SKIP
...                      detail="HTTP 503 Service Unavailable", http_status=503)
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import aiohttp

ProbeState = Literal["up", "down", "unknown"]
"""A probe only says up or down; ``unknown`` is decided later, by the canary logic (R-M2)."""

FailureClass = Literal[
    "dns",
    "connect_refused",
    "connect_timeout",
    "tls",
    "timeout",
    "http_status",
    "condition",
    "too_slow",
    "too_large",
    "redirect_loop",
    "error",
]
FAILURE_CLASSES: tuple[FailureClass, ...] = get_args(FailureClass)

# Evidence is stored for every failure (R-M7): a detail is one short line, never a traceback.
MAX_DETAIL = 200


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one check found. Created ~670 times a second at full load, hence ``slots``.

    Timings are seconds; ``None`` means the phase was not reached (or, for
    ``dns``, not needed: the target is an IP address). What each phase covers
    is documented by the probe that fills it (:mod:`monitor.probes.http`,
    :mod:`monitor.probes.tcp`).
    """

    target_id: str
    state: ProbeState
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


def shorten(text: str) -> str:
    """One line of at most ``MAX_DETAIL`` characters: targets control some of this text."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"


def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def classify_exception(error: BaseException, where: str) -> tuple[FailureClass, str]:
    """Map a connection-level exception to a failure class and a short detail.

    ``where`` names the target (``host:port`` or the URL) for the detail. The
    order matters: aiohttp's certificate error is an SSL error is a connector
    error is an ``OSError``.
    """
    if isinstance(error, aiohttp.TooManyRedirects):
        last = error.history[-1] if error.history else None
        location = last.headers.get("Location", "") if last is not None else ""
        hops = len(error.history)
        return "redirect_loop", shorten(f"{hops} redirects without an answer; last to {location}")
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "dns", shorten(f"DNS lookup of {error.host} failed: {_os_reason(error.os_error)}")
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        cause = error.certificate_error
        reason = getattr(cause, "verify_message", None) or _os_reason(cause)
        return "tls", shorten(f"TLS certificate of {error.host} rejected: {reason}")
    if isinstance(error, aiohttp.ClientSSLError):
        return "tls", shorten(
            f"TLS handshake with {error.host}:{error.port} failed: {_ssl_reason(error.os_error)}"
        )
    if isinstance(error, aiohttp.ClientConnectorError):
        return classify_exception(error.os_error, f"{error.host}:{error.port}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return "tls", shorten(f"TLS certificate of {where} rejected: {error.verify_message}")
    if isinstance(error, ssl.SSLError):
        return "tls", shorten(f"TLS with {where} failed: {_ssl_reason(error)}")
    if isinstance(error, socket.gaierror):
        return "dns", shorten(f"DNS lookup for {where} failed: {_os_reason(error)}")
    if isinstance(error, ConnectionRefusedError):
        return "connect_refused", shorten(f"connection to {where} refused")
    if isinstance(error, TimeoutError):  # the kernel's ETIMEDOUT, not our deadline
        return "connect_timeout", shorten(f"connection to {where} timed out")
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "error", shorten(f"{where} closed the connection without a complete answer")
    if isinstance(error, aiohttp.ClientPayloadError):
        return "error", shorten(f"invalid response body from {where}: {error}")
    if isinstance(error, aiohttp.ClientResponseError):
        return "error", shorten(f"invalid HTTP response from {where}: {error.message}")
    if isinstance(error, OSError):
        return "error", shorten(f"cannot connect to {where}: {_os_reason(error)}")
    return "error", shorten(f"{type(error).__name__}: {error}")


def _ssl_reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    return _os_reason(error)
