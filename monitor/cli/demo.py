"""``sla-monitor demo [--keep DIR] [--quick] [--calendar C] [--format text|json]``.

Argument parsing and output; the story itself is :mod:`monitor.demo`. Progress
lines go to standard output, or to standard error with ``--format json`` so that
standard output holds only the JSON summary. Ctrl-C (SIGINT) or SIGTERM end the
story at the next step, stop everything, and exit 130 (143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.cli.commands import summary
from monitor.cli.common import print_json
from monitor.errors import InputError
from monitor.present import format_duration, format_money, format_time, report_table
from monitor.present.tables import fit_line, terminal_width, width_for_tables
from monitor.sla import MonthReport

if TYPE_CHECKING:
    from monitor.demo import DemoResult

#: --calendar: a Gregorian provider in UTC, or one like config.example.yaml.
ZONES = {"gregorian": "UTC", "jalali": "Asia/Tehran"}

#: The demo's text fits this many columns (or a narrower terminal): a newcomer's first
#: screen is not a 263-column report.
WIDTH = 100


def _width() -> int:
    terminal = terminal_width()
    return WIDTH if terminal is None else max(40, min(WIDTH, terminal))


def _keep_directory(text: str | None) -> Path | None:
    """--keep: a directory that does not exist yet, or an empty one; checked before anything
    starts, so a wrong path changes nothing."""
    if text is None:
        return None
    path = Path(text)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(
            "keep",
            text,
            "a directory that does not exist yet or is empty (nothing is overwritten)",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            "keep", text, f"a directory that can be created ({exc.strerror})"
        ) from None
    return path


def demo(args: argparse.Namespace) -> int:
    from monitor.demo import QUICK, DemoOptions, Pacing

    options = DemoOptions(
        keep=_keep_directory(args.keep),
        pacing=QUICK if args.quick else Pacing(),
        calendar=args.calendar,
        timezone=ZONES[args.calendar],
    )
    progress = sys.stderr if args.format == "json" else sys.stdout

    width = _width()

    def say(line: str) -> None:
        print(fit_line(line, width), file=progress, flush=True)

    say(
        "sla-monitor demo: a hosting provider with two customers on this machine; one project "
        "fails and recovers, then the month's report. Ctrl-C stops it cleanly."
    )
    if args.config:
        say(f"note: -c {args.config} is not used; the demo writes a configuration of its own")
    result, signum = asyncio.run(_run(options, say))
    if result is None:
        where = (
            f"; the state directory is kept in {options.keep}"
            if options.keep is not None
            else "; nothing is left behind"
        )
        say(f"demo interrupted: every server stopped{where}")
        return 128 + signum
    if args.format == "json":
        print_json(summary_json(result))
    else:
        with width_for_tables(width):
            text = summary_text(result)
        print("\n".join(fit_line(line, width) for line in text.split("\n")))
    return 0


async def _run(options: Any, say: Any) -> tuple[DemoResult | None, int]:
    from monitor import actions
    from monitor.demo import DemoInterrupted, run_demo
    from monitor.store import migrate

    actions.load_all()  # before the daemon and the targets start (as in `run`)
    migrate.load_alembic()

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            say("interrupted: stopping the daemon, the targets and the SMTP server ...")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await run_demo(options, say, stop), 0
    except DemoInterrupted:
        return None, received[0] if received else signal.SIGINT
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


# --- the summary -------------------------------------------------------------------------------


def _customer(result: DemoResult) -> dict[str, Any]:
    return next(c for c in result.report["customers"] if c["customer"] == result.customer)


def _incident_line(result: DemoResult, incident_id: int | None) -> dict[str, Any] | None:
    return next((i for i in _customer(result)["incidents"] if i["id"] == incident_id), None)


def _cli(result: DemoResult, *words: str) -> str:
    """A command to explore the state directory, ready to paste."""
    return shlex.join(["sla-monitor", "-c", str(result.config_path), *words])


def _shown(*words: str) -> str:
    """A command as an operator types it (the configuration implied)."""
    return shlex.join(["sla-monitor", *words])


def summary_text(result: DemoResult) -> str:
    config = result.config
    tz, calendar = config.provider.timezone, config.provider.calendar
    policy = config.policy
    incident = result.incident
    line = _incident_line(result, incident.id) or {}
    customer = _customer(result)
    month = result.report["month"]
    out = ["", "=" * 78, f"What happened (times in {tz}, {calendar} calendar)", ""]
    out += [
        f"Incident #{incident.id} on {incident.service}, opened by the probes:",
        f"  start      {format_time(incident.start, tz, calendar, seconds=True)}  the first failed probe "
        f"(last success before it: {format_time(incident.start_bound, tz, calendar, seconds=True)}; R-M1)",
        f"  end        {format_time(incident.end, tz, calendar, seconds=True)}  the first good probe "
        f"(last failure before it: {format_time(incident.end_bound, tz, calendar, seconds=True)})",
        f"  duration   {format_duration(result.incident_duration)}",
        f"  detection  {format_duration(line.get('detection_seconds'))} after the start "
        f"(D-1: within {format_duration(policy.detection_deadline)}; these probes' worst case "
        f"is {result.pacing.worst_detection:g} s)",
        f"  notified   {format_duration(line.get('notified_after_seconds'))} after the start: "
        f"the SMTP server accepted the outage e-mail (R-N1: within "
        f"{format_duration(policy.notification_deadline)})",
        "",
        f"E-mails the SMTP server received ({len(result.mail)}):",
    ]
    for mail in result.mail:
        who = "operators" if mail.kind.startswith("ops-") else f"customer {result.customer}"
        out += [
            f"  {format_time(mail.received_at, tz, calendar, seconds=True)}  {mail.kind:<12}  "
            f"to {', '.join(mail.to)} ({who})" + (f"  {mail.file}" if mail.file is not None else ""),
            f"      {mail.subject}",
        ]
    out.append(
        "  Customer bita got none: only acme's project failed; the shared panel and srv-1 "
        "stayed up."
    )
    out.append(
        f"  The full messages are the .eml files above (kept in {result.directory / 'mail'})."
        if result.kept
        else "  The full messages were discarded with the temporary directory "
        "(--keep DIR keeps them as .eml files)."
    )
    out += ["", *_phoned_text(result), ""]
    out.append(
        f"The month's report ({month}), as `{_shown('report', '--month', month, '--customer', result.customer)}` prints it:"
    )
    typed = result.month_report
    filtered = MonthReport(typed.period, (typed.customer(result.customer),))
    out += ["", report_table(filtered, detail=True), ""]
    out += _credit_text(result, customer)
    out += ["", *_closing_text(result)]
    return "\n".join(out)


def _phoned_text(result: DemoResult) -> list[str]:
    phoned = result.phoned
    tz, calendar = result.config.provider.timezone, result.config.provider.calendar
    if phoned.incident_id is None or phoned.start is None or phoned.end is None:
        return [
            "What an operator recorded: nothing this time: "
            f"{phoned.reason_none}. The report shows the live outage alone."
        ]
    assert phoned.called_at is not None
    zone = ZoneInfo(tz)

    def typed(instant: Any) -> str:
        return str(instant.astimezone(zone).isoformat(timespec="minutes"))

    line = _incident_line(result, phoned.incident_id) or {}
    return [
        "What an operator recorded (the demo plays the operator; the probes never saw this):",
        f"  ACME phoned: its survey was down for 2 hours, from "
        f"{format_time(phoned.start, tz, calendar, seconds=True)} to {format_time(phoned.end, tz, calendar, seconds=True)}, "
        "before this monitor watched it (time R-M3 makes unknown, which an operator covers "
        "with a manual incident).",
        f"  The operator recorded it as incident #{phoned.incident_id}, and logged that they had "
        f"phoned ACME back {format_duration(line.get('notified_after_seconds'))} after it began "
        "(R-N1 met), with:",
        "    "
        + _shown(
            "incident",
            "add",
            "--service",
            result.incident.service,
            "--start",
            typed(phoned.start),
            "--end",
            typed(phoned.end),
            "--note",
            "reported by phone",
        ),
        "    "
        + _shown(
            "incident",
            "notified",
            str(phoned.incident_id),
            "--at",
            typed(phoned.called_at),
            "--channel",
            "phone",
        ),
    ]


def _credit_text(result: DemoResult, customer: dict[str, Any]) -> list[str]:
    policy = result.config.policy
    lowest = policy.tiers[0] if policy.tiers else None
    name = customer["customer"]
    downtime = format_duration(customer["downtime_seconds"])
    availability = f"{customer['availability_percent']:.3f} %"
    target = f"{customer['target_percent']:g} %"
    out = []
    if customer["tier"] is not None:
        tier = next(t for t in policy.tiers if t.name == customer["tier"])
        fee = next(c.fee for c in result.config.customers if c.id == name)
        out += [
            f"Credit for {name}: tier {tier.name}. Counted downtime {downtime} reaches the "
            f"{tier.name} tier (from {format_duration(tier.min_downtime)}) and availability "
            f"{availability} is below the {target} target (R-T0, R-T1):",
            f"  {customer['tier_credit_days']} days of service, worth "
            f"{customer['tier_credit_days']} x {format_money(Decimal(str(fee.amount)), fee.currency)} / 365 = "
            f"{format_money(Decimal(str(customer['credit_value'])), customer['currency'])} (R-T2); "
            f"{customer['credit_days_total']} days in all.",
        ]
    else:
        if lowest is not None and customer["downtime_seconds"] < lowest.min_downtime:
            why = f"below the {format_duration(lowest.min_downtime)} of the lowest tier ({lowest.name})"
        else:
            why = f"availability {availability} meets the {target} target"
        out.append(
            f"Credit for {name}: none. Counted downtime {downtime}: {why} (R-T1); "
            f"{customer['credit_days_total']} days in all."
        )
    if result.phoned.incident_id is not None and lowest is not None:
        live = format_duration(result.incident_duration)
        out.append(
            f"  The live outage alone ({live}) would earn "
            + (
                f"tier {result.live_alone_tier}."
                if result.live_alone_tier
                else f"nothing: below the {format_duration(lowest.min_downtime)} of the lowest "
                f"tier ({lowest.name})."
            )
        )
    if customer["unknown_seconds"]:
        tz, calendar = result.config.provider.timezone, result.config.provider.calendar
        less = ", less the outage the operator recorded in it" if result.phoned.incident_id else ""
        out.append(
            f"  Unknown time {format_duration(customer['unknown_seconds'])}: the month before the "
            f"daemon first ran ({format_time(result.daemon_started_at, tz, calendar, seconds=True)})"
            f"{less}. No monitor watched it: it is shown apart, never counted as up (R-M3), and "
            "stays in the month's length for availability (R-M6)."
        )
    for other in result.report["customers"]:
        if other["customer"] != name:
            out.append(
                f"Customer {other['customer']}: availability {other['availability_percent']:.3f} %, "
                f"credit {other['credit_days_total']} days, unknown "
                f"{format_duration(other['unknown_seconds'])}."
            )
    return out


def _closing_text(result: DemoResult) -> list[str]:
    elapsed = f"Done in {result.elapsed:.0f} s. Every server stopped"
    if not result.kept:
        return [
            f"{elapsed}, and the temporary directory {result.directory} was removed.",
            "Keep it next time with: sla-monitor demo --keep ./sla-demo",
            "Your own provider: copy config.example.yaml, then "
            "`sla-monitor -c config.yaml check-config` and `... run` (see the README).",
        ]
    month = result.report["month"]
    return [
        f"{elapsed}. Kept in {result.directory}: config.yaml, sla-monitor.db, daemon.log, "
        f"mail/ ({len(result.mail)} .eml files). Explore it:",
        "  " + _cli(result, "incident", "list"),
        "  " + _cli(result, "report", "--month", month, "--customer", result.customer),
        "  " + _cli(result, "report", "--month", month, "--format", "json"),
        "  less " + shlex.quote(str(result.directory / "daemon.log")),
    ]


def summary_json(result: DemoResult) -> dict[str, Any]:
    from monitor.sla.report import iso_utc

    def utc(instant: Any) -> str | None:
        return None if instant is None else iso_utc(instant)

    incident = result.incident
    line = _incident_line(result, incident.id) or {}
    customer = _customer(result)
    phoned = result.phoned
    return {
        "elapsed_seconds": round(result.elapsed, 1),
        "daemon_started_at": utc(result.daemon_started_at),
        "state_directory": str(result.directory),
        "kept": result.kept,
        "config": str(result.config_path),
        "calendar": result.config.provider.calendar,
        "timezone": result.config.provider.timezone,
        "endpoints": result.endpoints,
        "ports": result.ports,
        "incident": {
            "id": incident.id,
            "service": incident.service,
            "source": incident.source,
            "start": utc(incident.start),
            "end": utc(incident.end),
            "start_bound": utc(incident.start_bound),
            "end_bound": utc(incident.end_bound),
            "detected_at": utc(incident.detected_at),
            "duration_seconds": int(result.incident_duration),
            "detection_seconds": line.get("detection_seconds"),
            "notified_after_seconds": line.get("notified_after_seconds"),
        },
        "phoned_outage": {
            "incident_id": phoned.incident_id,
            "start": utc(phoned.start),
            "end": utc(phoned.end),
            "called_at": utc(phoned.called_at),
            "reason_none": phoned.reason_none,
        },
        "emails": [
            {
                "kind": mail.kind,
                "subject": mail.subject,
                "to": list(mail.to),
                "received_at": utc(mail.received_at),
                "file": None if mail.file is None else str(mail.file),
            }
            for mail in result.mail
        ],
        "customer": result.customer,
        "credit": {
            "tier": customer["tier"],
            "tier_credit_days": customer["tier_credit_days"],
            "credit_days_total": customer["credit_days_total"],
            "credit_value": customer["credit_value"],
            "currency": customer["currency"],
            "live_outage_alone_tier": result.live_alone_tier,
        },
        "report": result.report,
        "events": [{"at_seconds": round(at, 1), "event": text} for at, text in result.events],
    }


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "demo",
        help=summary("demo"),
        description="With nothing set up: start local targets (a web panel, a server with two "
        "customers' projects) and an SMTP server on 127.0.0.1, write a config.yaml into a "
        "temporary directory, run the real daemon on it with 1 s probes, break one project for "
        "15 s and fix it, then show the incident, the e-mails and the month's report with "
        "its credit. About 30 s; leaves no process, port or file behind. Ignores -c: the demo "
        "writes its own configuration.",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the state directory (config.yaml, sla-monitor.db, daemon.log, mail/*.eml) "
        "in DIR, which must not exist yet or be empty",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="0.5 s probes and a 4 s outage (about 15 s in all); the default is the real pace",
    )
    parser.add_argument(
        "--calendar",
        choices=sorted(ZONES),
        default="gregorian",
        help="gregorian (in UTC, the default) or jalali (in Asia/Tehran, as in "
        "config.example.yaml); the report is for the current month of that calendar",
    )
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text (default), or json: a machine-readable summary on standard output "
        "(progress lines then go to standard error)",
    )
    parser.set_defaults(handler=demo)
