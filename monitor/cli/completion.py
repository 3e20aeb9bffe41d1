"""``sla-monitor completion bash|zsh|tcsh``: the shell's tab completion of every command,
subcommand and option (and of the values an option chooses from), made by ``shtab`` from the
command line's own parsers, so that it is never out of step with them. Static: completing
asks no process, reads no configuration and no database (ids are typed)."""

from __future__ import annotations

import argparse

from monitor.cli.commands import summary

SHELLS = ("bash", "zsh", "tcsh")


def _print(args: argparse.Namespace) -> int:
    import shtab

    from monitor.cli import build_parser

    print(shtab.complete(build_parser(), args.shell), end="")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "completion",
        help=summary("completion"),
        description="Print the shell's tab completion of sla-monitor's commands, subcommands "
        "and options. Install it once, e.g. for bash: sla-monitor completion bash > "
        "/etc/bash_completion.d/sla-monitor (or ~/.local/share/bash-completion/completions/"
        "sla-monitor), for zsh: sla-monitor completion zsh > \"${fpath[1]}/_sla-monitor\".",
    )
    parser.add_argument("shell", metavar="SHELL", choices=SHELLS,
                        help="bash, zsh or tcsh")
    parser.set_defaults(handler=_print)
