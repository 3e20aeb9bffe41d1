"""``sla-monitor outbox list|retry``: the e-mails queued, sent and given up, and a given-up
one sent again (:mod:`monitor.actions.outbox`)."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.actions.outbox import MESSAGE_STATUSES, MessageLine
from monitor.cli.commands import summary
from monitor.cli.common import Run, actor, add_format, command, local_time, whole_number
from monitor.config import Settings
from monitor.present import text_table


def _table(found: list[MessageLine], settings: Settings) -> str:
    rows = [[m.id, m.kind, m.customer_id or "-", ", ".join(m.recipients), m.status,
             m.attempts, local_time(settings, m.created_at, seconds=True),
             local_time(settings, m.accepted_at, seconds=True), m.last_error or "",
             m.subject] for m in found]
    return text_table(["id", "kind", "customer", "recipients", "status", "attempts",
                       "queued", "accepted", "last error", "subject"], rows)


@command
async def _list(run: Run) -> int:
    found = await run.act(actions.list_messages, status=run.args.status, limit=run.args.limit)
    return run.show(found, lambda: _table(found, run.settings) if found else "no messages")


@command
async def _retry(run: Run) -> int:
    args = run.args
    again = await run.act(actions.retry_messages, run.settings, ids=args.ids,
                          all_failed=args.all_failed, actor=actor(), now=run.now)

    def text() -> str:
        if not again:
            return "nothing to send again (given-up alerts are sent again only by id)"
        return (f"{len(again)} message(s) due again: "
                + ", ".join(str(m.id) for m in again) + "\n"
                + "".join(f"  {m.id} {m.kind} to {', '.join(m.recipients)}\n" for m in again)
                + "the daemon sends them within its poll interval (while it runs)")

    return run.show(again, text)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "outbox", help=summary("outbox"),
        description="The e-mails the daemon queued (D-2): where each stands, and a given-up "
        "one sent again once what refused it is mended.")
    sub = parser.add_subparsers(dest="outbox_command", metavar="COMMAND", required=True)
    lst = sub.add_parser("list", help="list messages, newest first",
                         description="List the outbox's messages, newest first: kind, "
                         "customer, recipients, status, attempts, when queued and accepted, "
                         "the last error.")
    lst.add_argument("--status", choices=MESSAGE_STATUSES,
                     help="only messages that stand so (failed: given up)")
    lst.add_argument("--limit", type=whole_number, default=100, metavar="N",
                     help="at most N messages (default: 100)")
    add_format(lst)
    lst.set_defaults(handler=_list)
    retry = sub.add_parser(
        "retry", help="send given-up messages again",
        description="Send given-up messages again (the same message and Message-ID), once "
        "what refused them is mended: the SMTP server's rule or password, a customer's full "
        "mailbox, an address corrected in the configuration. Each goes to whom the "
        "configuration now names for it (a customer's contacts, the operators). Each is "
        "audited; an outage e-mail's acceptance is then "
        "the customer's notification (R-N1). The running daemon sends them within its poll "
        "interval. A message that is not given up refuses the whole command.")
    chosen = retry.add_mutually_exclusive_group(required=True)
    chosen.add_argument("ids", metavar="ID", type=whole_number, nargs="*", default=[],
                        help="a given-up message's id (outbox list --status failed)")
    chosen.add_argument("--all-failed", action="store_true",
                        help="every message given up, but the operators' alerts that one "
                        "was (they would tell of failures being mended)")
    add_format(retry)
    retry.set_defaults(handler=_retry)
