"""The ``sla-monitor`` command.

Each command lives in its own module with a ``register(subparsers)`` function
that adds its parser (its one-line help from :mod:`monitor.cli.commands`, the table of
commands) and sets ``handler``; a run imports only the module of the command it runs.
A handler parses its arguments,
calls the actions (:mod:`monitor.actions`) and renders what they return
(:mod:`monitor.present`). Exit codes: 0 success, 2 usage or configuration error
(one clear message per problem, no traceback; an action's error names its field,
shown here as the flag, :func:`monitor.cli.common.flag`), 1 an unexpected
runtime error.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

from monitor import __version__
from monitor.cli.commands import COMMANDS, command_word, module_of
from monitor.errors import InputError, UsageError

# What a command imports (SQLAlchemy, pydantic, aiohttp, ...) is loaded only for that
# command: ``sla-monitor --version`` and ``--help`` read only the table of commands
# (monitor/cli/commands.py), and ``sla-monitor incident list`` imports monitor.cli.incident
# and what it needs, not the other commands' modules.
MODULES = tuple(dict.fromkeys(command.module for command in COMMANDS))


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line and no traceback (its default too).

    Every value an argument takes (option or positional, of every command: their parsers
    are this class too) is read through :func:`checked`: text that is not UTF-8 is refused
    there, once for all, and an argument type's error (:func:`monitor.cli.common.whole_number`)
    becomes an :class:`~monitor.errors.InputError` naming the argument and its value as
    typed, one line like every other bad value's.

    ``chosen``: the parsers one command line went through, the top-level one then each
    (sub)command's (shared by them): argparse finds an option no parser took only at the
    end, in the top-level parser, and the last command chosen answers it."""

    def __init__(self, *args: Any, chosen: list[Parser] | None = None, **kwargs: Any) -> None:
        self.chosen: list[Parser] = [] if chosen is None else chosen
        self.options: set[str] = set()  # this parser's long options (:func:`nearest`)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.chosen.append(self)  # argparse reads a command's arguments with this too
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """argparse's own refusals (a word that is no command, an option no parser has),
        with a byte that is not UTF-8 shown as typed (``'\\xff'``), not as the surrogate read
        into (``'\\udcff'``), and the nearest word when one is near (:func:`nearest`).
        An option no parser took is refused by the command it was given to (its name and
        usage), compared with that command's own options."""
        answering = self.chosen[-1] if self.chosen else self
        if answering is not self and message.startswith("unrecognized arguments"):
            answering.error(message)
        super().error(_bytes_as_typed(message) + nearest(message, self.options))

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Each command's parser (nested ones too) is a :class:`CommandParser`."""
        kwargs.setdefault("parser_class", functools.partial(CommandParser, chosen=self.chosen))
        return super().add_subparsers(**kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options.update(o for o in action.option_strings if o.startswith("--"))
        if action.nargs not in (0, argparse.REMAINDER, argparse.PARSER):
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            action.type = checked(name, action.type)
        return action


def nearest(message: str, options: Iterable[str]) -> str:
    """What to add to argparse's refusal ``message``: "; did you mean ...?" naming the
    command nearest the word it did not know (from the choices it lists), or the option
    nearest the first unknown one (of ``options``); nothing when none is near (difflib's
    ratio of 0.6, as Python's own suggestions).

    >>> nearest("argument COMMAND: invalid choice: 'incidents' (choose from 'run', 'incident')", ())
    "; did you mean 'incident'?"
    >>> nearest("unrecognized arguments: --mnth 2026-10", ["--month", "--format"])
    '; did you mean --month?'
    >>> nearest("unrecognized arguments: --zzz", ["--month"])
    ''
    """
    chosen = re.search(r"invalid choice: '(.*?)' \(choose from (.*)\)$", message)
    if chosen is not None:
        found = difflib.get_close_matches(chosen[1], re.findall(r"'(.*?)'", chosen[2]), n=1)
        return f"; did you mean '{found[0]}'?" if found else ""
    unknown = re.match(r"unrecognized arguments: (--?[^\s=]+)", message)
    if unknown is not None:
        found = difflib.get_close_matches(unknown[1], sorted(options), n=1)
        return f"; did you mean {found[0]}?" if found else ""
    return ""


#: The configuration option, the top-level parser's and each command's (:class:`CommandParser`).
CONFIG_OPTION = ("-c", "--config")
CONFIG_HELP = ("configuration file (default: $SLA_MONITOR_CONFIG, else "
               "/etc/sla-monitor/config.yaml if present, else the embedded defaults)")


class CommandParser(Parser):
    """A command's parser: it takes the configuration option too, so that it may follow
    the command (``sla-monitor check-config -c config.yaml``, an operator's habit from git,
    kubectl or ansible). Its default is to say nothing: the top-level parser's value stands
    unless the option is given after the command, which then wins (argparse reads a
    command's options after the top-level ones)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(*CONFIG_OPTION, metavar="PATH", dest="config",
                          default=argparse.SUPPRESS, help=CONFIG_HELP)


def checked(name: str, read: Callable[[str], Any] | Any) -> Callable[[str], Any]:
    """The type of the argument ``name``: its text must be UTF-8 (what the shell passes
    are bytes; Python reads those that are not UTF-8 as lone surrogates, which no database,
    file or terminal takes), then ``read`` (argparse's ``type``; None: the text) reads it.
    Either refusal is an :class:`InputError` naming ``name``, shown as typed (:class:`AsTyped`)."""

    def read_checked(text: str) -> Any:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(name, AsTyped(text), "text in UTF-8 (it is not; the bytes that "
                             "are not are shown as \\xNN)") from None
        if read is None:
            return text
        try:
            return read(text)
        except argparse.ArgumentTypeError as exc:
            raise InputError(name, AsTyped(text), str(exc)) from None

    # argparse names the type in its own errors ("invalid int value"): the one wrapped.
    read_checked.__name__ = getattr(read, "__name__", "str")
    return read_checked


@dataclass(frozen=True)
class AsTyped:
    """An argument as the user typed it, for an error: shown as ``repr`` shows text (control
    characters escaped), but a byte that is not UTF-8 as ``\\xff``, as the shell's
    ``$'\\xff'`` writes it, not as the surrogate Python read it into (``\\udcff``)."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return _bytes_as_typed(repr(self.text))


def _bytes_as_typed(shown: str) -> str:
    """``shown`` (a ``repr``'s output) with each surrogate that stands for a byte that is
    not UTF-8 (``\\udcff``) written as the byte (``\\xff``)."""
    return _SURROGATE_ESCAPE.sub(
        lambda found: found[0] if found[1] is None else "\\x" + found[1], shown)


# In repr's output: an escaped backslash (kept), or a surrogate that stands for a byte.
_SURROGATE_ESCAPE = re.compile(r"\\\\|\\udc([89a-f][0-9a-f])")


def command_module(name: str) -> ModuleType:
    """The module ``monitor.cli.NAME`` (a command's: it has ``register(commands)``)."""
    return importlib.import_module(f"{__name__}.{name}")


def build_parser(modules: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. ``modules``: the command modules (monitor/cli/NAME.py) to
    register in full; every other command gets a stand-in with its one-line help (so that
    ``--help`` lists them all) that takes any arguments. None: every module in full."""
    full = set(MODULES if modules is None else modules)
    parser = Parser(
        prog="sla-monitor",
        description="Uptime monitor with an SLA credit engine: probes services, opens incidents, "
        "keeps notification duties and computes the service credits the contract owes.",
    )
    parser.add_argument("--version", action="version", version=f"sla-monitor {__version__}")
    parser.add_argument(*CONFIG_OPTION, metavar="PATH", help=CONFIG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registered: set[str] = set()
    for command in COMMANDS:
        if command.module in full:
            if command.module not in registered:
                command_module(command.module).register(commands)
                registered.add(command.module)
            continue
        stand_in = commands.add_parser(command.name, help=command.help, add_help=False)
        stand_in.add_argument("arguments", nargs=argparse.REMAINDER)
        stand_in.set_defaults(handler=None)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed with only the named command's module loaded.

    The command word is guessed first (:func:`monitor.cli.commands.command_word`); when
    argparse finds another (``--conf PATH incident``: an abbreviated option), the command
    it found is loaded and ``argv`` parsed again."""
    guessed = module_of(command_word(argv))
    args = build_parser([guessed] if guessed else []).parse_args(argv)
    found = module_of(args.command)
    if found != guessed and found is not None:
        args = build_parser([found]).parse_args(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else list(argv))
    except UsageError as exc:
        # An argument's value refused as it was read (Parser): it names the argument itself.
        from monitor.logs import for_stderr

        print(for_stderr(f"sla-monitor: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    # After the parse: --version and --help have exited without these.
    from monitor.cli.common import flag, shown_in_errors, with_typed
    from monitor.errors import MonitorError
    from monitor.logs import for_stderr
    from monitor.present.tables import terminal_width, width_for_tables

    try:
        with width_for_tables(None if getattr(args, "wide", False) else terminal_width()):
            return int(args.handler(args))
    except InputError as exc:
        # Actions name fields (end); the command line says --end, and echoes the value as
        # the user typed it before the form it was read as. The instants and days the
        # action names (a deadline) are shown as every time is: the configured zone and
        # calendar.
        typed = with_typed(exc, args)
        show = shown_in_errors(args)
        shown = typed.renamed(flag) if show is None else typed.renamed(flag, show)
        print(for_stderr(f"sla-monitor: error: {shown}"), file=sys.stderr)
        return exc.exit_code
    except MonitorError as exc:
        print(for_stderr(f"sla-monitor: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sla-monitor report ... | head`: the reader has all it wanted. Quietly, with the
        # status a filter killed by SIGPIPE has (128 + 13), and no second error at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception:
        import traceback

        print(for_stderr(traceback.format_exc().rstrip("\n"), priority=2), file=sys.stderr)
        print(
            for_stderr("sla-monitor: unexpected error (a bug; the traceback is above)", 2),
            file=sys.stderr,
        )
        return 1
