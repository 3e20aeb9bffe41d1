"""Who the contract gives nothing (R-EX5, R-EX6, R-EX7): one decision for the report's
credits and the notifier's e-mails."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.sla import ineligible, lapse_instant, suspended, unsupported_version

from .builders import at, customer


def test_r_ex5_paid_through_the_end_of_the_last_paid_day_in_the_provider_zone() -> None:
    # Tehran is UTC+03:30: 21 June 2026 ends at 20:30 UTC.
    assert lapse_instant([date(2026, 6, 21)], "Asia/Tehran") == at(21, 20, 30, month=6)
    # Decision: suspended only when every site has lapsed (the later one counts).
    later_site = lapse_instant([date(2026, 6, 21), date(2027, 1, 1)], "UTC")
    assert later_site == datetime(2027, 1, 2, tzinfo=UTC)
    assert lapse_instant([date(2026, 6, 21), None], "UTC") is None  # one never lapses


def test_r_ex5_suspended_from_the_lapse_instant_on() -> None:
    lapsed = customer(paid_until=at(15))
    assert not suspended(lapsed, at(14, 23, 59, 59)) and suspended(lapsed, at(15))


@pytest.mark.parametrize(("fields", "credits", "alerts"), [
    ({}, None, None),
    ({"paid_until": at(1)}, "R-EX5", "R-EX5"),  # lapsed: no credit, no customer e-mail
    ({"clone": True}, "R-EX6", "R-EX6"),  # a clone: neither
    ({"unsupported_version": True}, "R-EX7", None),  # Decision: e-mails still go out
    ({"paid_until": at(1), "clone": True}, "R-EX5", "R-EX5"),  # rule order
])
def test_ineligible_in_rule_order(fields: dict[str, object], credits: str | None,
                                  alerts: str | None) -> None:
    who = customer(**fields)
    assert ineligible(who, at(2)) == credits
    assert ineligible(who, at(2), alerts=True) == alerts


def test_r_ex7_supported_means_listed_and_an_empty_list_supports_all() -> None:
    assert unsupported_version(["4.1", None], ["4.2", "4.1"]) is False
    assert unsupported_version(["4.0"], ["4.2", "4.1"]) is True
    assert unsupported_version(["0.1"], []) is False
