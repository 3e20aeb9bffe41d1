"""``sla-monitor check-config``: validate, and show each probe's worst-case detection time (D-1)."""

from __future__ import annotations

import argparse
import json

from monitor.actions import check_config
from monitor.cli.common import config_path, load
from monitor.present import as_json, format_duration, text_table


def run(args: argparse.Namespace) -> int:
    config = load(args)
    path = config_path(args)
    checked = check_config(config)
    if args.format == "json":
        print(json.dumps(as_json(checked), indent=2, ensure_ascii=False))
        return 0
    rows = [
        [
            probe.target,
            probe.kind,
            probe.type,
            format_duration(probe.interval_seconds),
            probe.fail_after,
            format_duration(probe.timeout_seconds),
            format_duration(probe.worst_case_seconds),
            "-" if probe.within_d1 is None else "OK" if probe.within_d1 else "OVER",
        ]
        for probe in checked.probes
    ]
    source = str(path) if path is not None else "embedded defaults (no configuration file)"
    print(f"{source}: valid")
    print(
        f"{checked.servers} servers, {checked.services} services, "
        f"{checked.customers} customers, {checked.canaries} canaries; "
        f"{checked.calendar} calendar in {checked.timezone}"
    )
    if rows:
        print()
        print(
            f"Worst-case detection = interval × fail_after + timeout; "
            f"D-1 duty: {format_duration(checked.detection_deadline_seconds)}"
        )
        headers = [
            "probe",
            "kind",
            "type",
            "interval",
            "fail_after",
            "timeout",
            "worst case",
            "D-1",
        ]
        print(text_table(headers, rows))
    for warning in checked.warnings:
        print(f"warning: {warning}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "check-config",
        help="validate the configuration and show each probe's worst-case detection time",
        description="Validate the configuration (every problem at once, with its line) and "
        "print each probe's worst-case detection time against the 15-minute duty (D-1). "
        "Exit code 0 when valid, 2 when not.",
    )
    parser.add_argument("--format", choices=["table", "json"], default="table",
                        help="default: table")
    parser.set_defaults(handler=run)
