"""The ``sla-monitor`` command.

Each command lives in its own module with a ``register(subparsers)`` function
that adds its parser and sets ``handler``; a handler parses its arguments,
calls the actions (:mod:`monitor.actions`) and renders what they return
(:mod:`monitor.present`). Exit codes: 0 success, 2 usage or configuration error
(one clear message per problem, no traceback; an action's error names its field,
shown here as the flag, :func:`monitor.cli.common.flag`), 1 an unexpected
runtime error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from monitor import __version__
from monitor.cli import (
    check,
    claim,
    customer,
    db,
    demo,
    incident,
    ledger,
    maintenance,
    report,
    run,
    statement,
    ticket,
)
from monitor.cli.common import flag, with_typed
from monitor.errors import InputError, MonitorError
from monitor.logs import for_stderr
from monitor.present.tables import terminal_width, width_for_tables

COMMAND_MODULES = (
    demo, check, db, run, incident, maintenance, report, statement, claim, ticket, ledger,
    customer,
)


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line and no traceback (its default too)."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sla-monitor",
        description="Uptime monitor with an SLA credit engine: probes services, opens incidents, "
        "keeps notification duties and computes the service credits the contract owes.",
    )
    parser.add_argument("--version", action="version", version=f"sla-monitor {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="configuration file (default: $SLA_MONITOR_CONFIG, else "
        "/etc/sla-monitor/config.yaml if present, else the embedded defaults)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with width_for_tables(None if getattr(args, "wide", False) else terminal_width()):
            return int(args.handler(args))
    except InputError as exc:
        # Actions name fields (end); the command line says --end, and echoes the value as
        # the user typed it before the form it was read as.
        shown = with_typed(exc, args).renamed(flag)
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
        print(for_stderr(traceback.format_exc().rstrip("\n"), priority=2), file=sys.stderr)
        print(
            for_stderr("sla-monitor: unexpected error (a bug; the traceback is above)", 2),
            file=sys.stderr,
        )
        return 1
