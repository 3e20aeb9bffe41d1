"""A statement's table rows are made once for every statement that shows them (an outage of
a server is in the statements of all its customers) and kept: what a customer reads is the
same whether the rows were made for it or for another customer first, and each customer's
own notification time is its own (SPEC section 7: the English and the Persian reader)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest

from monitor.present import statement as shown
from monitor.present.language import language
from monitor.present.statement import IncidentRow, MaintenanceRow, Statement

START = dt.datetime(2026, 3, 2, 13, 23, 48, tzinfo=dt.UTC)
SHARED = IncidentRow(7, "Server 14 (srv-14)", START, START + dt.timedelta(minutes=10), 600,
                     "provider", START + dt.timedelta(minutes=5), 300, False, 60)
WINDOW = MaintenanceRow(3, ("Panel (panel)",), START, START + dt.timedelta(hours=2), "update",
                        START - dt.timedelta(days=3), START - dt.timedelta(days=2), True)


def statement(customer: str, code: str, told: dt.datetime | None, late: bool) -> Statement:
    incident = dataclasses.replace(
        SHARED, notified_at=told, notified_after_seconds=None if told is None else int(
            (told - START).total_seconds()), notification_late=late)
    return Statement(
        provider="Bench Hosting", customer=customer, customer_name=customer.title(),
        month="2026-03", calendar="gregorian", timezone="UTC",
        period_start=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 4, 1, tzinfo=dt.UTC), revision=1, inputs_hash="ab" * 32,
        closed_at=dt.datetime(2026, 4, 3, tzinfo=dt.UTC), period_seconds=2678400,
        downtime_seconds=600, excluded_seconds=0, excluded_by_reason={}, unknown_seconds=0,
        availability_percent=Decimal("99.977"), target_percent=Decimal("99.8"), tier=None,
        tier_credit_days=0, notification_credit_days=1 if late else 0,
        partial_credit_days=Decimal(0), refund_amount=Decimal(0),
        credit_days_total=Decimal(1 if late else 0), credit_value=Decimal("3.29"),
        currency="EUR", fee_per_year=Decimal(1200), ineligible_rule=None,
        no_credit_because=None, incidents=(incident,), maintenance=(WINDOW,),
        credit_lines=(), detection_breaches=(),
        claim_deadline=dt.datetime(2026, 4, 15, tzinfo=dt.UTC),
        how_to_claim=("reply to this e-mail",), claim=None, rtl=code == "fa",
        language=language(code))


def files(s: Statement) -> tuple[str, str, str]:
    return (shown.statement_html(s), shown.statement_csv(s),
            json.dumps(shown.statement_print(s), ensure_ascii=False))


def forget() -> None:
    for kept in (shown._incident_html, shown._window_html, shown._incident_shared_cells,
                 shown._window_cells, shown._csv_incident_shared, shown._csv_window):
        kept.cache_clear()


@pytest.mark.parametrize("code", ["en", "fa"])
def test_a_row_made_for_another_customer_shows_this_customers_own_notification(
    code: str,
) -> None:
    told = statement("acme", code, START + dt.timedelta(minutes=5), late=False)
    untold = statement("bita", code, None, late=True)
    forget()
    alone = files(untold)
    forget()
    files(told)  # the shared rows made for acme first
    after = files(untold)
    assert after == alone
    html, csv, printed = after
    reader = language(code)
    assert reader.gettext("not notified") in html and reader.gettext("not notified") in printed
    assert reader.gettext("late") in printed
    shared = reader.time(SHARED.end, "UTC", "gregorian", seconds=True, compact=True)
    assert shared in html and shared in printed  # the row's shared cells are there too
    own = reader.time(told.incidents[0].notified_at, "UTC", "gregorian", seconds=True,
                      compact=True)
    assert own not in html and own not in printed and own not in csv
    assert own in files(told)[0]
