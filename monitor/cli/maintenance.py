"""``sla-monitor maintenance add|list|update|cancel``."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.actions.maintenance import MAINTENANCE_UPDATE_STATUSES
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_format,
    add_time_help,
    command,
    local_time,
    print_json,
    time_option,
    whole_number,
)
from monitor.present import format_duration, format_time, text_table
from monitor.sla import seconds_between


@command
async def _add(run: Run) -> int:
    args, settings = run.args, run.settings
    start, end = run.time("start"), run.time("end")
    notified_at = time_option(args, "notified_at", settings)
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    added = await run.act(
        actions.add_maintenance,
        settings,
        services=services,
        start=start,
        end=end,
        reason=args.reason,
        notified_at=notified_at,
        actor=actor(),
        now=run.now,
    )
    if args.format == "json":
        print_json(added)
        return 0
    # The times as they were read, as every time is shown: a day and month swapped or a
    # zone forgotten shows here, not later in `maintenance list`.
    window = added.window
    print(f"maintenance window {window.id} on {', '.join(window.service_ids)}: "
          f"{local_time(settings, window.start)} to {local_time(settings, window.end)}, "
          f"{format_duration(seconds_between(window.start, window.end))}")
    if added.noticed:
        print(f"notice given by other means at {local_time(settings, notified_at)}, "
              f"recorded for: {', '.join(added.noticed)}")
    if added.notice_late:
        notice = format_duration(settings.policy.maintenance_notice_seconds)
        print(
            f"warning: the window starts in less than {notice}: even if the notice "
            "goes out now it will count as downtime (R-EX1)"
        )
    return 0


@command
async def _list(run: Run) -> int:
    args, settings = run.args, run.settings
    tz, calendar = settings.timezone, settings.calendar
    since, until = run.month_span(args.month)
    windows = await run.act(actions.list_maintenance, since=since, until=until)
    if args.format == "json":
        print_json(windows)
        return 0
    rows = [
        [
            w.window.id,
            ",".join(w.window.service_ids),
            format_time(w.window.start, tz, calendar),
            format_time(w.window.end, tz, calendar),
            w.notices,
            "" if w.window.cancelled_at is None else format_time(w.window.cancelled_at, tz,
                                                                 calendar),
            w.window.reason,
        ]
        for w in windows
    ]
    print(text_table(["id", "services", "start", "end", "notices", "cancelled", "reason"],
                     rows))
    return 0


@command
async def _update(run: Run) -> int:
    args = run.args
    posted = await run.act(actions.post_maintenance_update, window_id=args.id,
                           status=args.status, message=args.message, actor=actor(),
                           now=run.now)
    return run.show(posted, lambda: (
        f"maintenance window {args.id}: update {posted.update.id} posted "
        f"({posted.update.status})"))


@command
async def _cancel(run: Run) -> int:
    args, settings = run.args, run.settings
    cancelled = await run.act(actions.cancel_maintenance, window_id=args.id, actor=actor(),
                              now=run.now)

    def said() -> str:
        window = cancelled.window
        lines = [f"maintenance window {window.id} on {', '.join(window.service_ids)} "
                 f"({local_time(settings, window.start)} to {local_time(settings, window.end)}) "
                 "cancelled: it excludes nothing (R-EX1)"]
        if cancelled.withdrawn:
            lines.append(f"{cancelled.withdrawn} e-mail(s) about it not yet sent: withdrawn")
        if cancelled.told:
            lines.append("its notice reached " + ", ".join(cancelled.told) + ": the daemon "
                         "e-mails each that it is cancelled")
        return "\n".join(lines)

    return run.show(cancelled, said)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "maintenance",
        help=summary("maintenance"),
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
    add_format(add)
    add_time_help(add)
    add.set_defaults(handler=_add)
    lst = sub.add_parser("list", help="list maintenance windows", description="List windows.")
    lst.add_argument("--month", help="only windows touching this month (configured calendar)")
    add_format(lst)
    lst.set_defaults(handler=_list)
    update = sub.add_parser(
        "update",
        help="post an operator's update (shown on the status page)",
        description="Post how a maintenance window goes, with a status; shown on the "
        "status page, the Atom feed and the Statuspage JSON, and e-mailed to the status "
        "page's subscribers of its services, when it covers a public service (a window of "
        "customers' projects alone keeps its updates private) (audited).",
    )
    update.add_argument("id", metavar="ID", type=whole_number, help="maintenance window id")
    update.add_argument("--status", required=True,
                        help="one of: " + ", ".join(MAINTENANCE_UPDATE_STATUSES))
    update.add_argument("--message", required=True,
                        help="how the work goes (public when the window covers a public service)")
    add_format(update)
    update.set_defaults(handler=_update)
    cancel = sub.add_parser(
        "cancel",
        help="call off a window that has not begun",
        description="Call off a maintenance window that has not begun: it excludes nothing "
        "(R-EX1); its notices still waiting are withdrawn, and the daemon e-mails each "
        "customer whose technical contact got the notice, and each status-page subscriber "
        "told of it, that it is cancelled (D-3). A "
        "window that began is part of the month's record and cannot be cancelled "
        "(audited).",
    )
    cancel.add_argument("id", metavar="ID", type=whole_number, help="maintenance window id")
    add_format(cancel)
    cancel.set_defaults(handler=_cancel)
