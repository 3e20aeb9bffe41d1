"""``sla-monitor report [close] --month YYYY-MM [--customer ID] [--format table|json|csv]``."""

from __future__ import annotations

import argparse
import csv
import io
import json
from typing import Any

from monitor.cli.common import database, load, run_async, table
from monitor.clock import SystemClock
from monitor.config.topology import Topology
from monitor.errors import InputError
from monitor.reports import close_month, month_inputs, period_of
from monitor.timefmt import show_seconds

SUMMARY = [
    "customer",
    "availability_percent",
    "downtime",
    "excluded",
    "unknown",
    "tier",
    "credit_days_total",
    "credit_value",
    "notification_breaches",
    "detection_breaches",
]


def _summary_row(c: dict[str, Any]) -> list[Any]:
    return [
        c["customer"],
        f"{c['availability_percent']:.3f}",
        show_seconds(c["downtime_seconds"]),
        show_seconds(c["excluded_seconds"]),
        show_seconds(c["unknown_seconds"]),
        c["tier"] or "-",
        c["credit_days_total"],
        f"{c['credit_value']:.2f} {c['currency']}",
        ",".join(map(str, c["notification_breaches"])) or "-",
        ",".join(map(str, c["detection_breaches"])) or "-",
    ]


def render_table(report: dict[str, Any], detail: bool) -> str:
    tz, calendar = report["timezone"], report["calendar"]
    lines = [
        f"SLA report {report['month']} ({calendar}, {tz}): "
        f"{report['period_start']} to {report['period_end']}"
    ]
    lines.append(table(SUMMARY, [_summary_row(c) for c in report["customers"]]))
    if detail:
        for c in report["customers"]:
            lines += [
                "",
                f"customer {c['customer']}: target {c['target_percent']} %"
                + (f"; no credits: {c['ineligible_reason']}" if c["ineligible_reason"] else ""),
            ]
            if c["excluded_seconds"]:
                lines.append(
                    "excluded: "
                    + ", ".join(
                        f"{k} {show_seconds(v)}"
                        for k, v in sorted(c["excluded_by_reason"].items())
                        if v
                    )
                )
            lines.append(
                table(
                    [
                        "incident",
                        "service",
                        "start",
                        "end",
                        "counted",
                        "cause",
                        "detected after",
                        "notified after",
                    ],
                    [
                        [
                            i["id"],
                            i["service"],
                            i["start"],
                            i["end"] or "open",
                            show_seconds(i["counted_seconds"]),
                            i["cause"],
                            show_seconds(i["detection_seconds"]),
                            show_seconds(i["notified_after_seconds"]),
                        ]
                        for i in c["incidents"]
                    ],
                )
            )
            if c["credit_lines"]:
                lines.append(
                    table(
                        ["rule", "days", "amount", "evidence"],
                        [
                            [
                                line["rule"],
                                line["days"] if line["days"] is not None else "-",
                                line["amount"] if line["amount"] is not None else "-",
                                "; ".join(
                                    f"{k} {','.join(map(str, v))}"
                                    for k, v in line.items()
                                    if k in ("incidents", "maintenance", "tickets") and v
                                ),
                            ]
                            for line in c["credit_lines"]
                        ],
                    )
                )
    return "\n".join(lines)


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    fields = [
        "month",
        "customer",
        "period_seconds",
        "downtime_seconds",
        "excluded_seconds",
        "unknown_seconds",
        "availability_percent",
        "target_percent",
        "tier",
        "tier_credit_days",
        "notification_credit_days",
        "partial_credit_days",
        "refund_amount",
        "credit_days_total",
        "credit_value",
        "currency",
        "notification_breaches",
        "detection_breaches",
        "ineligible_reason",
    ]
    writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for c in report["customers"]:
        row = dict(c, month=report["month"])
        row["notification_breaches"] = " ".join(map(str, c["notification_breaches"]))
        row["detection_breaches"] = " ".join(map(str, c["detection_breaches"]))
        writer.writerow(row)
    return out.getvalue().rstrip("\n")


async def _report(args: argparse.Namespace) -> int:
    config = load(args)
    topology = Topology.from_config(config)
    if args.customer is not None and args.customer not in topology.customers:
        raise InputError(
            "--customer",
            args.customer,
            "one of the configured customers: " + ", ".join(sorted(topology.customers)),
        )
    period = period_of(config, args.month)
    now = SystemClock().now()
    async with database(config) as engine:
        if args.action == "close":
            closing = await close_month(engine, topology, args.month, now)
            if not closing.created:
                print(
                    f"{args.month}: inputs unchanged; revision {closing.revision} stands "
                    f"(inputs {closing.digest[:12]})"
                )
            else:
                print(
                    f"{args.month}: revision {closing.revision} frozen "
                    f"(inputs {closing.digest[:12]})"
                )
                for change in closing.changes:
                    print(f"  changed: {change}")
            return 0
        inputs = await month_inputs(engine, topology, period, now)

    report: dict[str, Any] = inputs.compute(now).to_json()
    if args.customer is not None:
        report["customers"] = [c for c in report["customers"] if c["customer"] == args.customer]
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        print(render_csv(report))
    else:
        print(render_table(report, detail=args.customer is not None))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "report",
        help="monthly SLA report; 'report close' freezes a revision",
        description="Each customer's availability, counted/excluded/unknown time, tier and "
        "credits for a month of the configured calendar (R-M5), with the evidence of every "
        "credit (R-C3). 'report close --month M' freezes a revision with a hash of its inputs; "
        "closing again after inputs changed makes a new revision and lists the differences.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=["show", "close"],
        default="show",
        help="show (default) or close",
    )
    parser.add_argument("--month", required=True, help="YYYY-MM in the configured calendar")
    parser.add_argument("--customer", help="one customer, with its incident list and evidence")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    parser.set_defaults(handler=run_async(_report))
