"""What every command shares: finding the configuration, opening the database, the words
of the command line (fields → flags), and printing results.

Command modules only parse arguments, call the actions (:mod:`monitor.actions`) and
render what they return (:mod:`monitor.present`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import shlex
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from monitor.clock import SystemClock
from monitor.config import Config, Settings, load_config
from monitor.errors import InputError, MonitorError, SchemaError, UsageError, in_ascii_digits
from monitor.present import format_day, format_time, json_text, parse_time
from monitor.present.tables import printable_lines
from monitor.store import Database

DEFAULT_CONFIG_PATHS = (Path("/etc/sla-monitor/config.yaml"),)
CONFIG_ENV = "SLA_MONITOR_CONFIG"

# Fields the command line spells differently from --field-name (positional arguments, and
# the claim decision's flags).
POSITIONAL = {
    "incident_id": "ID",
    "archive": "FILE",
    "backup_path": "PATH",
    "window_id": "ID",
    "claim_id": "ID",
    "ticket_id": "ID",
    "outbox_id": "ID",
    "customer_id": "ID",
    "scope": "SCOPE",
    "email": "EMAIL",
    "node": "NODE",
    "output": "-o/--output",
    "decision": "--approve/--partly/--reject",
    "days": "--partly",
}
# Where time_option (and the other readers of typed values) keep what was typed, on the
# parsed arguments; AS_TYPED: the fields whose error shows only what was typed (a number:
# "1e30", not "1E+30" too).
TYPED = "typed_values"
AS_TYPED = "typed_only"
# Where load_settings keeps the settings on the parsed arguments: an action's error shows
# its instants and days in their zone and calendar (shown_in_errors).
SETTINGS = "settings_read"


def flag(field: str) -> str:
    """The command line's word for an action's field: ``end`` → ``--end``,
    ``notified_at`` → ``--notified-at``, ``incident_id`` → ``ID``. The one place."""
    return POSITIONAL.get(field, "--" + field.replace("_", "-"))


def config_path(args: argparse.Namespace) -> Path | None:
    """``-c PATH``, else ``$SLA_MONITOR_CONFIG``, else /etc/sla-monitor/config.yaml if present.

    None means: no file, run on the embedded defaults (no targets, SQLite in the
    state directory, mail to a local Maildir).
    """
    if args.config:
        return Path(args.config)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return next((path for path in DEFAULT_CONFIG_PATHS if path.is_file()), None)


def load(args: argparse.Namespace) -> Config:
    path = config_path(args)
    return load_config(path) if path is not None else Config()


def local_time(settings: Settings, at: dt.datetime | None, *, seconds: bool = False) -> str:
    """``at`` as the commands show times: in the configured zone and calendar (``-`` for
    None); ``seconds`` for a table's times."""
    return format_time(at, settings.timezone, settings.calendar, seconds=seconds)


def local_day(settings: Settings, day: dt.date | None) -> str:
    """``day`` (a paid period's end, L-6) as the commands show days: in the configured
    calendar, a Jalali one with its Gregorian date (as :func:`local_time`)."""
    return format_day(day, settings.calendar, gregorian=True)


def due_time(settings: Settings, due: dt.datetime, state: str) -> str:
    """A deadline as every command shows it, in a table's cell or a line: its time
    (:func:`local_time`) and its state in parentheses, ``2026-11-07 09:00 UTC (breached)``,
    so that the state reads apart from the time when a cell wraps."""
    return f"{local_time(settings, due)} ({state})"


def load_settings(args: argparse.Namespace) -> Settings:
    """The configuration, turned once into what the actions read (kept on ``args`` for
    the errors, :func:`shown_in_errors`)."""
    settings = Settings.from_config(load(args), config_path(args))
    vars(args)[SETTINGS] = settings
    return settings


def shown_in_errors(args: argparse.Namespace) -> Callable[[dt.date], str] | None:
    """How an action's error shows the instants and days it names (``claims ... were
    accepted until``, ``paid until``): as every shown time, in the configured zone and
    calendar (:func:`~monitor.present.format_time`, :func:`~monitor.present.format_day`),
    to the second when the instant is not a whole minute (a limit is never shown rounded
    past the value refused). None before the configuration was read: ISO 8601 UTC.
    What the user typed is echoed apart, as typed and read (:func:`with_typed`)."""
    settings: Settings | None = vars(args).get(SETTINGS)
    if settings is None:
        return None

    def show(value: dt.date) -> str:
        if isinstance(value, dt.datetime):
            return format_time(value, settings.timezone, settings.calendar,
                               seconds=bool(value.second or value.microsecond))
        return local_day(settings, value)

    return show


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database, which must exist at this version's schema; disposed of on
    exit. Every command but ``db upgrade`` and ``run`` opens it here.

    *Decision*: only ``db upgrade`` and ``run`` create a database. A read run in
    the wrong directory would report 100 % for everyone from a fresh empty database, and
    a write would record into one the daemon never reads: both exit 2 naming the database
    looked for and how to point at the right one. A database behind this version's
    schema is not migrated on the way: the command says to run ``db upgrade``.
    """
    try:
        db = await Database.open_existing(settings.storage.url, settings.storage.busy_timeout)
    except SchemaError as exc:
        raise exc.advised(*_advice(exc, settings)) from None
    try:
        yield db
    except Exception as exc:
        # Away in the middle of the command (a restart, the network): the store's one
        # clear error, as when it is away from the start, never the driver's traceback.
        if not db.outage(exc) or isinstance(exc, MonitorError):
            raise
        error = db.unavailable(exc)
        raise type(error)(f"{error}; the command stopped there: what it wrote before stays "
                          "written; run it again when the database answers") from None
    finally:
        await db.dispose()


def _advice(error: SchemaError, settings: Settings) -> list[str]:
    """The command line's advice for ``error``: why it looked there, and what to do."""
    source = settings.source
    command = shlex.join(["sla-monitor", *(["-c", str(source)] if source else []), "db",
                          "upgrade"])
    if error.state == "behind":
        return [
            "nothing was changed; upgrade it first (what `run` does at start; back it up "
            f"before): {command}"
        ]
    if error.state == "unknown":
        return ["nothing was changed; use the sla-monitor version that upgraded it"]
    if error.state == "pre-release":
        return ["nothing was changed"]
    return [
        "nothing was created; " + _looked_there(settings),
        "to use the daemon's database: -c CONFIG (the daemon's configuration, with its "
        "storage.url), or STATE_DIRECTORY=/var/lib/sla-monitor (the systemd service's state "
        f"directory); to start a new, empty database here: {command}",
    ]


def _looked_there(settings: Settings) -> str:
    """Why the command looked where it did: storage.url, or the default and its inputs."""
    source = settings.source
    if source is not None and settings.storage.url:
        return f"it looked there because {source} sets storage.url"
    subject = (
        f"{source} does not set storage.url"
        if source is not None
        else "there is no configuration file (the embedded defaults)"
    )
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    where = f"($STATE_DIRECTORY is {state})" if state else "($STATE_DIRECTORY is not set here)"
    return (
        f"it looked there because {subject}: the default is sla-monitor.db in "
        f"$STATE_DIRECTORY, else the current directory {where}"
    )


def time_option(args: argparse.Namespace, field: str, settings: Settings) -> dt.datetime | None:
    """The option ``--field`` read as a time (ISO 8601, or on a Jalali provider a time of its
    calendar: :func:`~monitor.present.parse_time`; without an offset in the configured
    zone); None when it was not given. What was typed is kept on ``args`` (:func:`typed`), so
    that an error about this value echoes it as the user typed it."""
    text: str | None = getattr(args, field)
    if text is None:
        return None
    vars(args).setdefault(TYPED, {})[field] = text
    return parse_time(text, settings.timezone, field, settings.calendar)


def _already_utc(text: str) -> bool:
    """A time typed in UTC: its UTC form would only repeat it."""
    return text.strip().upper().endswith(("Z", "+00:00"))


def time_arg(args: argparse.Namespace, field: str, settings: Settings) -> dt.datetime:
    """A required time option (argparse ensured it was given): :func:`time_option`."""
    at = time_option(args, field, settings)
    assert at is not None, f"--{field} is required by its parser"
    return at


def with_typed(error: InputError, args: argparse.Namespace) -> InputError:
    """``error`` showing what the user typed for its field (when the command line read it
    into another form), then the UTC instant it was read as unless it was typed in UTC."""
    found: dict[str, str] = vars(args).get(TYPED, {})
    text = found.get(error.field)
    if text is None:
        return error
    plain = error.field in vars(args).get(AS_TYPED, set())
    return error.as_typed(text, read_as=not plain and not _already_utc(text))


def keep_typed(args: argparse.Namespace, field: str, text: str) -> None:
    """Remember ``text`` as what the user typed for ``field``: an action's error about it
    shows it as typed (:func:`with_typed`), not as read."""
    vars(args).setdefault(TYPED, {})[field] = text
    vars(args).setdefault(AS_TYPED, set()).add(field)


def print_json(value: object) -> None:
    """The one JSON printer of the command line (``--format json`` of every command): one
    document (:func:`json_text`) on standard output."""
    print(json_text(value))


def actor() -> str:
    """Who is acting, for the audit log: the sudo user, else the login user."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli"


def add_time_help(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Times are ISO 8601 (2026-03-21T14:30); without an offset they are in the configured "
        "time zone (provider.timezone). With the Jalali calendar (provider.calendar) a time "
        "may also be written in it, as times are shown: 1405/01/01 14:30 or 1405-01-01T14:30."
    )


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    kinds = choices or ("table", "json")
    parser.add_argument("--format", choices=kinds, default=kinds[0], help=f"default: {kinds[0]}")
    if "table" in kinds:
        add_wide(parser)


def add_wide(parser: argparse.ArgumentParser) -> None:
    """``--wide``, on every command that prints a table (README: *Tables fit the terminal*)."""
    parser.add_argument(
        "--wide", action="store_true",
        help="tables as wide as their longest cells (default: wrapped to fit the terminal)",
    )


def run_async(
    coroutine: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """A command handler that runs an async command in a fresh event loop."""
    return lambda args: asyncio.run(coroutine(args))


@dataclass(frozen=True)
class Run:
    """One run of a command, as every command that reads or writes records starts it: the
    parsed arguments, the settings read once, and the time it started."""

    args: argparse.Namespace
    settings: Settings
    now: dt.datetime

    def at(self) -> dt.datetime | None:
        """``--at T`` when given (:func:`parse_at`)."""
        return parse_at(self.args, self.settings)

    def time(self, field: str) -> dt.datetime:
        """A required time argument (:func:`time_arg`)."""
        return time_arg(self.args, field, self.settings)

    def month_span(self, month: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The start and end of ``month`` in the configured calendar (None, None without
        one)."""
        if not month:
            return None, None
        period = self.settings.month(month)
        return period.start, period.end

    def database(self) -> AbstractAsyncContextManager[Database]:
        """The configured database, open for the block (:func:`database`)."""
        return database(self.settings)

    async def act(self, action: Callable[..., Awaitable[Any]], *arguments: Any,
                  **keywords: Any) -> Any:
        """``action`` called with the database (opened for it, disposed of after), then
        ``arguments`` and ``keywords``."""
        async with self.database() as db:
            return await action(db, *arguments, **keywords)

    def show(self, result: object, text: Callable[[], object]) -> int:
        """``--format json``: ``result`` as JSON; else what ``text()`` gives, printed with
        control characters escaped (a note's ESC never recolours or clears the terminal)."""
        if self.args.format == "json":
            print_json(result)
        else:
            print(printable_lines(str(text())))
        return 0


def command(
    body: Callable[[Run], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """A command handler: reads the settings, notes the time, and runs ``body`` in a
    fresh event loop (:func:`run_async`)."""

    async def start(args: argparse.Namespace) -> int:
        return await body(Run(args, load_settings(args), SystemClock().now()))

    return run_async(start)


WHOLE_NUMBER = "a whole number in ASCII digits (0-9)"
_WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")


def whole_number(text: str) -> int:
    """The argparse type of every id and count of the command line (``ID``, ``--revision``,
    ``--workers``): ASCII digits only. ``int()`` reads any Unicode decimal digit (``۲``,
    ``٢``) and ``1_0``, which the HTTP API refuses; an id was resolved, and written with,
    from Persian digits. The bounds are the action's (ids from 1 to 2^31-1, MAX_ID), which
    names them."""
    if _WHOLE_NUMBER.fullmatch(text.strip()) is None:
        raise argparse.ArgumentTypeError(WHOLE_NUMBER + in_ascii_digits(text))
    return int(text)


def parse_decimal(text: str, field: str, example: str = "2500000",
                  args: argparse.Namespace | None = None) -> Decimal:
    """A number as typed (money, days), exactly: never through a float; in ASCII digits
    (``Decimal()`` reads any Unicode digit, ``۵``, as :func:`whole_number` says). With
    ``args``, an action's error about it shows it as typed (:func:`keep_typed`); its
    bounds are the action's."""
    if args is not None:
        keep_typed(args, field, text)
    if not text.isascii():
        raise InputError(field, text, f"a number like {example}")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(field, text, f"a number like {example}") from None
    if not value.is_finite():
        raise InputError(field, text, f"a number like {example}")
    return value


def parse_day(args: argparse.Namespace, field: str, settings: Settings) -> dt.date:
    """The option ``--field`` read as a day of the configured calendar, as ``--month`` is
    a month of it (:func:`monitor.sla.calendar_day`: a day of the other calendar is caught
    and named); an action's error about it shows it as typed (:func:`keep_typed`)."""
    text: str = getattr(args, field)
    keep_typed(args, field, text)
    return settings.day(text, field)


def parse_at(args: argparse.Namespace, settings: Settings) -> dt.datetime | None:
    """``--at T`` when given (the configured zone without an offset): :func:`time_option`."""
    return None if getattr(args, "at", None) is None else time_option(args, "at", settings)


def add_at(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--at", metavar="T", help=f"when {what} (default: now; not in the future)")
    add_time_help(parser)


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def check_output(target: str | None) -> os.stat_result | None:
    """``-o FILE`` may be written (:func:`write_output`): a regular file or a new one in an
    existing directory; its status when it exists. Commands call it before their work too
    (a PDF is not rendered for ``-o /dev/full``)."""
    if target is None:
        return None
    path = Path(target)
    if not path.parent.is_dir():
        raise UsageError(f"-o/--output: {target!r} is not valid; allowed: a file in an existing "
                         f"directory ({path.parent} does not exist)")
    try:
        found = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"-o/--output: cannot write {target!r}: {exc.strerror}; nothing was "
                         "written") from None
    if not stat.S_ISREG(found.st_mode):
        what = next((name for test, name in _KINDS if test(found.st_mode)), "not a file")
        raise UsageError(f"-o/--output: {target!r} is not valid; allowed: a regular file (it "
                         f"is {what}); nothing was written")
    return found


def write_output(data: str | bytes, target: str | None, *, binary: bool = False) -> None:
    """``data`` to ``-o FILE``, else standard output; binary data never to a terminal.

    ``FILE`` is only ever a regular file: a path that exists as anything else (``/dev/full``,
    a directory, a FIFO, a symbolic link) is refused before anything is written. The data
    goes to a temporary file created beside it, is flushed to the disk, then renamed over
    it (a reader sees the old file or the new one, whole); on any failure (a full disk, no
    permission) the temporary file is removed and one line says why (exit 2). The file
    gets the mode of the one it replaces, else the usual mode of a new file (umask)."""
    if target is None:
        if binary:
            if sys.stdout.isatty():
                raise UsageError("-o/--output: a PDF is binary and standard output is a "
                                 "terminal; give -o FILE (or redirect: > statement.pdf)")
            sys.stdout.buffer.write(data if isinstance(data, bytes) else data.encode())
            sys.stdout.buffer.flush()
        else:
            print(data, end="" if isinstance(data, str) and data.endswith("\n") else "\n")
        return
    path = Path(target)
    found = check_output(target)
    if found is not None:
        mode = stat.S_IMODE(found.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    partial: str | None = None
    try:
        descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                               dir=path.parent)
        with os.fdopen(descriptor, "wb") as file:
            file.write(raw)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(partial, path)
        partial = None
    except OSError as exc:
        raise UsageError(f"-o/--output: cannot write {target!r}: {exc.strerror or exc}; "
                         "nothing was written") from None
    finally:
        if partial is not None:
            with contextlib.suppress(OSError):
                os.unlink(partial)
    print(f"wrote {path} ({len(raw)} bytes)", file=sys.stderr)
