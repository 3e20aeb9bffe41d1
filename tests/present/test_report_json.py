"""``report --format json`` writes the month's report customer by customer, each incident
line from pieces written once per incident (:func:`monitor.present.report_json_text`): the
same text as :func:`monitor.present.json_text` of the whole document (the command line's one
JSON form), for every kind of line, lines shared by customers, a month of no customer and
a cluster's report (written the general way); and on one line as the HTTP API sends it."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given, settings

from monitor.present import as_json, json_text, report_json_text
from tests.evidence.test_encoded_report import _lines
from tests.sla.builders import at, customer, month_report, notified_in_time, outage


def _sent(report: object) -> str:
    """The report as the HTTP API encodes a typed result (``monitor.http.routing``)."""
    return json.dumps(as_json(report), ensure_ascii=False)


def _month() -> object:
    incidents = [outage(1, "panel", at(2), 7200), outage(2, "proj-a", at(3), None,
                                                         cause="external"),
                 outage(3, "panel", at(9), 60, detected_at=at(9, 0, 0, 30))]
    return month_report(
        [customer("acme", ("panel", "proj-a")), customer("bita«پارس»", ("panel",))], incidents,
        notifications={**notified_in_time(incidents), **notified_in_time(incidents[:1], "bita«پارس»")})


def test_a_month_is_written_as_the_command_line_writes_json() -> None:
    report = _month()
    text = report_json_text(report)  # type: ignore[arg-type]
    assert text == json_text(report.to_json())  # type: ignore[attr-defined]
    assert report_json_text(report, indented=False) == _sent(report)  # type: ignore[arg-type]
    assert json.loads(text)["customers"][1]["incidents"][0]["id"] == 1  # the panel's, shared


def test_every_kind_of_line_in_several_customers_is_written_the_same() -> None:
    base = _month()

    @settings(max_examples=150, deadline=None)
    @given(_lines(), _lines())
    def check(first: list[object], second: list[object]) -> None:
        acme, bita = base.customers  # type: ignore[attr-defined]
        report = dataclasses.replace(base, customers=(  # type: ignore[type-var]
            dataclasses.replace(acme, incidents=tuple(first)),
            dataclasses.replace(bita, incidents=tuple(second))))
        assert report_json_text(report) == json_text(report.to_json())
        assert report_json_text(report, indented=False) == _sent(report)

    check()


def test_no_customers_and_a_clusters_report_are_written_the_same() -> None:
    base = _month()
    empty = dataclasses.replace(base, customers=())  # type: ignore[type-var]
    cluster = dataclasses.replace(base, confirmed_by={1: ("v1", "v2")},  # type: ignore[type-var]
                                  vantage_problems=())
    for report in (empty, cluster):
        assert report_json_text(report) == json_text(report.to_json())
        assert report_json_text(report, indented=False) == _sent(report)
    assert '"confirmed_by"' in report_json_text(cluster)
