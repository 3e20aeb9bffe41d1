"""``sla-monitor report [close] --month YYYY-MM [--customer ID] [--format table|json|csv|html|pdf]
[-o FILE]``: ``html`` and ``pdf`` are the operators' summary of every customer."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.cli.commands import summary
from monitor.cli.common import (
    add_wide,
    check_output,
    database,
    load_settings,
    print_json,
    run_async,
    write_output,
)
from monitor.cli.progress import progress
from monitor.clock import SystemClock
from monitor.errors import InputError, UsageError
from monitor.present import format_days, report_csv, report_json_text, report_table
from monitor.present.statement import summary_html, summary_pdf

#: How many of the configuration's differences from a closed month's terms are printed.
TERMS_SHOWN = 10


def _close_options(args: argparse.Namespace) -> None:
    """``report close`` shares report's parser, but freezes every customer's month and
    prints what it froze: an option of report show given to it is refused, never ignored
    (``--customer acme`` read as "only acme was frozen", ``-o`` as a file written)."""
    if args.customer is not None:
        raise InputError("customer", args.customer, "no --customer with report close: a "
                         "close freezes every customer's month (one customer's report: "
                         "report --month M --customer C)")
    if args.format not in ("table", "json"):
        raise InputError("format", args.format, "table or json with report close")
    if args.output is not None:
        raise InputError("output", args.output, "no -o with report close (it prints what it "
                         "froze; the report to a file: report --month M -o FILE)")
    if args.wide:
        raise UsageError("--wide: not with report close (it prints no table)")


async def _report(args: argparse.Namespace) -> int:
    if args.action == "close" and args.format not in ("html", "pdf"):
        _close_options(args)
    elif args.configured_terms:
        raise UsageError("--configured-terms: only with report close (a report of a closed "
                         "month shows the terms it was closed with)")
    check_output(args.output)
    settings = load_settings(args)
    now = SystemClock().now()
    if args.format in ("html", "pdf"):
        if args.action == "close" or args.customer is not None:
            raise UsageError(f"--format {args.format}: is the operators' summary of every "
                             "customer; allowed with report (show) and without --customer "
                             "(a customer's own document is: statement show --customer C)")
        async with database(settings) as db:
            with progress("report", month=args.month) as told:
                summary = await actions.month_summary(db, settings, month=args.month, now=now,
                                                      progress=told)
                # A step of its own: at 10,000 customers the PDF's layout is 7 of its 17 s.
                if args.format == "pdf":
                    told(0, 0, "typesetting the summary as PDF")
                    document: str | bytes = summary_pdf(summary, lambda done, total: told(
                        done, total, "typesetting the summary as PDF, in parts"))
                else:
                    told(0, 0, "writing the summary as HTML")
                    document = summary_html(summary)
        write_output(document, args.output, binary=args.format == "pdf")
        return 0
    async with database(settings) as db:
        # Tens of seconds at 10,000 customers: each step on standard error (a bar on a
        # terminal, log lines elsewhere), before the result on standard output.
        with progress("report close" if args.action == "close" else "report",
                      month=args.month) as told:
            if args.action == "close":
                closing = await actions.close_month(
                    db, settings, month=args.month, now=now, progress=told,
                    configured_terms=args.configured_terms)
            else:
                report = await actions.month_report(
                    db, settings, month=args.month, customer=args.customer, now=now,
                    progress=told)
    if args.action == "close":
        if args.format == "json":
            print_json(closing)
        elif not closing.created:
            print(
                f"{closing.month}: inputs unchanged; revision {closing.revision} stands "
                f"(inputs {closing.digest[:12]})"
            )
        else:
            print(f"{closing.month}: revision {closing.revision} frozen (inputs {closing.digest[:12]})")
            for change in closing.changes:
                print(f"  changed: {change}")
            for review in closing.reviews:
                # R-C3: an approved claim's credit changed; granted entries are not edited.
                print(f"  review: claim {review.claim_id} ({review.customer}) was decided on "
                      f"{format_days(review.days_before)}, the revision says "
                      f"{format_days(review.days_now)}; decide it again: "
                      f"sla-monitor claim decide {review.claim_id} --approve|--partly DAYS|--reject")
        if closing.terms_differ:
            # The month keeps its terms: what the configuration says otherwise is not in it.
            print(f"  the configuration differs from the terms the month keeps (to take it: "
                  f"report close --month {args.month} --configured-terms):")
            for line in closing.terms_differ[:TERMS_SHOWN]:
                print(f"    {line}")
            if len(closing.terms_differ) > TERMS_SHOWN:
                print(f"    and {len(closing.terms_differ) - TERMS_SHOWN:,} more "
                      "(--format json lists each)")
        return 0
    if args.format == "json":
        write_output(report_json_text(report), args.output)  # the SPEC section 7 document
    elif args.format == "csv":
        write_output(report_csv(report), args.output)
    else:
        write_output(report_table(report, detail=args.customer is not None), args.output)
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "report",
        help=summary("report"),
        description="Each customer's availability, counted/excluded/unknown time, tier and "
        "credits for a month of the configured calendar (R-M5), with the evidence of every "
        "credit (R-C3). 'report close --month M' freezes a revision with a hash of its inputs; "
        "closing again after inputs changed makes a new revision and lists the differences. "
        "A closed month keeps the terms it was closed with (its customers, their fees and "
        "dependencies, the policy), whatever the configuration says later.",
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
    parser.add_argument(
        "--format", choices=["table", "json", "csv", "html", "pdf"], default="table",
        help="table (default), json (SPEC section 7), csv; html or pdf: the operators' summary "
        "of every customer (totals of credit days and money, customers below target, duty "
        "breaches, statements sent, claims)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (a PDF needs -o or a redirect)")
    parser.add_argument(
        "--configured-terms", action="store_true",
        help="with close: take the month's customers, fees, dependencies and policy from the "
        "configuration as it is now (a correction of its terms), not from its latest revision")
    add_wide(parser)
    parser.set_defaults(handler=run_async(_report))
