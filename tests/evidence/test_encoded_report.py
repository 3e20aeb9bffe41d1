"""A frozen report is encoded once (:func:`monitor.store.evidence.encoded_report`): its text
and the digest of each customer's part, which the statements entry chains, are exactly
those of the canonical form the chain and an archive's check compute from the values
(:func:`canonical`)."""

from __future__ import annotations

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
