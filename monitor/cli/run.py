"""``sla-monitor run``: the daemon."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler

from monitor.cli.commands import summary
from monitor.cli.common import config_path, load
from monitor.logs import setup_logging


def run(args: argparse.Namespace) -> int:
    from monitor.daemon.loop import loop_factory, one_allocator_arena

    one_allocator_arena()  # before any thread starts (the database's, the loop's executor)

    from monitor import actions
    from monitor.app import Daemon  # the daemon's imports are not needed by other commands
    from monitor.config.isolated import load_config_isolated
    from monitor.store import migrate

    # Every action now, not on the event loop at the first request or task that needs one;
    # alembic before the logs are set up.
    actions.load_all()
    # Read in a child process: the daemon never holds the YAML parse's memory (isolated.py).
    # A bad configuration fails here, before anything starts (exit 2).
    path = config_path(args)
    config = load_config_isolated(path) if path is not None else load(args)
    migrate.load_alembic(config.storage.url)  # not when the database is current
    factory, _ = loop_factory(config.monitor.event_loop)  # uvloop required but absent: exit 2
    setup_logging(args.log_level)
    # systemd's watchdog kills a stuck daemon with SIGABRT: the journal then shows every
    # thread's Python stack, i.e. where the event loop was stuck.
    faulthandler.enable()
    daemon = Daemon(config, config_path(args))
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(daemon.serve())
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "run",
        help=summary("run"),
        description="Run the daemon: probes, incidents, duties, outbox and the HTTP server "
        "(/metrics, /healthz, /readyz). Applies pending migrations at start. SIGTERM stops "
        "cleanly; SIGHUP reloads the configuration (a bad one is refused). Logs are JSON "
        "lines on standard error.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default: INFO",
    )
    parser.set_defaults(handler=run)
