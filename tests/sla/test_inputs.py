"""Input records refuse meaningless values, and the docstring examples stay true."""

from __future__ import annotations

import doctest
from datetime import datetime
from decimal import Decimal
from types import ModuleType

import pytest

import monitor.sla.calendar
import monitor.sla.intervals
import monitor.sla.policy
from monitor.sla import CAUSES, IncidentInput, MaintenanceInput

from .builders import HOUR, at, customer, later


def test_causes_are_the_contract_causes() -> None:
    # provider is counted; R-EX2, R-EX3 and R-EX4 exclude the others.
    assert CAUSES == ("provider", "customer_request", "customer_action", "external")


def test_incident_refuses_naive_times_bad_causes_and_backward_intervals() -> None:
    with pytest.raises(ValueError, match="naive"):
        IncidentInput(1, "panel", datetime(2026, 3, 1), None)
    with pytest.raises(ValueError, match="cause 'weather'"):
        IncidentInput(1, "panel", at(1), None, "weather")
    with pytest.raises(ValueError, match="must be after start"):
        IncidentInput(1, "panel", at(2), at(1))


def test_maintenance_refuses_naive_notice_times() -> None:
    with pytest.raises(ValueError, match=r"notices\['acme'\]"):
        MaintenanceInput(1, frozenset({"panel"}), at(2), later(at(2), HOUR), "update",
                         {"acme": datetime(2026, 3, 1)})


def test_customer_refuses_a_negative_fee() -> None:
    with pytest.raises(ValueError, match="fee_per_year"):
        customer(fee_per_year=Decimal(-1))


@pytest.mark.parametrize("module", [monitor.sla.intervals, monitor.sla.calendar,
                                    monitor.sla.policy])
def test_docstring_examples(module: ModuleType) -> None:
    assert doctest.testmod(module).failed == 0
