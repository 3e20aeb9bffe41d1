"""The errors sla-monitor raises, in one hierarchy.

::

    MonitorError                 every error of ours; ``exit_code`` says how the CLI ends
    ├── UsageError               a bad argument on the command line (exit 2)
    │   └── InputError           a bad value given to an action: unknown id, end before start…;
    │                            names the field (``end``), each edge in its words (exit 2)
    ├── ConfigError              the configuration file is unreadable or invalid (exit 2);
    │                            carries every ``ConfigIssue`` (YAML path, line, value, what is allowed)
    ├── StoreError               the database failed or is not at the expected schema (exit 1)
    │   └── StoreLocationError   the database's place cannot hold it: a read-only or missing
    │                            directory, no permission (exit 2: the operator must fix it)
    ├── ProbeError               a target failed a probe ("error": none of the below);
    │   │                        the class is the failure class kept as evidence (R-M7)
    │   ├── DNSError             "dns": the name did not resolve (in time)
    │   ├── ConnectRefused       "connect_refused"
    │   ├── ConnectTimeout       "connect_timeout": TCP (and TLS) connect not done in time
    │   ├── TLSError             "tls": handshake or certificate rejected
    │   ├── ProbeTimeout         "timeout": no complete answer within the timeout
    │   ├── HTTPStatusError      "http_status": a status not in ``expected_status``
    │   ├── ConditionFailed      "condition": body substring / JSON condition not met
    │   ├── TooSlow              "too_slow": answered, but slower than ``max_response_time``
    │   ├── TooLarge             "too_large": the body exceeded the byte bound
    │   └── RedirectLoop         "redirect_loop": more redirects than ``max_redirects``
    └── NotifyError              a message could not be handed to SMTP / the Maildir
        ├── TransientNotifyError retry later with backoff (connect errors, timeouts, 4xx)
        └── PermanentNotifyError give up and alert operators (5xx, auth, all refused)

Every message says what was wrong, where, and what is allowed (SPEC section 8).

Probes never let a :class:`ProbeError` escape: each failure of a target is
classified to one of these classes (:func:`monitor.probes.base.classify_exception`
maps connection-level exceptions to them with a table, as httpx does) and returned
in a ``ProbeResult`` whose ``failure_class`` is the class's. The names exist once,
as :data:`FailureClass`, and each class carries its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "ConditionFailed",
    "ConfigError",
    "ConfigIssue",
    "ConnectRefused",
    "ConnectTimeout",
    "DNSError",
    "HTTPStatusError",
    "InputError",
    "MonitorError",
    "NotifyError",
    "PermanentNotifyError",
    "ProbeError",
    "ProbeTimeout",
    "RedirectLoop",
    "StoreError",
    "StoreLocationError",
    "TLSError",
    "TooLarge",
    "TooSlow",
    "TransientNotifyError",
    "UsageError",
]


class MonitorError(Exception):
    """Base of every sla-monitor error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(MonitorError):
    """A command-line argument is wrong (exit code 2)."""

    exit_code = 2


_FIELD_REFERENCE = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class InputError(UsageError):
    """A value given to an action is not acceptable; nothing was changed (exit code 2).

    ``field`` names the value in the action's own words (``end``, ``month``,
    ``service``), never in an edge's: the CLI says ``--end``, the HTTP API a JSON
    pointer ``/end`` (:meth:`renamed`). ``allowed`` may name other fields as
    ``{start}``; they are renamed the same way.

    >>> error = InputError("end", "01:00", "a time after {start} (02:00)")
    >>> str(error)
    "end: '01:00' is not valid; allowed: a time after start (02:00)"
    >>> str(error.renamed(lambda field: "--" + field))
    "--end: '01:00' is not valid; allowed: a time after --start (02:00)"
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(
            f"{field}: {value!r} is not valid; allowed: {self._allowed(lambda name: name)}"
        )

    def _allowed(self, name: Callable[[str], str]) -> str:
        return _FIELD_REFERENCE.sub(lambda match: name(match[1]), self.allowed)

    def renamed(self, name: Callable[[str], str]) -> InputError:
        """The same error in an edge's words: ``name`` turns each field name into the
        edge's (``end`` → ``--end``)."""
        return InputError(name(self.field), self.value, self._allowed(name))


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where, what was found, what is allowed."""

    path: str  # YAML path, e.g. ``services[2].probe.interval``
    line: int | None  # 1-based line in the file, when known
    message: str  # what is wrong and what is allowed
    value: object = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"


class ConfigError(MonitorError):
    """The configuration cannot be used. ``issues`` lists every problem found at once."""

    exit_code = 2

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = [f"{source}: {len(issues)} configuration error(s)"]
        lines += [f"  {issue}" for issue in issues]
        super().__init__("\n".join(lines))


class StoreError(MonitorError):
    """The database failed, or its schema is not the one this version expects."""


class StoreLocationError(StoreError):
    """The configured database cannot live where it is (read-only, no permission): a
    configuration problem, exit code 2 (systemd does not restart it, RestartPreventExitStatus=2)."""

    exit_code = 2


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
"""Why a probe failed, as stored with every failure (R-M7) and exported as a metric label."""


class ProbeError(MonitorError):
    """A target failed a probe; the class says how (its ``failure_class``)."""

    failure_class: ClassVar[FailureClass] = "error"


class DNSError(ProbeError):
    failure_class = "dns"


class ConnectRefused(ProbeError):
    failure_class = "connect_refused"


class ConnectTimeout(ProbeError):
    failure_class = "connect_timeout"


class TLSError(ProbeError):
    failure_class = "tls"


class ProbeTimeout(ProbeError):
    failure_class = "timeout"


class HTTPStatusError(ProbeError):
    failure_class = "http_status"


class ConditionFailed(ProbeError):
    failure_class = "condition"


class TooSlow(ProbeError):
    failure_class = "too_slow"


class TooLarge(ProbeError):
    failure_class = "too_large"


class RedirectLoop(ProbeError):
    failure_class = "redirect_loop"


class NotifyError(MonitorError):
    """A message could not be delivered to the SMTP server or Maildir."""


class TransientNotifyError(NotifyError):
    """Worth retrying later (connection errors, timeouts, 4xx replies)."""


class PermanentNotifyError(NotifyError):
    """Not worth retrying (5xx replies, authentication, every recipient refused)."""
