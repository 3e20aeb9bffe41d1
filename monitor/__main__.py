"""``python -m monitor`` and the ``sla-monitor`` command.

For ``run``, SIGHUP is caught before the command-line package (and everything it
imports, about 0.7 s) is loaded: an early reload request is remembered, never fatal
(:mod:`monitor.early`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from monitor import early


def command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (after global options).

    >>> command(["-c", "run", "check-config"]), command(["--config=x.yaml", "run"])
    ('check-config', 'run')
    """
    skip = False
    for argument in argv:
        if skip:
            skip = False
        elif argument in ("-c", "--config"):
            skip = True
        elif not argument.startswith("-"):
            return argument
    return None


def main() -> int:
    if command(sys.argv[1:]) == "run":
        early.install()
    from monitor.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
