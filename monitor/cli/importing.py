"""``sla-monitor import gatus FILE [-o config.yaml]``, ``sla-monitor import uptime-kuma
KUMA.db [-o config.yaml]``: another monitor's configuration as
an sla-monitor configuration, and a report of what could not be mapped."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from monitor.actions.imports import (
    HistoryImported,
    Imported,
    import_gatus,
    import_uptime_kuma,
    import_uptime_kuma_history,
)
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_format,
    check_output,
    command,
    print_json,
    write_output,
)
from monitor.cli.progress import progress
from monitor.config.imported import Unmapped
from monitor.errors import ConfigError, UsageError
from monitor.present import format_duration, format_time


def _read(path: str, limit: int = 64 * 1024 * 1024) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(limit)
    except OSError as exc:
        raise UsageError(f"FILE: cannot read {path!r}: {exc.strerror or exc}") from None


def _apprise_takes(where: str, url: str) -> bool:
    from monitor.notify.channels import channel_of  # Apprise: only for this command

    try:
        channel_of(url, where)
    except ConfigError:
        return False
    return True


def _channels_file(args: argparse.Namespace) -> str | None:
    if args.output is None:
        return None
    check_output(args.output)
    return str(Path(args.output).resolve().with_suffix(".operator-channels"))


def _gatus(args: argparse.Namespace) -> int:
    channels_file = _channels_file(args)
    imported = import_gatus(_read(args.file), args.file, channels_file=channels_file,
                            accepts=_apprise_takes)
    return _written(args, imported, channels_file)


def _uptime_kuma(args: argparse.Namespace) -> int:
    _read(args.file, 16)  # a clear error for a file that is not there
    if args.history:
        if args.output is not None:
            raise UsageError("-o: not with --history (it records into the database of the "
                             "configuration given with -c, made by an import without it)")
        return _kuma_history(args)
    channels_file = _channels_file(args)
    imported = import_uptime_kuma(args.file, channels_file=channels_file,
                                  accepts=_apprise_takes)
    return _written(args, imported, channels_file)


@command
async def _kuma_history(run: Run) -> int:
    # Minutes for a Kuma database of months: the monitors done on standard error (a bar
    # on a terminal, log lines elsewhere), before the result on standard output.
    with progress("import uptime-kuma --history") as told:
        done: HistoryImported = await run.act(
            import_uptime_kuma_history, run.settings, run.args.file, actor=actor(),
            now=run.now, progress=told)
    if run.args.format == "json":
        print_json(done)
        return 0
    print(f"{done.source}: {done.incidents} incidents recorded ({done.incidents_already} "
          f"already there), {done.windows} maintenance windows ({done.windows_already} "
          "already there)")
    if done.watched_from is not None and done.watched_until is not None:
        gaps = sum(done.unwatched_seconds.values())
        shown = [format_time(at, run.settings.timezone, run.settings.calendar, seconds=True)
                 for at in (done.watched_from, done.watched_until)]
        print(f"watched by Uptime Kuma from {shown[0]} to {shown[1]}"
              + (" (recorded before)" if done.coverage_already else
                 f"; {len(done.unwatched_seconds)} services, "
                 f"{format_duration(gaps)} without a heartbeat in all (unknown time)"))
    _items(done.notes, done.unmapped)
    return 0


def _written(args: argparse.Namespace, imported: Imported, channels_file: str | None) -> int:
    if imported.channels and channels_file is not None:
        write_output("\n".join(imported.channels) + "\n", channels_file)
        os.chmod(channels_file, 0o600)  # they hold tokens
    if args.format == "json":
        if args.output is not None:
            write_output(imported.text, args.output)
        print_json({"source": imported.source, "output": args.output,
                    "channels_file": channels_file if imported.channels else None,
                    "servers": imported.servers, "projects": imported.projects,
                    "customers": imported.customers, "channels": len(imported.channels),
                    "unmapped": imported.unmapped, "notes": imported.notes,
                    "config": None if args.output is not None else imported.text})
        return 0
    write_output(imported.text, args.output)
    _report(imported)
    return 0


def _report(imported: Imported) -> None:
    out = sys.stderr
    print(f"{imported.source}: {imported.servers} servers, {imported.projects} projects, "
          f"{imported.customers} draft customers, {len(imported.channels)} operators' "
          "channels", file=out)
    _items(imported.notes, imported.unmapped)


def _items(notes: list[str], unmapped: list[Unmapped]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for item in unmapped:
        print(f"not mapped: {item.where}: {item.what}: {item.why}", file=sys.stderr)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "import", help=summary("import"),
        description="Another monitor's configuration as an sla-monitor configuration "
        "(valid: check-config passes on it), with a report on standard error of what was "
        "not mapped and why. The operators' channels hold tokens: with -o they go to a file "
        "beside it (NAME.operator-channels, mode 0600), named by operators.notify_file.")
    kinds = parser.add_subparsers(dest="source_kind", required=True, metavar="SOURCE")
    gatus = kinds.add_parser("gatus", help="a Gatus configuration file (endpoints, "
                             "conditions, groups, alerting)",
                             description="Read a Gatus configuration (YAML). See README "
                             "'Coming from Gatus' for what each part becomes.")
    gatus.add_argument("file", metavar="FILE", help="Gatus's config.yaml")
    gatus.add_argument("-o", "--output", metavar="FILE",
                       help="write the configuration here (default: standard output)")
    add_format(gatus, "text", "json")
    gatus.set_defaults(handler=_gatus)
    kuma = kinds.add_parser("uptime-kuma", help="an Uptime Kuma database (kuma.db, 1.23 "
                            "or 2.0: monitors, groups, tags, notifications, maintenance)",
                            description="Read an Uptime Kuma database (SQLite, opened "
                            "read-only). See README 'Coming from Uptime Kuma' for what each "
                            "part becomes.")
    kuma.add_argument("file", metavar="KUMA.db", help="Uptime Kuma's database (data/kuma.db)")
    kuma.add_argument("-o", "--output", metavar="FILE",
                      help="write the configuration here (default: standard output)")
    kuma.add_argument("--history", action="store_true",
                      help="record Kuma's heartbeats as incidents (source imported) and its "
                      "single maintenance windows, into the database of the configuration "
                      "given with -c (an import without --history made it; run db upgrade "
                      "first); run again, it adds nothing")
    add_format(kuma, "text", "json")
    kuma.set_defaults(handler=_uptime_kuma)
