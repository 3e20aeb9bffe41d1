"""``sla-monitor check-config``: validate, and show each probe's worst-case detection time (D-1)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from monitor.actions import check_config
from monitor.actions.config_check import ProbeCheck
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
        f"{counts.servers:,} servers, {counts.services:,} services, "
        f"{counts.customers:,} customers, {counts.canaries:,} canaries; "
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
        rows = [[name, p.kind, p.type, format_duration(p.interval_seconds), p.fail_after,
                 format_duration(p.timeout_seconds),
                 format_duration(p.worst_case_detection_seconds), p.d1 or "-"]
                for name, p in _shown(checked.probes, args.each)]
        if len(rows) < len(checked.probes):
            print(f"{len(checked.probes):,} probes in {len(rows):,} rows of the same kind and "
                  "settings (--each: one row a probe)")
        print(text_table(headers, rows))
    for warning in checked.warnings:
        print(f"warning: {warning}")
    return 0


#: The most probes check-config lists one a row unless asked (``--each``).
LISTED_EACH = 50


def _shown(probes: Sequence[ProbeCheck], each: bool) -> list[tuple[str, ProbeCheck]]:
    """The table's rows: each probe, or beyond :data:`LISTED_EACH` (10,000 customers are
    15,000 probes) one row for the probes of one kind and the same settings, named by the
    first and how many more, in the order of their first."""
    if each or len(probes) <= LISTED_EACH:
        return [(p.id, p) for p in probes]
    groups: dict[tuple[object, ...], list[ProbeCheck]] = {}
    for p in probes:
        key = (p.kind, p.type, p.interval_seconds, p.fail_after, p.timeout_seconds, p.d1)
        groups.setdefault(key, []).append(p)
    return [(first.id if not more else f"{first.id} and {len(more):,} more", first)
            for first, *more in groups.values()]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "check-config",
        help=summary("check-config"),
        description="Validate the configuration (every problem at once, with its line) and "
        "print each probe's worst-case detection time against the 15-minute duty (D-1). "
        "Exit code 0 when valid, 2 when not (the problems on standard error, in either "
        "format).",
    )
    parser.add_argument("--each", action="store_true",
                        help=f"one row a probe (beyond {LISTED_EACH} probes, the probes of one "
                        "kind and the same settings are one row; the JSON lists each)")
    add_format(parser, "text", "json")
    parser.set_defaults(handler=run)
