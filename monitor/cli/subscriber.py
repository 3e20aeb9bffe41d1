"""``sla-monitor subscriber list|remove``: the status page's e-mail subscribers."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.cli.commands import summary
from monitor.cli.common import Run, actor, add_format, command
from monitor.present import format_time, text_table


@command
async def _list(run: Run) -> int:
    settings = run.settings
    found = await run.act(actions.list_subscribers)

    def table() -> str:
        rows = [[s.id, s.email, ",".join(s.services) or "-",
                 ",".join(s.requested) if s.requested is not None else "-",
                 format_time(s.confirmed_at, settings.timezone, settings.calendar)
                 if s.confirmed_at else "not confirmed", s.language] for s in found]
        return text_table(["id", "email", "services", "requested", "confirmed", "language"],
                          rows)

    return run.show(found, table)


@command
async def _remove(run: Run) -> int:
    removed = await run.act(actions.remove_subscriber, email=run.args.email, actor=actor(),
                            now=run.now)
    return run.show(removed, lambda: f"subscriber {removed.id} ({removed.email}) removed")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "subscriber", help=summary("subscriber"),
        description="The status page's e-mail subscribers (double opt-in; each notice "
        "carries a one-click unsubscribe link).")
    sub = parser.add_subparsers(dest="subscriber_command", metavar="COMMAND", required=True)
    lst = sub.add_parser("list", help="list subscribers, confirmed or not",
                         description="List the subscribers: address, confirmed services, a "
                         "request waiting for confirmation, when confirmed.")
    add_format(lst)
    lst.set_defaults(handler=_list)
    remove = sub.add_parser("remove", help="remove an address (a complaint, a bounce)",
                            description="Remove an address and its subscription (audited).")
    remove.add_argument("email", metavar="EMAIL", help="the subscriber's address")
    add_format(remove)
    remove.set_defaults(handler=_remove)
