"""A frozen report is encoded once (:func:`monitor.store.evidence.encoded_report`): its text
and the digest of each customer's part, which the statements entry chains, are exactly
those of the canonical form the chain and an archive's check compute from the values
(:func:`canonical`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from monitor.store import evidence

CUSTOMER: dict[str, Any] = {
    "customer": "c-«پارس»", "availability_percent": 99.663, "tier": None,
    "credit_days_total": 1.5, "excluded_by_reason": {"external": 60, "customer_action": 5},
    "credit_lines": [{"rule": "R-T1", "days": 3, "amount": None, "incidents": [2, 1]}],
    "incidents": [{"id": 7, "start": "2026-03-01T10:00:00Z", "end": None,
                   "detail": "a \"quoted\" \\ line\n\u0000"}]}


@pytest.mark.parametrize("report", [
    {"month": "2026-03", "calendar": "gregorian", "timezone": "Asia/Tehran",
     "period_start": "2026-02-28T20:30:00Z", "period_end": "2026-03-31T19:30:00Z",
     "customers": [CUSTOMER, {**CUSTOMER, "customer": "b", "tier": "T2"}],
     "vantage_problems": [{"target": "customers", "vantage": "v1", "end": None}]},
    {"month": "2026-03", "customers": []},
    {"month": "2026-03", "customers": None},
    {"month": "2026-03"},
    {},
], ids=["customers and vantage problems", "no customers", "customers null", "no key", "empty"])
def test_a_report_encoded_once_is_its_canonical_text_and_its_customers(
        report: dict[str, Any]) -> None:
    text, digests = evidence.encoded_report(report)
    assert text == evidence.canonical(report) == evidence.encoded_document(report)
    customers = report.get("customers")
    assert digests == [evidence.content_digest(evidence.canonical(c)) for c in (customers or [])]


def test_customers_given_apart_are_encoded_in_their_place_one_by_one() -> None:
    """A month's close gives the customers' parts as an iterator (each written, encoded and
    let go): the text and digests are those of the whole document."""
    customers = [CUSTOMER, {**CUSTOMER, "customer": "b", "tier": "T2"}]
    whole = {"month": "2026-03", "calendar": "gregorian", "customers": customers,
             "vantage_problems": []}
    given: list[str] = []

    def written() -> Any:
        for customer in customers:
            given.append(customer["customer"])
            yield customer

    text, digests = evidence.encoded_report({**whole, "customers": []}, written())
    assert (text, digests) == evidence.encoded_report(whole)
    assert text == evidence.canonical(whole)
    assert given == ["c-«پارس»", "b"]


@pytest.mark.parametrize("text", ["", "a", "x" * (2 << 20) + "«پارس»", "پ" * ((1 << 20) + 1)])
def test_a_long_text_is_digested_by_pieces_as_its_whole_bytes(text: str) -> None:
    import hashlib
    assert evidence.content_digest(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lines() -> Any:
    """Incident lines as a month's engine may give them: an open incident, an unknown
    detection, an incident never notified, ids and services of any text, a line object
    shared by customers and lines of one incident that differ in their own seconds."""
    from hypothesis import strategies as st

    from monitor.sla import IncidentLine

    instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                            timezones=st.just(dt.UTC)).map(lambda t: t.replace(microsecond=0))
    seconds = st.none() | st.integers(min_value=-10**12, max_value=10**12)
    line = st.builds(IncidentLine, st.integers(min_value=1, max_value=5), st.text(),
                     instants, st.none() | instants, st.integers(min_value=0, max_value=10**9),
                     st.sampled_from(["provider", "external", "customer_action"]), seconds,
                     seconds)
    return st.lists(line, max_size=12).flatmap(
        lambda lines: st.lists(st.sampled_from(lines), max_size=20) if lines else st.just([]))


def test_a_customers_part_encoded_from_its_lines_is_its_canonical_text() -> None:
    """A month's close encodes each customer's part with its incident lines written from
    pieces once per incident (:func:`line_texts`): the text is the canonical encoder's of
    the part with its lines, for every kind of line, the same lines in several customers'
    parts (one ``LineTexts`` for the report) and lines of one incident id that differ."""
    from hypothesis import given, settings

    from tests.sla.builders import at, customer, month_report, outage

    report = month_report([customer("acme", ("panel",))], [outage(1, "panel", at(2), 7200)])
    acme = report.customer("acme")

    @settings(max_examples=200, deadline=None)
    @given(_lines(), _lines())
    def check(first: list[Any], second: list[Any]) -> None:
        texts = evidence.line_texts()
        for lines in (first, second, first):
            part = dataclasses.replace(acme, incidents=tuple(lines))
            assert evidence.encoded_customer(part.to_json(incidents=False), part.incidents,
                                             texts) == evidence.canonical(part.to_json())

    check()


@pytest.mark.parametrize("field", ["counted_seconds", "notified_after_seconds", "id",
                                   "detection_seconds"])
def test_a_line_whose_seconds_are_not_integers_is_refused_not_written_otherwise(
        field: str) -> None:
    """A bool or a float is another JSON text than the integer it equals: refused."""
    from monitor.sla import IncidentLine

    line = IncidentLine(1, "panel", dt.datetime(2026, 3, 2, tzinfo=dt.UTC), None, 60,
                        "provider", 5, 30)._replace(**{field: True})
    with pytest.raises(TypeError, match="integers"):
        evidence.line_texts().texts([line])


def test_a_part_holding_the_place_of_its_lines_twice_is_refused_not_spliced_wrongly() -> None:
    """The lines go where the part says they were written apart, once: a value of the part
    that is that very text (none of a report is) is refused rather than taken for it."""
    from monitor.sla.report import WRITTEN_APART, spliced

    with pytest.raises(ValueError, match="once"):
        evidence.encoded_customer({"customer": "acme", "ineligible_reason": WRITTEN_APART},
                                  [], evidence.line_texts())
    with pytest.raises(ValueError, match="once"):
        spliced('{"customers":[]}', "[1]")
    assert spliced('{"a":' + json.dumps(WRITTEN_APART) + ',"b":2}', "[1]") == '{"a":[1],"b":2}'
