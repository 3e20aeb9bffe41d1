"""The errors sla-monitor raises, in one hierarchy.

::

    MonitorError                 every error of ours; ``exit_code`` says how the CLI ends
    ├── UsageError               a bad argument on the command line (exit 2)
    │   └── InputError           a bad value given to an action: unknown id, end before start…;
    │       │                    names the field (``end``), each edge in its words (exit 2)
    │       └── NotFound         a value that names nothing: an unknown id or customer (the
    │                            HTTP API's 404 when the path carries it; else as its parent)
    ├── ConfigError              the configuration file is unreadable or invalid (exit 2);
    │                            carries every ``ConfigIssue`` (YAML path, line, value, what is allowed)
    ├── RenderError              a document could not be rendered: PDF needs Typst and fonts
    │                            installed with the system packages (exit 2)
    ├── ListenError              the HTTP edge cannot listen where http.listen says: the port
    │                            taken (exit 1: systemd tries again)
    ├── StoreError               the database failed (exit 1)
    │   ├── SchemaError          no sla-monitor database where one was looked for, or one at
    │   │                        another schema revision: point at the right one (exit 2)
    │   ├── StoreLocationError   the database's place cannot hold it: a read-only or missing
    │   │                        directory, no permission (exit 2: the operator must fix it)
    │   └── Fenced               a cluster node's write refused: it no longer holds the lease
    │                            it writes under (said and counted where refused; rolled back)
    ├── ProbeError               a target failed a probe ("error": none of the below);
    │   │                        the class is the failure class kept as evidence (R-M7)
    │   ├── DNSError             "dns": the name did not resolve (in time)
    │   ├── ConnectRefused       "connect_refused": the target refused the TCP connection
    │   ├── ConnectTimeout       "connect_timeout": TCP (and TLS) connect not done in time
    │   ├── TLSError             "tls": handshake or certificate rejected
    │   ├── ProbeTimeout         "timeout": no complete answer within the timeout
    │   ├── HTTPStatusError      "http_status": a status not in ``expected_status``
    │   ├── ConditionFailed      "condition": body substring / JSON condition not met
    │   ├── TooSlow              "too_slow": answered, but slower than ``max_response_time``
    │   ├── TooLarge             "too_large": the body exceeded the byte bound
    │   ├── RedirectLoop         "redirect_loop": more redirects than ``max_redirects``
    │   └── DNSAnswerError       "dns_answer": a DNS probe's nameserver answered an error
    │                            code (NXDOMAIN, SERVFAIL ...), no record of the type asked
    │                            for, or an answer that could not be read
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

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "ConditionFailed",
    "ConfigError",
    "ConfigIssue",
    "ConnectRefused",
    "ConnectTimeout",
    "DNSAnswerError",
    "DNSError",
    "Fenced",
    "HTTPStatusError",
    "InputError",
    "ListenError",
    "MonitorError",
    "NotFound",
    "NotifyError",
    "PermanentNotifyError",
    "ProbeError",
    "ProbeTimeout",
    "RedirectLoop",
    "RenderError",
    "SchemaError",
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
# An instant or a day in an error's ``allowed`` text, left for the edge to show
# (time_mark, day_mark): {@2026-11-05T20:30:00Z}, {@2027-03-20}.
_TIME_REFERENCE = re.compile(r"\{@([0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+Z)?)\}")
ECHO_LIMIT = 40  # characters of a refused text an error shows: enough to recognise it


def in_ascii_digits(text: str) -> str:
    """What to add to the refusal of a number, month, day or time typed with other digits
    than 0-9 (a Persian keyboard's ۱۴۰۵, Arabic-Indic ١٤٠٥): each reading takes 0-9 only,
    as the HTTP API does, so the value matched its form to the eye and was refused. Empty
    for a value of ASCII digits.

    >>> in_ascii_digits("۱۴۰۵-۰۹"), in_ascii_digits("1405-13")
    ('; write its digits as 0-9: 1405-09', '')
    """
    written = "".join(str(unicodedata.decimal(c)) if not "0" <= c <= "9"
                      and unicodedata.decimal(c, None) is not None else c for c in text)
    return "" if written == text else f"; write its digits as 0-9: {written.strip()}"


#: The most ids a refusal lists whole (:func:`some_of`).
LISTED_WHOLE = 20


def some_of(value: str, allowed: Collection[str]) -> str:
    """``allowed`` (ids) as a refusal of ``value`` names them: all of them, sorted, when
    they are few, else how many and the nearest to ``value`` if any is near (difflib's
    ratio of 0.6, as Python's own suggestions): at 10,000 customers, every id was a line
    of 80,000 characters.

    >>> some_of("beat", ["acme", "beta"])
    'acme, beta'
    >>> some_of("custmer-7", [f"customer-{n}" for n in range(30)])
    '30 ids, the nearest customer-7, ...'
    >>> some_of("zzz", [f"customer-{n}" for n in range(30)])
    '30 ids, none near it'
    """
    names = sorted(allowed)
    if len(names) <= LISTED_WHOLE:
        return ", ".join(names)
    nearest = difflib.get_close_matches(value, names, n=3)
    return f"{len(names):,} ids, " + (f"the nearest {', '.join(nearest)}" if nearest
                                       else "none near it")


def shortened(value: object) -> object:
    """``value`` as an error echoes it, on every edge: a text longer than
    :data:`ECHO_LIMIT` characters as its start and ``...`` (a 5,000-character value is
    recognised by its start; its length, when that is what is wrong, is said apart).

    >>> shortened("x" * 41), shortened("2026-13"), shortened(7)
    ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', '2026-13', 7)
    """
    if isinstance(value, str) and len(value) > ECHO_LIMIT:
        return value[:ECHO_LIMIT] + "..."
    return value


def time_mark(at: dt.datetime) -> str:
    """``at`` in an error's ``allowed`` text, as the edge shows instants: the command line
    in the provider's zone and calendar, the API (JSON) and ``str()`` as ISO 8601 UTC
    with ``Z`` (:meth:`InputError.renamed`). The action has no zone of its own to say.

    >>> error = InputError("month", "1405-07", "claims until " + time_mark(
    ...     dt.datetime(2026, 11, 5, 20, 30, tzinfo=dt.UTC)))
    >>> error.allowed, str(error)
    ('claims until {@2026-11-05T20:30:00Z}', "month: '1405-07' is not valid; allowed: claims until 2026-11-05T20:30:00Z")
    >>> error.renamed(lambda f: "--" + f, lambda at: f"{at:%H:%M} UTC").allowed
    'claims until 20:30 UTC'
    """
    return "{@" + _iso(at) + "}"


def day_mark(day: dt.date) -> str:
    """A calendar day (a paid period's end, L-6) in an error's ``allowed`` text: the
    command line shows it in the provider's calendar, the API as an ISO date
    (:func:`time_mark`)."""
    return "{@" + _iso(day) + "}"


def _iso(value: dt.date) -> str:
    """A marked value's machine form: ISO 8601 UTC with ``Z`` for an instant, an ISO date
    for a day."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def _marked(text: str) -> dt.date:
    """The value a mark holds (the inverse of :func:`_iso`)."""
    if "T" in text:
        return dt.datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=dt.UTC)
    return dt.date.fromisoformat(text)


class InputError(UsageError):
    """A value given to an action is not acceptable; nothing was changed (exit code 2).

    The value is shown :func:`shortened` (its start, when it is long).

    ``field`` names the value in the action's own words (``end``, ``month``,
    ``service``), never in an edge's: the CLI says ``--end``, the HTTP API a JSON
    pointer ``/end`` (:meth:`renamed`). ``allowed`` may name other fields as
    ``{start}``; they are renamed the same way. Instants and days in it are marked
    (:func:`time_mark`, :func:`day_mark`), never written out by the action: each edge
    shows them its way (the command line in the provider's zone and calendar).

    >>> error = InputError("end", "01:00", "a time after {start} (02:00)")
    >>> str(error)
    "end: '01:00' is not valid; allowed: a time after start (02:00)"
    >>> str(error.renamed(lambda field: "--" + field))
    "--end: '01:00' is not valid; allowed: a time after --start (02:00)"

    An action sees values already read (a time in UTC); the edge knows what the user
    typed, and shows that first, then the form it was read as (:meth:`as_typed`):

    >>> str(InputError("end", "2026-11-30T08:00:00Z", "a time after {start}")
    ...     .as_typed("2026-11-30T09:00").renamed(lambda field: "--" + field))
    "--end: '2026-11-30T09:00' (read as 2026-11-30T08:00:00Z) is not valid; allowed: a time after --start"

    A value that was not given at all is ``None``, and said to be missing:

    >>> str(InputError("reason", None, "why the claim is rejected").renamed(lambda f: "--" + f))
    '--reason: missing; needed: why the claim is rejected'
    """

    def __init__(
        self,
        field: str,
        value: object,
        allowed: str,
        *,
        typed: str | None = None,
        read_as: bool = True,
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.typed = typed
        self.read_as = read_as
        shown = repr(shortened(value))
        if typed is not None and typed != str(value):
            shown = (f"{shortened(typed)!r} (read as {shortened(value)})" if read_as
                     else repr(shortened(typed)))
        if value is None and typed is None:  # nothing was given where something is needed
            super().__init__(f"{field}: missing; needed: {self._allowed(lambda n: n)}")
            return
        super().__init__(f"{field}: {shown} is not valid; allowed: {self._allowed(lambda n: n)}")

    def _allowed(self, name: Callable[[str], str],
                 show: Callable[[dt.date], str] = _iso) -> str:
        named = _FIELD_REFERENCE.sub(lambda match: name(match[1]), self.allowed)
        return _TIME_REFERENCE.sub(lambda match: show(_marked(match[1])), named)

    def renamed(self, name: Callable[[str], str],
                show: Callable[[dt.date], str] = _iso) -> InputError:
        """The same error in an edge's words: ``name`` turns each field name into the
        edge's (``end`` → ``--end``), ``show`` each marked instant (an aware UTC
        ``datetime``) and day (a ``date``) into the edge's form (default: ISO 8601, UTC
        with ``Z``, the machine form)."""
        return type(self)(
            name(self.field),
            self.value,
            self._allowed(name, show),
            typed=self.typed,
            read_as=self.read_as,
        )

    def as_typed(self, typed: str | None, *, read_as: bool = True) -> InputError:
        """The same error showing ``typed``, the value as the user typed it, then the form
        the action read (when they differ and ``read_as``: the edge knows whether that
        helps); ``None`` changes nothing."""
        if typed is None:
            return self
        return type(self)(self.field, self.value, self.allowed, typed=typed, read_as=read_as)


class NotFound(InputError):
    """The value names nothing there is: an unknown id (or one the caller may not see: the
    same answer), an unconfigured customer. The command line says it as any bad value
    (exit 2); the HTTP API answers 404 when the id is in the path, and 422 for a known one
    that an action refuses (a claim already decided), naming the path's parameter."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where, what was found, what is allowed."""

    path: str  # YAML path, e.g. ``services[2].probe.interval``
    line: int | None  # 1-based line in the file, when known
    message: str  # what is wrong and what is allowed
    value: object = None
    file: str | None = None  # an included file (as its ``include`` found it); None: the main one

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        if self.file is not None:
            where = f"{self.file}, {where or 'file: '}"
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


class RenderError(MonitorError):
    """A statement or report could not be rendered as PDF: Typst or the fonts the
    statements name are missing on this host; the message names the packages (exit 2, an
    installation problem, like a missing configuration file)."""

    exit_code = 2


class StoreError(MonitorError):
    """The database failed, or its schema is not the one this version expects."""


SchemaState = Literal["missing", "empty", "behind", "unknown", "pre-release"]


class SchemaError(StoreError):
    """The database looked for is not one this version can use as it is; nothing was created
    or changed (exit code 2: the database named is the wrong one, or needs ``db upgrade``).

    ``where`` is the SQLite file or the URL (without its password); ``state`` says what
    was found there: ``missing`` (no file, no such database), ``empty`` (no schema of ours),
    ``behind`` (an older revision than ``head``), ``unknown`` (a revision this version
    does not know, e.g. written by a newer one) or ``pre-release`` (a revision of the
    development before 0.1.0 that is not its last, which this version cannot upgrade).

    >>> str(SchemaError("/srv/sla-monitor.db", "missing", "the file does not exist"))
    'no sla-monitor database at /srv/sla-monitor.db (the file does not exist)'
    """

    exit_code = 2

    def __init__(
        self,
        where: str,
        state: SchemaState,
        detail: str = "",
        *,
        revision: str | None = None,
        head: str | None = None,
        advice: tuple[str, ...] = (),
    ) -> None:
        self.where = where
        self.state = state
        self.detail = detail
        self.revision = revision
        self.head = head
        self.advice = advice
        note = f" ({detail})" if detail else ""
        if state == "missing":
            message = f"no sla-monitor database at {where}{note}"
        elif state == "empty":
            message = f"the database {where} holds no sla-monitor schema{note}"
        elif state == "behind":
            message = (
                f"the database {where} is at schema revision {revision}, behind this "
                f"version's {head}{note}"
            )
        elif state == "pre-release":
            message = (
                f"the database {where} is at schema revision {revision} of sla-monitor's "
                f"development before 0.1.0, which this version cannot upgrade{note}: bring it "
                "there with the development version that wrote it, then upgrade it with this "
                "one; or start a new database"
            )
        else:
            message = (
                f"the database {where} is at schema revision {revision}, which this version "
                f"of sla-monitor does not know (its newest is {head}; a newer version "
                f"upgraded it?){note}"
            )
        super().__init__("\n  ".join([message, *advice]))

    def advised(self, *advice: str) -> SchemaError:
        """The same error with an edge's advice, one line each (what to do about it)."""
        return SchemaError(
            self.where,
            self.state,
            self.detail,
            revision=self.revision,
            head=self.head,
            advice=(*self.advice, *advice),
        )


class Fenced(StoreError):
    """A write refused in its transaction (rolled back): this cluster node no longer holds
    the lease it writes under at its epoch (the leader lease, for a leader-only job). Said
    and counted where it was refused (``sla_monitor_cluster_fenced_writes_total``)."""


class ListenError(MonitorError):
    """The HTTP edge cannot listen where ``http.listen`` says (the port taken, the address
    not this host's): one line naming the setting, exit code 1, so that systemd starts it
    again (a port held by a process on its way out is free a moment later)."""


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
    "dns_answer",
    "error",
]
"""Why a probe failed, as stored with every failure (R-M7) and exported as a metric label."""


class ProbeError(MonitorError):
    """A target failed a probe; the class says how (its ``failure_class``)."""

    failure_class: ClassVar[FailureClass] = "error"
    #: Seconds the monitor's own process was held up while it waited, when without them
    #: the target was in time (an answer too slow, a body cut by the probe's own clock):
    #: then it is not judged (R-M2, monitor.probes.stalls).
    held_up: float | None = None


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


class DNSAnswerError(ProbeError):
    """A DNS probe's nameserver answered, but not with the record asked for. Not
    :class:`DNSError`, which is this monitor's own lookup of a target's name failing (R-M2
    reads many of those at once as its resolver's blindness)."""

    failure_class = "dns_answer"


class NotifyError(MonitorError):
    """A message could not be delivered to the SMTP server or Maildir."""


class TransientNotifyError(NotifyError):
    """Worth retrying later (connection errors, timeouts, 4xx replies)."""


class PermanentNotifyError(NotifyError):
    """Not worth retrying (5xx replies, authentication, every recipient refused)."""
