"""``sla-monitor maintenance add|list``."""

from __future__ import annotations

import argparse

from monitor import records
from monitor.cli.common import actor, add_time_help, database, load, run_async, table
from monitor.clock import SystemClock
from monitor.config.topology import Topology
from monitor.reports import period_of
from monitor.timefmt import parse_time, show_time


async def _add(args: argparse.Namespace) -> int:
    config = load(args)
    tz = config.provider.timezone
    start = parse_time(args.start, tz, "--start")
    end = parse_time(args.end, tz, "--end")
    notified_at = parse_time(args.notified_at, tz, "--notified-at") if args.notified_at else None
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    now = SystemClock().now()
    async with database(config) as engine:
        done = await records.add_maintenance(
            engine,
            Topology.from_config(config),
            services=services,
            start=start,
            end=end,
            reason=args.reason,
            notified_at=notified_at,
            actor=actor(),
            now=now,
        )

    print(done.summary)
    notice = config.policy.maintenance_notice
    if notified_at is None and (start - now).total_seconds() < notice:
        print(
            f"warning: the window starts in less than {notice / 3600:g} h: even if the notice "
            "goes out now it will count as downtime (R-EX1)"
        )
    return 0


async def _list(args: argparse.Namespace) -> int:
    config = load(args)
    tz, calendar = config.provider.timezone, config.provider.calendar
    since = until = None
    if args.month:
        period = period_of(config, args.month)
        since, until = period.start, period.end
    async with database(config) as engine:
        windows = await records.list_maintenance(engine, since=since, until=until)

    rows = [
        [
            w.id,
            ",".join(services),
            show_time(w.start, tz, calendar),
            show_time(w.end, tz, calendar),
            notices,
            w.reason,
        ]
        for w, services, notices in windows
    ]
    print(table(["id", "services", "start", "end", "notices", "reason"], rows))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "maintenance",
        help="record and list maintenance windows",
        description="Maintenance windows (R-EX1, D-3).",
    )
    sub = parser.add_subparsers(dest="maintenance_command", metavar="COMMAND", required=True)
    add = sub.add_parser(
        "add",
        help="record a maintenance window",
        description="Record a maintenance window. It is excluded from "
        "downtime only for customers whose technical contact got the notice "
        "at least 48 h before it began (R-EX1); the daemon e-mails the "
        "notices, or --notified-at records a notice made by other means.",
    )
    add.add_argument("--services", required=True, help="service or server ids, comma-separated")
    add.add_argument("--start", required=True, help="window start")
    add.add_argument("--end", required=True, help="window end")
    add.add_argument("--reason", required=True, help="shown to customers")
    add.add_argument("--notified-at", help="when customers were notified by other means")
    add_time_help(add)
    add.set_defaults(handler=run_async(_add))
    lst = sub.add_parser("list", help="list maintenance windows", description="List windows.")
    lst.add_argument("--month", help="only windows touching this month (configured calendar)")
    lst.set_defaults(handler=run_async(_list))
