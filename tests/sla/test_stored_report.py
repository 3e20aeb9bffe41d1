"""A frozen report revision (R-C3) read back typed: ``MonthReport.from_json`` beside each
``to_json``, the stored SPEC section 7 JSON in, the same typed report out."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import StoreError
from monitor.sla import CreditLine, CustomerReport, IncidentLine, MonthReport
from monitor.sla.calendar import month_period
from monitor.sla.inputs import CAUSES
from monitor.sla.report import VantageProblemLine

from .builders import MARCH, at, customer, month_report, outage

EXAMPLES = settings(max_examples=150, deadline=None)

ids = st.integers(min_value=1, max_value=10**9)
seconds = st.integers(min_value=0, max_value=10**7)
names = st.text(min_size=1, max_size=12)
# Whole seconds, UTC: what iso_utc writes (a frozen report keeps no fractions of a second).
instants = st.integers(min_value=0, max_value=4 * 10**9).map(
    lambda s: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=s))
# Numbers as the JSON shows them (R-M6): three decimals of availability, cents of money,
# whole or half days; a decimal with at most 15 digits is what a float carries exactly.
availability = st.integers(min_value=0, max_value=100_000).map(lambda n: Decimal(n).scaleb(-3))
money = st.integers(min_value=0, max_value=10**12).map(lambda n: Decimal(n).scaleb(-2))
days = st.integers(min_value=0, max_value=2000).map(lambda n: Decimal(n) / 2)
targets = st.sampled_from([Decimal("99.8"), Decimal("99.5"), Decimal("99"), Decimal("99.95")])


def _incident(incident_id: int) -> st.SearchStrategy[IncidentLine]:
    return st.builds(IncidentLine, st.just(incident_id), names, instants,
                     st.none() | instants, seconds, st.sampled_from(CAUSES),
                     st.none() | seconds, st.none() | seconds)


credit_lines = st.builds(
    CreditLine, st.sampled_from(["R-T1", "R-N1", "R-P1", "R-P2", "R-C1"]), st.none() | days,
    st.none() | money, st.lists(ids, max_size=3).map(tuple),
    st.lists(ids, max_size=3).map(tuple), st.lists(ids, max_size=3).map(tuple))


@st.composite
def customers(draw: st.DrawFn, name: str) -> CustomerReport:
    incident_ids = draw(st.lists(ids, max_size=4, unique=True))
    return CustomerReport(
        customer=name,
        period_seconds=draw(seconds),
        downtime_seconds=draw(seconds),
        excluded_seconds=draw(seconds),
        excluded_by_reason=draw(st.dictionaries(st.sampled_from((*CAUSES[1:], "maintenance")),
                                                seconds)),
        unknown_seconds=draw(seconds),
        availability_percent=draw(availability),
        target_percent=draw(targets),
        tier=draw(st.sampled_from([None, "1w", "2w", "1m"])),
        tier_credit_days=draw(st.integers(min_value=0, max_value=31)),
        notification_breaches=tuple(draw(st.lists(ids, max_size=3))),
        notification_credit_days=draw(st.integers(min_value=0, max_value=31)),
        detection_breaches=tuple(draw(st.lists(ids, max_size=3))),
        partial_credit_days=draw(days),
        refund_amount=draw(money),
        credit_days_total=draw(days),
        credit_value=draw(money),
        currency=draw(st.sampled_from(["EUR", "IRR", "USD"])),
        ineligible_reason=draw(st.none() | names),
        credit_lines=tuple(draw(st.lists(credit_lines, max_size=3))),
        incidents=tuple(draw(_incident(i)) for i in incident_ids),
    )


@st.composite
def reports(draw: st.DrawFn) -> MonthReport:
    label, calendar = draw(st.sampled_from([("2026-03", "gregorian"), ("1405-01", "jalali")]))
    period = month_period(label, calendar, draw(st.sampled_from(["UTC", "Asia/Tehran"])))
    names_drawn = draw(st.lists(names, max_size=4, unique=True))
    month = tuple(draw(customers(n)) for n in sorted(names_drawn))
    if not draw(st.booleans()):
        return MonthReport(period, month)
    # A cluster's month: the vantages that confirmed each incident (an incident no vantage
    # confirmed has none: to_json writes [] for it).
    incident_ids = sorted({line.id for report in month for line in report.incidents})
    confirmed = {i: tuple(draw(st.lists(names, min_size=1, max_size=3)))
                 for i in incident_ids if draw(st.booleans())}
    problems = tuple(draw(st.lists(st.builds(VantageProblemLine, names, names, instants,
                                             st.none() | instants), max_size=3)))
    return MonthReport(period, month, confirmed, problems)


@pytest.mark.slow
@EXAMPLES
@given(reports())
def test_a_frozen_report_reads_back_as_the_report_it_was(report: MonthReport) -> None:
    """R-C3: the typed report, written as JSON (through json, as the database stores it)
    and read back, is the same report: no field lost, renamed or retyped."""
    stored = json.loads(json.dumps(report.to_json()))
    assert MonthReport.from_json(stored) == report
    assert MonthReport.from_json(stored).to_json() == stored
    # Its stored text, typed a customer at a time, is the same report.
    for text in (_canonical(stored), json.dumps(stored, indent=1)):
        assert _whole(MonthReport.from_text(text)) == report
        assert list(MonthReport.from_text(text).heads()) == list(report.heads())


def _canonical(document: object) -> str:
    """The text a revision stores (monitor.store.evidence.encoded_document)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _whole(report: MonthReport) -> MonthReport:
    """``report`` with its customers typed all at once, to compare."""
    return dataclasses.replace(report, customers=tuple(report.customers))


#: Customer ids whose JSON needs escapes, or holds what delimits the customers' parts.
AWKWARD = ["acme", 'a "quoted" name', "back\\slash ]},{", "بیتا‌جان", "line\nbreak\u2028",
           "tab\t{\"customer\":\"x\"}"]


def test_a_stored_text_is_typed_a_customer_at_a_time_as_the_whole_document() -> None:
    """``from_text`` (a frozen revision as the database keeps it) reads each customer from
    its part of the text when asked, by position or id, and gives what ``from_json`` of
    the whole parsed document gives: ids with quotes, backslashes, brackets, Persian and
    line separators, in the canonical text and spaced alike; a cluster's confirmations."""
    incidents = [outage(n, "panel", at(n), 600 * n) for n in range(1, 4)]
    plain = month_report([customer(c) for c in AWKWARD], incidents)
    cluster = dataclasses.replace(plain, confirmed_by={1: ("v-a", "v-b"), 3: ("فارس",)},
                                  vantage_problems=(VantageProblemLine("panel", "v-b", at(2),
                                                                       None),))
    for report in (plain, cluster):
        stored = json.loads(json.dumps(report.to_json()))
        whole = MonthReport.from_json(stored)
        for text in (_canonical(stored), json.dumps(stored, indent=2)):
            read = MonthReport.from_text(text)
            assert len(read.customers) == len(AWKWARD)
            assert _whole(read) == whole
            assert list(read.heads()) == list(whole.heads()) == [
                (c.customer, c.ineligible_reason) for c in whole.customers]
            assert [read.customer(c) for c in reversed(AWKWARD)] == [
                whole.customer(c) for c in reversed(AWKWARD)]
            assert read.customers[-1] == whole.customers[-1]
            assert read.customers[1:3] == whole.customers[1:3]
            assert read.to_json() == stored
    with pytest.raises(KeyError):
        MonthReport.from_text(_canonical(plain.to_json())).customer("nobody")


def test_a_wrong_field_in_a_stored_text_names_where_it_is() -> None:
    """A customer typed from the text later names its place as ``from_json`` does."""
    report = month_report([customer("acme"), customer("bita")], [outage(1, "panel", at(1), 9)])
    stored = json.loads(json.dumps(report.to_json()))
    stored["customers"][1]["downtime_seconds"] = "9"
    read = MonthReport.from_text(_canonical(stored))
    assert read.customer("acme").downtime_seconds == 9
    with pytest.raises(StoreError, match=r"report\.customers\[1\]\.downtime_seconds is '9', "
                       "expected an integer"):
        read.customer("bita")
    with pytest.raises(StoreError, match="stored report"):
        MonthReport.from_text(_canonical(stored)[:-40])


def test_an_engine_report_reads_back_as_shown() -> None:
    """The engine's exact numbers are frozen as shown (R-M6): read back, the availability
    is the three decimals rounded down, and writing it again gives the same JSON."""
    # 1,000 s down of March's 2,678,400: (2,678,400 - 1,000) / 2,678,400 = 99.96266...%
    report = month_report([customer("acme")], [outage(1, "panel", at(1), 1000)])
    stored = json.loads(json.dumps(report.to_json()))
    read = MonthReport.from_json(stored)
    assert read.customer("acme").availability_percent == Decimal("99.962")
    assert read.customer("acme").downtime_seconds == 1000
    assert read.period == MARCH
    assert json.dumps(read.to_json()) == json.dumps(stored)


def test_a_wrong_field_names_where_it_is() -> None:
    report = month_report([customer("acme")], [outage(1, "panel", at(1), 1000)])
    stored = json.loads(json.dumps(report.to_json()))
    stored["customers"][0]["incidents"][0]["counted_seconds"] = "1000"
    with pytest.raises(StoreError, match=r"report\.customers\[0\]\.incidents\[0\]\."
                       r"counted_seconds is '1000', expected an integer"):
        MonthReport.from_json(stored)
    del stored["customers"][0]["downtime_seconds"]
    with pytest.raises(StoreError, match=r"report\.customers\[0\]\.downtime_seconds is missing"):
        MonthReport.from_json(stored)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("id", True, "id is True, expected an integer"),
    ("id", None, "id is None, expected an integer"),
    ("service", 3, "service is 3, expected a string"),
    ("start", "2026-03-01T10:00:00", "start is '2026-03-01T10:00:00', expected an ISO 8601"),
    ("start", "yesterday", "start is 'yesterday', expected an ISO 8601"),
    ("end", 1772359200, "end is 1772359200, expected a string"),
    ("end", "2026-03-01", "end is '2026-03-01', expected an ISO 8601"),
    ("counted_seconds", 1.5, "counted_seconds is 1.5, expected an integer"),
    ("cause", ["provider"], "cause is \\['provider'\\], expected a string"),
    ("cause", "weather", "cause is 'weather', expected one of"),
    ("detection_seconds", "60", "detection_seconds is '60', expected an integer"),
    ("notified_after_seconds", False, "notified_after_seconds is False, expected an integer"),
    ("notified_after_seconds", None, None),  # never notified: a line as it may be
    ("end", None, None),  # still open
])
def test_every_field_of_an_incident_line_is_checked(key: str, value: object,
                                                    said: str | None) -> None:
    """An incident line read back as ``to_json`` writes it is taken as it is; anything
    else is read field by field, and the field is named."""
    report = month_report([customer("acme")], [outage(1, "panel", at(1), 1000)])
    stored = json.loads(json.dumps(report.to_json()))
    stored["customers"][0]["incidents"][0][key] = value
    if said is None:
        line = MonthReport.from_json(stored).customer("acme").incidents[0]
        assert line.to_json()[key] is None
        return
    with pytest.raises(StoreError, match=r"report\.customers\[0\]\.incidents\[0\]\." + said):
        MonthReport.from_json(stored)


def test_a_missing_field_of_an_incident_line_is_named() -> None:
    report = month_report([customer("acme")], [outage(1, "panel", at(1), 1000)])
    stored = json.loads(json.dumps(report.to_json()))
    for key in list(stored["customers"][0]["incidents"][0]):
        document = json.loads(json.dumps(stored))
        del document["customers"][0]["incidents"][0][key]
        with pytest.raises(StoreError, match=rf"incidents\[0\]\.{key} is missing"):
            MonthReport.from_json(document)
