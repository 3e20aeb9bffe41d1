"""MonthToDate: the running month refreshed incrementally gives exactly what
compute_month gives for the same inputs and now, after any sequence of changes and clock
steps; and it recomputes only the customers whose figures can have changed."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.sla import (
    CAUSES,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthToDate,
    Policy,
    TicketInput,
    compute_month,
)

from .builders import DAY, HOUR, MARCH, MINUTE, at, customer, later

SERVICES = ("panel", "mobile", "srv-1", "srv-2", "p1", "p2", "p3", "p4")
POLICY = Policy()


class World:
    """A provider's month, changed one random event at a time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = at(1, 0, 30)
        self.customers = {
            f"c{n}": customer(f"c{n}", services)
            for n, services in enumerate(
                [
                    ("panel", "srv-1", "p1"),
                    ("panel", "srv-1", "p2", "mobile"),
                    ("panel", "srv-2", "p3"),
                    ("panel", "srv-2", "p4", "mobile"),
                    ("panel",),
                ]
            )
        }
        self.incidents: dict[int, IncidentInput] = {}
        self.windows: dict[int, MaintenanceInput] = {}
        self.notifications: dict[tuple[int, str], datetime] = {}
        self.unknown: list[Interval] = []
        self.tickets: dict[int, TicketInput] = {}
        self.ids = 0
        self.told: set[tuple[int, str]] = set()  # notification keys changed this step

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def step(self) -> None:
        rng = self.rng
        self.told = set()
        self.now = later(self.now, rng.choice((1, 30, 5 * MINUTE, HOUR, 2 * HOUR + 1, 7 * HOUR)))
        # Outages close often and the monitor is rarely blind, so that many refreshes
        # reuse most customers (the incremental path is what is being checked).
        event = rng.choice((0, 1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 8, 9, 10, 10, 10))
        open_ids = [i for i, incident in self.incidents.items() if incident.end is None]
        if event == 0 or not self.incidents:
            service = rng.choice(SERVICES)
            if not any(self.incidents[i].service_id == service for i in open_ids):
                start = later(self.now, -rng.randrange(1, 3 * HOUR))
                start = max(start, MARCH.start)
                incident_id = self.next_id()
                self.incidents[incident_id] = IncidentInput(
                    incident_id, service, start, None, detected_at=later(start, 60))
        elif event == 1 and open_ids:
            closing = self.incidents[rng.choice(open_ids)]
            self.incidents[closing.id] = replace(closing, end=self.now)
        elif event == 2:
            chosen = self.incidents[rng.choice(list(self.incidents))]
            self.incidents[chosen.id] = replace(chosen, cause=rng.choice(CAUSES))
        elif event == 3:
            chosen = self.incidents[rng.choice(list(self.incidents))]
            told = rng.choice(list(self.customers))
            if chosen.service_id in self.customers[told].services:
                self.notifications[(chosen.id, told)] = min(
                    self.now, later(chosen.start, rng.randrange(0, 4 * HOUR)))
                self.told.add((chosen.id, told))
        elif event == 4:
            start = later(self.now, rng.randrange(-DAY, 3 * DAY))
            start = max(start, MARCH.start)
            services = frozenset(rng.sample(SERVICES, 2))
            notices = {c: later(start, -rng.choice((47, 49)) * HOUR)
                       for c in self.customers if rng.random() < 0.5}
            window_id = self.next_id()
            self.windows[window_id] = MaintenanceInput(
                window_id, services, start, later(start, 4 * HOUR), "update", notices)
        elif event == 5 and self.windows:
            window = self.windows[rng.choice(list(self.windows))]
            notices = dict(window.notices)
            notices[rng.choice(list(self.customers))] = later(window.start, -50 * HOUR)
            self.windows[window.id] = replace(window, notices=notices)
        elif event == 6:
            start = later(self.now, -rng.randrange(1, 6 * HOUR))
            self.unknown.append(Interval(max(start, MARCH.start), self.now))
        elif event == 7:
            lapsing = rng.choice(list(self.customers))
            self.customers[lapsing] = replace(
                self.customers[lapsing], paid_until=later(self.now, rng.randrange(-DAY, DAY)))
        elif event == 8:
            ticket_id = self.next_id()
            self.tickets[ticket_id] = TicketInput(
                ticket_id, rng.choice(list(self.customers)), rng.choice(("web_panel", "mobile")),
                # R-P1/R-P2: due 5 d after the report (2 d diagnosis, 3 d fix), so the
                # delay crosses tiers and started days while the month runs.
                max(MARCH.start, later(self.now, -5 * DAY + rng.randrange(-2 * HOUR, 10 * HOUR))),
                provider_fault=True)
        elif event == 10:
            pass  # only the clock moves
        elif event == 9 and self.tickets:
            fixing = self.tickets[rng.choice(list(self.tickets))]
            self.tickets[fixing.id] = replace(fixing, fixed_at=self.now)

    def inputs(self) -> tuple:  # type: ignore[type-arg]
        return (list(self.customers.values()), list(self.incidents.values()),
                list(self.windows.values()), dict(self.notifications), list(self.unknown))


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(5, 25))
def test_refreshes_equal_compute_month_after_any_changes(rng: random.Random, steps: int) -> None:
    world = World(rng)
    month = MonthToDate(MARCH, POLICY)
    for _ in range(steps):
        world.step()
        customers, incidents, windows, notifications, unknown = world.inputs()
        tickets = list(world.tickets.values())
        # The daemon says which notifications changed; the mapping compared whole too.
        hint = world.told if rng.random() < 0.5 else None
        refreshed = month.refresh(customers, incidents, windows, notifications, unknown,
                                  world.now, tickets, changed_notifications=hint)
        expected = compute_month(MARCH, customers, incidents, windows, notifications, unknown,
                                 POLICY, world.now, tickets)
        assert refreshed.report == expected


def test_a_quiet_minute_recomputes_nobody_and_an_outage_only_its_customers() -> None:
    customers = [customer("c1", ("panel", "p1")), customer("c2", ("panel", "p2")),
                 customer("c3", ("panel", "p3"))]
    closed = IncidentInput(1, "p1", at(2, 10), at(2, 11))
    month = MonthToDate(MARCH, POLICY)
    first = month.refresh(customers, [closed], [], {}, [], at(3))
    assert (first.recomputed, first.customers) == (3, 3)  # the first refresh computes all
    quiet = month.refresh(customers, [closed], [], {}, [], at(3, 0, 1))
    assert quiet.recomputed == 0
    assert quiet.report == compute_month(MARCH, customers, [closed], [], {}, [], POLICY,
                                         at(3, 0, 1))
    project_down = IncidentInput(2, "p2", at(3, 0, 1, 30), None)
    opened = month.refresh(customers, [closed, project_down], [], {}, [], at(3, 0, 2))
    assert opened.recomputed == 1  # c2 alone depends on p2
    still_down = month.refresh(customers, [closed, project_down], [], {}, [], at(3, 0, 3))
    assert still_down.recomputed == 1  # its downtime grows with the clock
    assert still_down.report.customer("c2").downtime_seconds == 90  # 00:01:30 to 00:03:00
    panel_down = IncidentInput(3, "panel", at(3, 0, 3), None)
    everyone = month.refresh(customers, [closed, project_down, panel_down], [], {}, [],
                             at(3, 0, 4))
    assert everyone.recomputed == 3  # every customer depends on the web panel


def test_an_r_n1_deadline_passing_recomputes_its_customers_once() -> None:
    """R-N1 Decision: an unnotified incident is a breach only once 2 h have passed."""
    customers = [customer("c1", ("panel", "p1")), customer("c2", ("panel", "p2"))]
    incident = IncidentInput(1, "p1", at(3, 10), at(3, 10, 30))
    month = MonthToDate(MARCH, POLICY)
    month.refresh(customers, [incident], [], {}, [], at(3, 11))
    at_deadline = month.refresh(customers, [incident], [], {}, [], at(3, 12))
    assert at_deadline.recomputed == 0
    assert at_deadline.report.customer("c1").notification_breaches == ()  # exactly 2 h: in time
    past = month.refresh(customers, [incident], [], {}, [], at(3, 12, 0, 1))
    assert past.recomputed == 1
    assert past.report.customer("c1").notification_breaches == (1,)
    assert month.refresh(customers, [incident], [], {}, [], at(3, 13)).recomputed == 0


def test_an_unfixed_ticket_recomputes_its_customer_as_its_delay_grows() -> None:
    """R-P2: 1 % of the yearly fee (3650: 36.50) per started day of delay on a mobile fix."""
    customers = [customer("c1", ("panel",)), customer("c2", ("panel",))]
    # Reported on the 2nd at 00:00: diagnosis due in 2 d, fix due 3 d later, the 7th 00:00.
    ticket = TicketInput(1, "c1", "mobile", at(2), provider_fault=True)
    month = MonthToDate(MARCH, POLICY)
    month.refresh(customers, [], [], {}, [], at(7, 1), [ticket])
    later_on = month.refresh(customers, [], [], {}, [], at(8, 1), [ticket])
    assert later_on.recomputed == 1  # c1 only
    assert later_on.report.customer("c1").refund_amount == 2 * 3650 / 100  # 2 started days
    fixed = replace(ticket, fixed_at=at(8, 2))
    month.refresh(customers, [], [], {}, [], at(8, 3), [fixed])
    assert month.refresh(customers, [], [], {}, [], at(9), [fixed]).recomputed == 0
