"""``sla-monitor check-config``: validate, and show each probe's worst-case detection time (D-1)."""

from __future__ import annotations

import argparse

from monitor.actions import check_config
from monitor.cli.commands import summary
from monitor.cli.common import add_format, config_path, load, print_json
from monitor.present import format_duration, text_table


def run(args: argparse.Namespace) -> int:
    config = load(args)
    path = config_path(args)
    checked = check_config(config, str(path) if path is not None else None)
    if args.format == "json":
        print_json(checked)
        return 0
    source = str(path) if path is not None else "embedded defaults (no configuration file)"
    counts = checked.counts
    print(f"{source}: valid")
    print(
        f"{counts.servers} servers, {counts.services} services, "
        f"{counts.customers} customers, {counts.canaries} canaries; "
        f"{checked.calendar} calendar in {checked.timezone}"
    )
    if checked.probes:
        print()
        print(
            f"Worst-case detection = interval × fail_after + timeout; "
            f"D-1 duty: {format_duration(checked.detection_deadline_seconds)}"
        )
        headers = ["probe", "kind", "type", "interval", "fail_after", "timeout", "worst case",
                   "D-1"]
        rows = [
            [
                p.id,
                p.kind,
                p.type,
                format_duration(p.interval_seconds),
                p.fail_after,
                format_duration(p.timeout_seconds),
                format_duration(p.worst_case_detection_seconds),
                p.d1 or "-",
            ]
            for p in checked.probes
        ]
        print(text_table(headers, rows))
    for warning in checked.warnings:
        print(f"warning: {warning}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "check-config",
        help=summary("check-config"),
        description="Validate the configuration (every problem at once, with its line) and "
        "print each probe's worst-case detection time against the 15-minute duty (D-1). "
        "Exit code 0 when valid, 2 when not (the problems on standard error, in either "
        "format).",
    )
    add_format(parser, "text", "json")
    parser.set_defaults(handler=run)
