"""What the operators' summary says of its month's state, in its HTML and its PDF alike: a
month still running said "Not closed: ... (close the month to freeze them: sla-monitor
report close --month M)", which `report close` refuses until the month ends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from monitor.present.statement import Summary, SummaryRow, summary_html, summary_print


def summary(computed_at: dt.datetime) -> Summary:
    # Azar 1405 in Tehran: 1405/09/01 00:00 (2026-11-21T20:30Z) to 1405/10/01 00:00
    # (2026-12-21T20:30Z).
    return Summary(provider="Rabit Hosting", month="1405-09", calendar="jalali",
                   timezone="Asia/Tehran",
                   period_start=dt.datetime(2026, 11, 21, 20, 30, tzinfo=dt.UTC),
                   period_end=dt.datetime(2026, 12, 21, 20, 30, tzinfo=dt.UTC),
                   target_percent=Decimal("99.8"), rows=(), revision=None, inputs_hash=None,
                   revision_current=False, computed_at=computed_at,
                   # R-N1: 2 h after the end, 1405/10/01 02:00 Tehran.
                   closable_from=dt.datetime(2026, 12, 21, 22, 30, tzinfo=dt.UTC))


def printed(m: Summary) -> str:
    """The PDF's words (its data's strings, joined)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(summary_print(m))
    return "".join(found)


def test_a_running_month_says_so_and_when_it_can_be_closed() -> None:
    running = summary(dt.datetime(2026, 12, 6, 21, 0, tzinfo=dt.UTC))
    for text in (summary_html(running), printed(running)):
        assert "Not closed" not in text and "report close" not in text
        assert ("A month still running: figures so far, as computed 1405/09/16 00:30 "
                "Asia/Tehran") in text, text[:2000]
        assert "it can be closed from 1405/10/01 02:00 Asia/Tehran" in text
        assert "once its last notification deadline has passed (R-N1)" in text
    # Ended, not yet closable: report close would refuse until 02:00.
    settling = summary(dt.datetime(2026, 12, 21, 21, 0, tzinfo=dt.UTC))
    for text in (summary_html(settling), printed(settling)):
        assert "Not closed: figures as computed 1405/10/01 00:30 Asia/Tehran" in text
        assert "it can be closed from 1405/10/01 02:00 Asia/Tehran" in text
        assert "once its last notification deadline has passed (R-N1)" in text
        assert "close the month to freeze them" not in text
    ended = summary(dt.datetime(2026, 12, 22, 8, 0, tzinfo=dt.UTC))
    for text in (summary_html(ended), printed(ended)):
        assert "Not closed: figures as computed 1405/10/01 11:30 Asia/Tehran" in text
        assert "sla-monitor report close --month 1405-09" in text


def _row(number: int, below: bool) -> SummaryRow:
    return SummaryRow(customer=f"c{number:05d}", name=f"Customer {number}",
                      availability_percent=Decimal("99.5" if below else "100"),
                      below_target=below, downtime_seconds=13_392 if below else 0,
                      excluded_seconds=0, unknown_seconds=0, tier="1w" if below else None,
                      credit_days_total=Decimal(7 if below else 0), credit_value=Decimal(0),
                      refund_amount=Decimal(0), currency="IRR", notification_breaches=(),
                      detection_breaches=(), ineligible_rule=None, statement="-", claim="-")


def test_the_totals_count_customers_below_target_and_name_them_only_when_few() -> None:
    """At 10,000 customers below target, the summary's "Below target" cell listed every id:
    20 of the PDF's 774 pages (each customer is a row of the table below, with
    its availability marked). Beyond 20 the cell gives the count and says where to look;
    20 or fewer are named, as before."""
    ended = dt.datetime(2026, 12, 22, 8, 0, tzinfo=dt.UTC)
    many = dataclasses.replace(summary(ended), rows=tuple(
        _row(number, below=number % 4 != 0) for number in range(10_000)))
    for text in (summary_html(many), printed(many)):
        assert "c00001, c00002" not in text
        assert "7,500 of 10,000, marked in the table of customers" in text
        assert "10,000" in text.split("Below target")[0][-200:]  # the customers' count
    few = dataclasses.replace(summary(ended), rows=tuple(
        _row(number, below=number in (3, 7)) for number in range(30)))
    for text in (summary_html(few), printed(few)):
        assert "2 of 30: c00003, c00007" in text
