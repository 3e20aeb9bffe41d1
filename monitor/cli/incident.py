"""``sla-monitor incident add|list|cause|notified``."""

from __future__ import annotations

import argparse

from monitor import records
from monitor.cli.common import actor, add_time_help, database, load, run_async, table
from monitor.clock import SystemClock
from monitor.config.topology import Topology
from monitor.reports import period_of
from monitor.sla import CAUSES
from monitor.timefmt import parse_time, show_seconds, show_time


async def _add(args: argparse.Namespace) -> int:
    config = load(args)
    tz = config.provider.timezone
    start = parse_time(args.start, tz, "--start")
    end = parse_time(args.end, tz, "--end")
    async with database(config) as engine:
        done = await records.add_incident(
            engine,
            Topology.from_config(config),
            service=args.service,
            start=start,
            end=end,
            cause=args.cause,
            note=args.note,
            actor=actor(),
            now=SystemClock().now(),
        )

    print(done.summary)
    return 0


async def _list(args: argparse.Namespace) -> int:
    config = load(args)
    tz, calendar = config.provider.timezone, config.provider.calendar
    since = until = None
    if args.month:
        period = period_of(config, args.month)
        since, until = period.start, period.end
    async with database(config) as engine:
        found = await records.list_incidents(
            engine, since=since, until=until, service=args.service, open_only=args.open
        )

    rows = [
        [
            i.id,
            i.service_id,
            show_time(i.start, tz, calendar),
            show_time(i.end, tz, calendar),
            show_seconds((i.end - i.start).total_seconds()) if i.end else "open",
            i.source,
            i.cause,
            show_seconds((i.detected_at - i.start).total_seconds()) if i.detected_at else "-",
            i.note or "",
        ]
        for i in found
    ]
    print(
        table(
            [
                "id",
                "service",
                "start",
                "end",
                "duration",
                "source",
                "cause",
                "detected after",
                "note",
            ],
            rows,
        )
    )
    return 0


async def _cause(args: argparse.Namespace) -> int:
    config = load(args)
    async with database(config) as engine:
        done = await records.change_cause(
            engine,
            incident_id=args.id,
            cause=args.cause,
            reason=args.reason,
            actor=actor(),
            now=SystemClock().now(),
        )

    print(done.summary)
    return 0


async def _notified(args: argparse.Namespace) -> int:
    config = load(args)
    at = parse_time(args.at, config.provider.timezone, "--at")
    async with database(config) as engine:
        done = await records.log_notification(
            engine,
            Topology.from_config(config),
            incident_id=args.id,
            at=at,
            channel=args.channel,
            customers=args.customer or [],
            note=args.note,
            actor=actor(),
            now=SystemClock().now(),
        )

    print(done.summary)
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "incident",
        help="record and list incidents",
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
    add_time_help(add)
    add.set_defaults(handler=run_async(_add))

    lst = sub.add_parser("list", help="list incidents", description="List incidents.")
    lst.add_argument("--month", help="only those touching this month (configured calendar)")
    lst.add_argument("--service", help="only this service or server")
    lst.add_argument("--open", action="store_true", help="only open incidents")
    lst.set_defaults(handler=run_async(_list))

    cause = sub.add_parser(
        "cause",
        help="change an incident's cause (audited)",
        description="Change an incident's cause; the change and its reason "
        "are kept in the audit log (R-EX).",
    )
    cause.add_argument("id", metavar="ID", type=int, help="incident id")
    cause.add_argument("--cause", required=True, help="one of: " + ", ".join(CAUSES))
    cause.add_argument("--reason", required=True, help="why (kept in the audit log)")
    cause.set_defaults(handler=run_async(_cause))

    notified = sub.add_parser(
        "notified",
        help="log a notification made by phone or e-mail",
        description="Log that customers were told of an incident outside "
        "the outbox, e.g. by phone (R-N1). Without --customer, every "
        "customer affected by the incident.",
    )
    notified.add_argument("id", metavar="ID", type=int, help="incident id")
    notified.add_argument("--at", required=True, help="when the customer was told")
    notified.add_argument("--channel", required=True, help="phone or email")
    notified.add_argument("--customer", action="append", help="customer id (repeatable)")
    notified.add_argument("--note", help="e.g. who was called")
    add_time_help(notified)
    notified.set_defaults(handler=run_async(_notified))
