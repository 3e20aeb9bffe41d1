"""Structured logs: one JSON object per line, one event per line, no secrets.

Fields passed with ``extra={...}`` become keys of the object. URLs are logged
without their user-info (every line goes through :func:`monitor.redact.redact`),
and nothing from the SMTP or API secrets is ever passed to a logger. The
database drivers' and the SMTP client's own loggers stay at WARNING even with
``--log-level DEBUG``: at DEBUG they write every statement with its parameters
(probe evidence, every e-mail body) and every SMTP exchange.

Under systemd, when standard error is the journal (``$JOURNAL_STREAM`` names
its device and inode), each line starts with the ``<N>`` syslog priority of
``sd-daemon(3)``, so ``journalctl -p warning`` filters by level; journald
strips the prefix, and ``journalctl -o cat`` shows the same JSON object.
Anywhere else (a terminal, a file, a pipe to a log shipper; also stderr
redirected away from the journal inside a unit) the lines are plain JSON.

An event that can repeat at every request or target (a fenced vote, a malformed request)
is said in one line at most once a minute, with how many happened since
(:class:`SaidEvery`); its metric counts every one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO

from monitor.redact import redact

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(event, default=str, ensure_ascii=False))


# sd-daemon(3) priorities: 2 crit, 3 err, 4 warning, 6 info, 7 debug.
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level; custom levels take the next more severe one.

    >>> [syslog_priority(n) for n in (10, 20, 25, 30, 40, 50, 60)]
    [7, 6, 4, 4, 3, 2, 2]
    """
    for threshold in sorted(SYSLOG_PRIORITY):
        if levelno <= threshold:
            return SYSLOG_PRIORITY[threshold]
    return SYSLOG_PRIORITY[logging.CRITICAL]


class JournalFormatter(JSONFormatter):
    """The JSON line with its ``<N>`` priority prefix, for journald (one event per line:
    JSON escapes newlines, so a traceback never splits into lines of its own)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{syslog_priority(record.levelno)}>{super().format(record)}"


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journald connection ``$JOURNAL_STREAM`` (``DEV:INODE``) names.

    systemd sets the variable for the service's stdout/stderr; a process
    that inherited it but writes elsewhere must not prefix its lines.
    """
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (value.isascii() and device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False  # no file descriptor (a test's StringIO, a closed stream)
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def for_stderr(text: str, priority: int = 3) -> str:
    """``text`` for standard error: each line prefixed with ``<priority>`` when that is the
    journal, so a fatal error before logging starts is an ``err`` entry, not an ``info`` one."""
    if not stream_is_journal(sys.stderr):
        return text
    return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


def setup_logging(
    level: str = "INFO", stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> None:
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    journal = stream_is_journal(stream, environ)
    handler.setFormatter(JournalFormatter() if journal else JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO: thousands of lines a minute.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


# Loggers that write statements' parameters or SMTP conversations below WARNING: kept quiet
# at every level, so DEBUG never logs an e-mail body or a stored secret.
QUIET_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg", "aiosmtplib", "mail.log")


class SaidEvery:
    """A repeated event said in one log line at most once every ``every`` seconds (on the
    steady ``clock``): :meth:`happened` counts one more and says how many to report now,
    those since the last line said with this one (0: not yet)."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.every = every
        self.clock = clock
        self.said_at = -every  # the steady clock's time of the last line said
        self.unsaid = 0  # events since that line

    def happened(self) -> int:
        self.unsaid += 1
        now = self.clock()
        if now - self.said_at < self.every:
            return 0
        count, self.said_at, self.unsaid = self.unsaid, now, 0
        return count


class Progress(Protocol):
    """``report(done, total, step)``: how far a long task is. ``step`` names the part it is
    in when it has several (``report close``: reading, computing, freezing); each step
    counts on its own, and ``total`` 0 is a step without a count."""

    def __call__(self, done: int, total: int, step: str = "") -> None: ...


def no_progress(done: int, total: int, step: str = "") -> None:
    """The :class:`Progress` of a task no one watches (the daemon, the HTTP API)."""


class ProgressLog:
    """A long task's progress as log lines (under systemd, where no one watches a bar): the
    first report, then at most one every ``every`` seconds, the last (``done`` equal
    to ``total``) and the first of each new step; each line says ``done``, ``total`` and
    ``per_second`` (since the step began), with ``fields`` and the ``step`` if any. Call it
    with ``(done, total)`` or ``(done, total, step)`` as often as the task likes. With
    ``quiet_for``, nothing is said before the task has run that long (a task that ends
    sooner says nothing)."""

    def __init__(
        self, logger: logging.Logger, event: str, fields: Mapping[str, object] | None = None,
        *, every: float = 10.0, clock: Callable[[], float] = time.monotonic,
        quiet_for: float = 0.0,
    ) -> None:
        self.logger, self.event, self.every, self.clock = logger, event, every, clock
        self.fields = dict(fields or {})
        self.quiet_for = quiet_for
        self.began: float | None = None
        self.started: float | None = None
        self.logged: float | None = None
        self.step = ""

    def __call__(self, done: int, total: int, step: str = "") -> None:
        now = self.clock()
        if self.began is None:
            self.began = now
        if self.started is None or step != self.step:
            self.started, self.logged, self.step = now, None, step
        if self.logged is not None and done < total and now - self.logged < self.every:
            return
        if self.logged is not None and total == 0:
            return  # a step without a count: said once, when it began
        if now - self.began < self.quiet_for:
            return
        self.logged = now
        elapsed = now - self.started
        self.logger.info(self.event, extra={
            **self.fields, **({"step": step} if step else {}), "done": done, "total": total,
            "per_second": round(done / elapsed, 2) if elapsed > 0 else None})
