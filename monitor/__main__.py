"""``python -m monitor`` and the ``sla-monitor`` command.

For ``run``, SIGHUP is caught before the command's modules (and everything they
import, about 0.7 s) are loaded: an early reload request is remembered, never fatal
(:mod:`monitor.early`).
"""

from __future__ import annotations

import sys

from monitor import early
from monitor.cli.commands import command_word


def main() -> int:
    if command_word(sys.argv[1:]) == "run":
        early.install()
    from monitor.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
