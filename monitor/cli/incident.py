"""``sla-monitor incident add|list|cause|notified|update``."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.actions import IncidentRecord
from monitor.actions.incidents import UPDATE_STATUSES
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_format,
    add_time_help,
    command,
    local_time,
    whole_number,
)
from monitor.present import format_duration, format_time, text_table
from monitor.sla import CAUSES, seconds_between


@command
async def _add(run: Run) -> int:
    args = run.args
    incident = await run.act(
        actions.add_incident, run.settings, service=args.service, start=run.time("start"),
        end=run.time("end"), cause=args.cause, note=args.note, actor=actor(), now=run.now)
    settings = run.settings

    def said() -> str:  # the times as they were read, as every time is shown
        lasted = ("" if incident.end is None else  # --end is required: never open
                  f" to {local_time(settings, incident.end)}, "
                  f"{format_duration(seconds_between(incident.start, incident.end))}")
        return (f"incident {incident.id} recorded on {incident.service_id}: "
                f"{local_time(settings, incident.start)}{lasted}, cause {incident.cause}")

    return run.show(incident, said)


def _rows(found: list[IncidentRecord], timezone: str, calendar: str) -> list[list[object]]:
    return [
        [
            i.id,
            i.service_id,
            format_time(i.start, timezone, calendar, seconds=True),
            format_time(i.end, timezone, calendar, seconds=True),
            format_duration(seconds_between(i.start, i.end)) if i.end else "open",
            i.source,
            i.cause,
            format_duration(seconds_between(i.start, i.detected_at)) if i.detected_at else "-",
            i.note or "",
        ]
        for i in found
    ]


@command
async def _list(run: Run) -> int:
    args, settings = run.args, run.settings
    since, until = run.month_span(args.month)
    found = await run.act(
        actions.list_incidents,
        settings,
        since=since,
        until=until,
        service=args.service,
        open_only=args.open,
    )
    headers = ["id", "service", "start", "end", "duration", "source", "cause",
               "detected after", "note"]
    return run.show(found, lambda: text_table(
        headers, _rows(found, settings.timezone, settings.calendar)))


@command
async def _cause(run: Run) -> int:
    args = run.args
    changed = await run.act(actions.change_cause, incident_id=args.id, cause=args.cause,
                            reason=args.reason, actor=actor(), now=run.now)
    return run.show(changed, lambda: (
        f"incident {args.id}: cause {changed.old_cause} -> {changed.incident.cause}"))


@command
async def _update(run: Run) -> int:
    args = run.args
    posted = await run.act(actions.post_update, incident_id=args.id, status=args.status,
                           message=args.message, actor=actor(), now=run.now)
    return run.show(posted, lambda: (
        f"incident {args.id}: update {posted.update.id} posted ({posted.update.status})"))


@command
async def _notified(run: Run) -> int:
    args = run.args
    logged = await run.act(
        actions.log_notification, run.settings, incident_id=args.id, at=run.time("at"),
        channel=args.channel, customers=args.customer or (), note=args.note, actor=actor(),
        now=run.now)
    return run.show(logged, lambda: (
        f"incident {logged.incident_id}: {logged.channel} notification logged for "
        f"{', '.join(logged.customers)} at {local_time(run.settings, logged.at)}"))


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "incident",
        help=summary("incident"),
        description="Record and list incidents (full outages).",
    )
    sub = parser.add_subparsers(dest="incident_command", metavar="COMMAND", required=True)

    add = sub.add_parser(
        "add",
        help="record a manual incident (an outage probes could not see)",
        description="Record a manual incident on a service or server, e.g. an "
        "outage reported by phone or one inside unknown time (R-M3).",
    )
    add.add_argument("--service", required=True, help="service or server id")
    add.add_argument("--start", required=True, help="when the outage began")
    add.add_argument("--end", required=True, help="when it ended")
    add.add_argument("--cause", default="provider", help="one of: " + ", ".join(CAUSES))
    add.add_argument("--note", help="free text kept with the incident")
    add_format(add)
    add_time_help(add)
    add.set_defaults(handler=_add)

    lst = sub.add_parser("list", help="list incidents", description="List incidents.")
    lst.add_argument("--month", help="only those touching this month (configured calendar)")
    lst.add_argument("--service", help="only this service or server")
    lst.add_argument("--open", action="store_true", help="only open incidents")
    add_format(lst)
    lst.set_defaults(handler=_list)

    cause = sub.add_parser(
        "cause",
        help="change an incident's cause (audited)",
        description="Change an incident's cause; the change and its reason "
        "are kept in the audit log (R-EX).",
    )
    cause.add_argument("id", metavar="ID", type=whole_number, help="incident id")
    cause.add_argument("--cause", required=True, help="one of: " + ", ".join(CAUSES))
    cause.add_argument("--reason", required=True, help="why (kept in the audit log)")
    add_format(cause)
    cause.set_defaults(handler=_cause)

    notified = sub.add_parser(
        "notified",
        help="log a notification made by phone or e-mail",
        description="Log that customers were told of an incident outside "
        "the outbox, e.g. by phone (R-N1). Without --customer, every "
        "customer affected by the incident.",
    )
    notified.add_argument("id", metavar="ID", type=whole_number, help="incident id")
    notified.add_argument("--at", required=True, help="when the customer was told")
    notified.add_argument("--channel", required=True, help="phone or email")
    notified.add_argument("--customer", action="append", help="customer id (repeatable)")
    notified.add_argument("--note", help="e.g. who was called")
    add_format(notified)
    add_time_help(notified)
    notified.set_defaults(handler=_notified)

    update = sub.add_parser(
        "update",
        help="post an operator's update (shown on the status page)",
        description="Post what the operators know of an incident, with a status; shown on "
        "the status page, the incident's page, the Atom feed and the Statuspage JSON when "
        "the incident is a public service's (audited).",
    )
    update.add_argument("id", metavar="ID", type=whole_number, help="incident id")
    update.add_argument("--status", required=True,
                        help="one of: " + ", ".join(UPDATE_STATUSES))
    update.add_argument("--message", required=True,
                        help="what is known and what is being done (public)")
    add_format(update)
    update.set_defaults(handler=_update)
