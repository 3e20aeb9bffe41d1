"""A month's SLA report for people: a text table (with each customer's incidents and
credit lines as evidence, R-C3) or CSV, rendered from the engine's typed
:class:`~monitor.sla.MonthReport`. The JSON form is the engine's own
(:meth:`monitor.sla.MonthReport.to_json`, SPEC section 7).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from monitor.present.formats import format_duration, format_money, format_percent, format_time
from monitor.present.tables import text_table
from monitor.sla import CreditLine, CustomerReport, MonthReport
from monitor.sla.report import shown_days, shown_money

__all__ = ["CSV_FIELDS", "report_csv", "report_table"]

SUMMARY = (
    "customer",
    "availability_percent",
    "downtime",
    "excluded",
    "unknown",
    "tier",
    "credit_days_total",
    "credit_value",
    "refund",
    # Incident ids, not counts (the JSON's notification_breaches: [6]).
    "notified late (incidents)",  # R-N1
    "detected late (incidents)",  # D-1
)

CSV_FIELDS = (
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
)


def _ids(ids: Sequence[int], separator: str = ",") -> str:
    return separator.join(map(str, ids))


def _summary_row(c: CustomerReport) -> list[object]:
    return [
        c.customer,
        format_percent(c.availability_percent),
        format_duration(c.downtime_seconds),
        format_duration(c.excluded_seconds),
        format_duration(c.unknown_seconds),
        c.tier or "-",
        shown_days(c.credit_days_total),
        format_money(c.credit_value, c.currency),
        format_money(c.refund_amount, c.currency) if c.refund_amount else "-",
        _ids(c.notification_breaches) or "-",
        _ids(c.detection_breaches) or "-",
    ]


def _evidence(line: CreditLine) -> str:
    found = [
        ("incidents", line.incidents),
        ("maintenance", line.maintenance),
        ("tickets", line.tickets),
    ]
    return "; ".join(f"{kind} {_ids(ids)}" for kind, ids in found if ids)


def _detail(c: CustomerReport, timezone: str, calendar: str) -> list[str]:
    lines = [
        "",
        f"customer {c.customer}: target {c.target_percent} %"
        + (f"; no credits: {c.ineligible_reason}" if c.ineligible_reason else ""),
    ]
    if c.excluded_seconds:
        lines.append(
            "excluded: "
            + ", ".join(
                f"{reason} {format_duration(seconds)}"
                for reason, seconds in sorted(c.excluded_by_reason.items())
                if seconds
            )
        )
    lines.append(
        text_table(
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
                    i.id,
                    i.service,
                    format_time(i.start, timezone, calendar, seconds=True),
                    format_time(i.end, timezone, calendar, seconds=True) if i.end else "open",
                    format_duration(i.counted_seconds),
                    i.cause,
                    format_duration(i.detection_seconds),
                    format_duration(i.notified_after_seconds),
                ]
                for i in c.incidents
            ],
        )
    )
    if c.credit_lines:
        lines.append(
            text_table(
                ["rule", "days", "amount", "evidence"],
                [
                    [
                        line.rule,
                        "-" if line.days is None else shown_days(line.days),
                        "-" if line.amount is None else format_money(line.amount, c.currency),
                        _evidence(line),
                    ]
                    for line in c.credit_lines
                ],
            )
        )
    return lines


def report_table(report: MonthReport, *, detail: bool = False) -> str:
    """The summary per customer; with ``detail``, each customer's incidents and credit
    lines with their evidence (R-C3)."""
    period = report.period
    tz, calendar = period.timezone, period.calendar
    lines = [
        f"SLA report {period.label} ({calendar}, {tz}): "
        f"{format_time(period.start, tz, calendar)} to {format_time(period.end, tz, calendar)}",
        text_table(SUMMARY, [_summary_row(c) for c in report.customers]),
    ]
    if detail:
        for c in report.customers:
            lines += _detail(c, tz, calendar)
    return "\n".join(lines)


def report_csv(report: MonthReport) -> str:
    """One row per customer with the JSON report's figures (:data:`CSV_FIELDS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for c in report.customers:
        writer.writerow(
            [
                report.period.label,
                c.customer,
                c.period_seconds,
                c.downtime_seconds,
                c.excluded_seconds,
                c.unknown_seconds,
                format_percent(c.availability_percent),
                c.target_percent,
                c.tier or "",
                c.tier_credit_days,
                c.notification_credit_days,
                shown_days(c.partial_credit_days),
                shown_money(c.refund_amount),
                shown_days(c.credit_days_total),
                shown_money(c.credit_value),
                c.currency,
                _ids(c.notification_breaches, " "),
                _ids(c.detection_breaches, " "),
                c.ineligible_reason or "",
            ]
        )
    return out.getvalue().rstrip("\n")
