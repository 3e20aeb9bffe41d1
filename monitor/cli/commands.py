"""The command line's commands: each top-level command's name, the module that implements
it and its one-line help, in the order ``sla-monitor --help`` lists them.

This module imports nothing but the standard library's ``dataclasses``: ``sla-monitor
--help`` and ``--version`` list the commands from this table alone, and a command's run
imports only its own module (:func:`monitor.cli.main`). The modules' ``register()``
take their one-line help from here (:func:`summary`), so it is written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "command_word", "module_of", "summary"]


@dataclass(frozen=True)
class Command:
    name: str  # as typed: sla-monitor NAME
    module: str  # monitor.cli.MODULE, whose register() adds it
    help: str  # one line, in sla-monitor --help


COMMANDS: tuple[Command, ...] = (
    Command("demo", "demo",
            "a self-contained demonstration: local targets, mail, an outage, the report"),
    Command("check-config", "check",
            "validate the configuration and show each probe's worst-case detection time"),
    Command("db", "db", "database maintenance"),
    Command("run", "run", "run the monitoring daemon"),
    Command("incident", "incident", "record and list incidents"),
    Command("maintenance", "maintenance", "record and list maintenance windows"),
    Command("subscriber", "subscriber", "the status page's e-mail subscribers: list, remove"),
    Command("outbox", "outbox", "the e-mails queued, sent and given up; send one again"),
    Command("cluster", "cluster", "a cluster's nodes: alive, lost or stopped; retire a lost one"),
    Command("report", "report", "monthly SLA report; 'report close' freezes a revision"),
    Command("statement", "statement", "monthly SLA statements: show one, e-mail them"),
    Command("claim", "claim", "credit claims: submit, decide, list, show"),
    Command("ticket", "ticket", "partial problems and priced requests (tickets)"),
    Command("ledger", "ledger", "each site's credit days, support balance and refunds"),
    Command("customer", "customer", "customer pages: signed links and their key"),
    Command("token", "customer", "API tokens"),
    Command("import", "importing",
            "another monitor's configuration (Gatus, Uptime Kuma) as this one's"),
    Command("evidence", "evidence",
            "the hash-chained evidence: check it, export a month, verify an archive"),
    Command("completion", "completion", "the shell's tab completion of these commands"),
)

_BY_NAME = {command.name: command for command in COMMANDS}

# The global options that take a value (the top-level parser's): the word after them is
# not the command.
VALUED_OPTIONS = ("-c", "--config")


def summary(name: str) -> str:
    """The one-line help of the command ``name``.

    >>> summary("incident")
    'record and list incidents'
    """
    return _BY_NAME[name].help


def module_of(name: str | None) -> str | None:
    """The module (under ``monitor.cli``) of the command ``name``; None for no command or
    an unknown one.

    >>> module_of("token"), module_of("check-config"), module_of("bogus")
    ('customer', 'check', None)
    """
    found = _BY_NAME.get(name) if name is not None else None
    return found.module if found is not None else None


def command_word(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (after the global options), or None.

    A guess made before argparse reads ``argv`` (an abbreviated ``--conf PATH`` fools it);
    :func:`monitor.cli.main` checks it against what argparse then finds.

    >>> command_word(["-c", "run", "check-config"]), command_word(["--config=x.yaml", "run"])
    ('check-config', 'run')
    >>> command_word(["--version"]) is None
    True
    """
    skip = False
    for argument in argv:
        if skip:
            skip = False
        elif argument in VALUED_OPTIONS:
            skip = True
        elif not argument.startswith("-"):
            return argument
    return None
