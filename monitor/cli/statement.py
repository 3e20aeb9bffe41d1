"""``sla-monitor statement show|send``: a customer's monthly SLA statement from a
frozen report revision (R-C3), as HTML, PDF, CSV or JSON, and its e-mail to each customer."""

from __future__ import annotations

import argparse
import sys

from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.actions.links import unavailable_link_key
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    check_output,
    command,
    database,
    load_settings,
    print_json,
    run_async,
    whole_number,
    write_output,
)
from monitor.cli.progress import progress
from monitor.clock import SystemClock
from monitor.config import Settings
from monitor.notify import Notifier
from monitor.notify.contract import ContractMailer
from monitor.present import format_time, json_text
from monitor.present.statement import statement_csv, statement_html, statement_pdf
from monitor.store.outbox import MessageState

#: How long ``statement send`` waits for a message the daemon's outbox worker is sending.
WAIT_FOR_DAEMON = 60.0


def _warn_without_link(settings: Settings) -> None:
    """A statement made where the link key is not readable says to claim by e-mail only."""
    why = unavailable_link_key(settings)
    if why is not None:
        print(f"warning: {why}", file=sys.stderr)


async def _show(args: argparse.Namespace) -> int:
    check_output(args.output)
    settings = load_settings(args)
    now = SystemClock().now()
    async with database(settings) as db:
        view = await actions.statement(db, settings, month=args.month, customer=args.customer,
                                       revision=args.revision, now=now)
    _warn_without_link(settings)
    if args.format == "json":
        write_output(json_text(view), args.output)
    elif args.format == "csv":
        write_output(statement_csv(view), args.output)
    elif args.format == "pdf":
        write_output(statement_pdf(view), args.output, binary=True)
    else:
        write_output(statement_html(view), args.output)
    return 0


#: The statuses whose e-mail ``statement send`` sends now (unless ``--queue-only``): queued by
#: this call, or queued before and not yet accepted (a sender killed in the send, the daemon's
#: outbox retrying).
TO_SEND = ("queued", "already_queued")


@command
async def _send(run: Run) -> int:
    args, settings, now = run.args, run.settings, run.now
    async with run.database() as db:
        with progress("statements", month=args.month) as report:
            result = await actions.send_statements(
                db, settings, month=args.month, customer=args.customer, dry_run=args.dry_run,
                mail=ContractMailer(settings, now), actor=actor(), now=now,
                workers=args.workers, progress=report)
        _warn_without_link(settings)
        keys = [item.dedupe_key for item in result.items if item.dedupe_key]
        send = [item.dedupe_key for item in result.items
                if item.dedupe_key and item.status in TO_SEND and not args.queue_only]
        outcomes: dict[str, MessageState] = {}
        if keys:
            notifier = Notifier(settings, db, SystemClock(), CollectorRegistry())
            if send:
                # A message leased by a process of this host that is gone (kill -9 in a
                # send) is released and sent here; one the daemon is sending, waited for.
                with progress("e-mails", month=args.month) as sent:
                    await notifier.send_now(send, within=WAIT_FOR_DAEMON, progress=sent)
            outcomes = {m.dedupe_key: m for m in await notifier.messages(keys)}
    unsent = [key for key in send if key not in outcomes or outcomes[key].accepted_at is None]
    failed = [item for item in result.items if item.status == "send_failed"]
    if args.format == "json":
        print_json({
            "month": result.month, "revision": result.revision, "frozen": result.frozen,
            "dry_run": result.dry_run,
            "statements": [_item_json(item, outcomes.get(item.dedupe_key or ""))
                           for item in result.items],
        })
    else:
        print("\n".join(_lines(settings, result, outcomes, args.queue_only)))
    return 1 if unsent or failed else 0


def _delivery(message: MessageState | None) -> str | None:
    """Where a statement's e-mail stands: ``sent`` (the server accepted it, or it is in the
    Maildir), ``failed`` (given up), ``queued`` (waiting in the outbox); never "sent" for a
    message the server has not accepted."""
    if message is None:
        return None
    if message.accepted_at is not None:
        return "sent"
    return "failed" if message.status == "failed" else "queued"


def _item_json(item: actions.StatementItem, message: MessageState | None) -> dict[str, object]:
    found: dict[str, object] = {
        "customer": item.customer, "status": item.status, "kind": item.kind,
        "revision": item.revision, "corrects": item.corrects, "changes": list(item.changes),
        "why": item.why,
    }
    if message is not None:
        found.update({"delivery": _delivery(message), "message_id": message.message_id,
                      "recipients": message.recipients, "outbox_status": message.status,
                      "accepted_at": message.accepted_at, "error": message.last_error})
    return found


def _lines(
    settings: Settings, result: actions.StatementsSent, outcomes: dict[str, MessageState],
    queue_only: bool,
) -> list[str]:
    if result.dry_run:
        why = "the month's first" if result.revision == 1 else "the records changed"
        head = (f"{result.month}: would freeze revision {result.revision} ({why})"
                if result.frozen else f"{result.month}: revision {result.revision} stands")
        head += " — dry run: nothing written, nothing sent"
    else:
        head = (f"{result.month}: revision {result.revision} frozen" if result.frozen
                else f"{result.month}: revision {result.revision} (records unchanged)")
    lines = [head]
    tally: dict[str, int] = {}
    for item in result.items:
        label = item.kind or item.status
        message = outcomes.get(item.dedupe_key or "")
        said = item.status.replace("_", " ")  # what the last line counts it as
        if item.status == "would_send":
            text = f"would send a {label} of revision {item.revision}"
            said = "would be sent"
        elif item.status in TO_SEND:
            text = f"{label} of revision {item.revision}: " + _outcome(settings, message, queue_only)
            if item.status == "already_queued":
                text += " (queued by an earlier run)"
            said = _standing(message)
        elif item.status == "already_sent" and message is not None:
            text = "already sent: " + _accepted(settings, message)
        else:
            text = f"{item.status.replace('_', ' ')}: {item.why}"
        tally[said] = tally.get(said, 0) + 1
        if item.corrects is not None and item.status in ("queued", "would_send"):
            # Quoted as the e-mail tells the customer, in its language (the rest is English).
            text += (f"; corrects revision {item.corrects}, as its e-mail tells the customer "
                     f"({settings.reader(item.customer).code}): " + "; ".join(item.changes))
        lines.append(f"  {item.customer}: {text}")
    if not result.items:
        lines.append("  no customer")
    else:  # at 10,000 customers the list is 10,000 lines: the whole in the last
        lines.append(f"{len(result.items):,} customer{'' if len(result.items) == 1 else 's'}: "
                     + ", ".join(f"{count:,} {said}" for said, count in tally.items()))
    return lines


def _standing(message: MessageState | None) -> str:
    """Where a statement queued stands: sent (accepted), failed (given up) or queued."""
    if message is not None and message.accepted_at is not None:
        return "sent"
    return "failed" if message is not None and message.status == "failed" else "queued"


def _outcome(settings: Settings, message: MessageState | None, queue_only: bool) -> str:
    if message is None:
        return "queued; not found in the outbox"
    standing = _standing(message)
    if standing == "sent":
        return "sent: " + _accepted(settings, message)
    if standing == "failed":
        return f"FAILED: {message.last_error}"
    if queue_only:
        return "queued; the daemon's outbox sends it"
    return (f"queued, NOT SENT: not yet accepted ({message.last_error or 'held by the daemon'});"
            " the daemon's outbox retries it")


def _accepted(settings: Settings, message: MessageState) -> str:
    assert message.accepted_at is not None
    where = "written to the Maildir" if settings.smtp is None else "accepted by the SMTP server"
    return (f"{where} {format_time(message.accepted_at, settings.timezone, settings.calendar)}"
            f" for {', '.join(message.recipients)} ({message.message_id})")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "statement", help=summary("statement"),
        description="A customer's monthly SLA statement: availability against the target, "
        "counted, excluded and unknown time, incidents, maintenance, credit lines with their "
        "evidence, the claim deadline and how to claim, from a frozen report revision (R-C3).")
    sub = parser.add_subparsers(dest="statement_command", metavar="COMMAND", required=True)

    show = sub.add_parser(
        "show", help="one customer's statement as HTML, PDF, CSV or JSON",
        description="Render the statement of a closed month (its latest revision, or "
        "--revision N) for one customer. The month must have been closed (report close, "
        "statement send, or the daemon with statements.auto).")
    show.add_argument("--month", required=True, help="YYYY-MM in the configured calendar")
    show.add_argument("--customer", required=True, help="customer id")
    show.add_argument("--revision", type=whole_number, help="a revision number (default: the latest)")
    show.add_argument("--format", choices=["html", "pdf", "csv", "json"], default="html",
                      help="default: html")
    show.add_argument("-o", "--output", metavar="FILE",
                      help="write to FILE (default: standard output; a PDF needs -o or a "
                      "redirect)")
    show.set_defaults(handler=run_async(_show))

    send = sub.add_parser(
        "send", help="e-mail the month's statements (once per customer and revision)",
        description="Close the month (a new revision only if its records changed), then "
        "e-mail each customer's statement to its technical and executive contacts: HTML body, "
        "PDF and CSV attached. Once per customer and revision: sending again sends only what "
        "the mail server has not accepted yet (an earlier run killed or the server down); a "
        "later revision sends a corrected statement saying what changed, only to customers "
        "whose figures changed. Customers whose subscription lapsed (R-EX5) or who run a "
        "clone (R-EX6) get none unless named with --customer. Waits until each message is "
        "accepted by the SMTP server or written to the Maildir, and lists each as sent or "
        "queued (exit 1 when one is not sent). The statements are rendered in worker "
        "processes (--workers; a run killed half-way is resumed by the next, which sends "
        "only what is missing); the progress goes to standard error: a bar on a terminal, "
        "else a JSON log line every 10 s.")
    send.add_argument("--month", required=True, help="YYYY-MM in the configured calendar")
    send.add_argument("--customer", help="only this customer (even a lapsed or clone one)")
    send.add_argument("--dry-run", action="store_true",
                      help="say what would be frozen and sent; write and send nothing")
    send.add_argument("--queue-only", action="store_true",
                      help="queue the e-mails and return; the daemon's outbox sends them")
    send.add_argument("--workers", type=whole_number, metavar="N",
                      help="render the statements in N processes (default: one per core this "
                      "process may use; 0: on a thread of this one)")
    send.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    send.set_defaults(handler=_send)
