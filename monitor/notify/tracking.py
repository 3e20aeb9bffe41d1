"""Duties tracked and proven (D-2, D-3, D-4, D-5): who was told when, what is at risk, what
was missed.

For each incident and each affected eligible customer, the **notification
duty** (R-N1) is met by the earliest ``notifications`` row (an SMTP
acceptance, or a phone call an operator logged) no later than
``start + policy.notification_deadline``. For each maintenance window and
customer, the **maintenance notice duty** (D-3, R-EX1) is met by a
``maintenance_notices`` row no later than ``start - policy.maintenance_notice``.
Each duty's state comes from the engine (:func:`monitor.sla.duty_state`), on the
same boundary as the month's report: done exactly at the deadline is in time,
and a duty is breached only once its deadline has passed.

:meth:`DutyTracker.check` runs periodically. ``policy.notification_warning``
before a deadline with the duty unmet, the duty is *at risk*: operators get one
e-mail per incident listing the customers and their phone numbers, so a
person can still call (D-2), and the ``sla_monitor_duties_at_risk`` gauge
shows it. A maintenance notice that misses its deadline warns operators that
the window will count as downtime (R-EX1). Each breach is counted once in
``sla_monitor_duties_breached_total`` when this process sees its deadline pass.

The contract's other deadlines are tracked the same way (D-4, D-5): each claim's
receipt (the end of the next business day) and decision (14 days), each ticket's
diagnosis (48 h) and, after a provider-fault diagnosis, its fix (R-P1, R-P2; none
while deferred, R-P3). ``policy.deadline_warning`` before one of them, operators get
one e-mail (at risk); once it has passed unmet, one more (overdue), and the
``sla_monitor_duties_overdue`` gauge counts it until it is done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.actions.inputs import ticket_input
from monitor.notify import templates
from monitor.notify.duties import Duties
from monitor.notify.maintenance import late_maintenance_draft, window_customers
from monitor.notify.metrics import DUTIES
from monitor.notify.outbox import Draft, enqueue
from monitor.sla import (
    DutyState,
    diagnosis_due,
    duty_state,
    fix_deferred,
    fix_due,
    notice_due,
    notification_due,
)
from monitor.store import claims, incidents, maintenance, tickets
from monitor.store import outbox as stored
from monitor.store.maintenance import WindowRecord

if TYPE_CHECKING:
    from monitor.store import Tx

__all__ = ["CONTRACT_DUTIES", "DutyCheck", "DutyStatus", "DutyTracker"]

#: D-4 and D-5: what the operators are told to do about each (named in their e-mails).
CONTRACT_DUTIES = {
    "claim_receipt": "sla-monitor claim show {id} (is its receipt stuck in the outbox?)",
    "claim_decision": "sla-monitor claim decide {id} --approve | --partly DAYS | --reject --reason R",
    "ticket_diagnosis": "sla-monitor ticket diagnose {id} --provider-fault | --not-provider-fault",
    "ticket_fix": "sla-monitor ticket fix {id}",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DutyStatus:
    """One duty towards one customer: ``notification`` (R-N1, D-2), ``maintenance_notice``
    (D-3), ``claim_receipt`` / ``claim_decision`` (D-4), ``ticket_diagnosis`` /
    ``ticket_fix`` (D-5)."""

    duty: str
    about: int  # the incident, maintenance window, claim or ticket id
    customer_id: str
    since: dt.datetime  # incident start, window creation, submission, opening or diagnosis
    due: dt.datetime
    done_at: dt.datetime | None  # notified_at, the notice's sent_at, the receipt's, ...
    channel: str | None  # email | phone | other
    state: DutyState  # done | pending | at_risk | breached

    @property
    def latency_seconds(self) -> float | None:
        """D-2: notification latency from the incident start."""
        return None if self.done_at is None else (self.done_at - self.since).total_seconds()


@dataclass(frozen=True)
class DutyCheck:
    """One check: every tracked duty's state, and how many messages it queued (operator
    alerts, and outage e-mails of open incidents that were never queued)."""

    at: dt.datetime
    duties: tuple[DutyStatus, ...]
    queued: int

    def in_state(self, state: str, duty: str | None = None) -> list[DutyStatus]:
        return [d for d in self.duties if d.state == state and duty in (None, d.duty)]


class DutyTracker:
    """Checks the duties; counts each breach once (those whose deadline passes after ``since``)."""

    def __init__(self, duties: Duties, *, since: dt.datetime, lookback: float = 86400.0) -> None:
        self.duties = duties
        self.since = since
        self.lookback = dt.timedelta(seconds=lookback)
        self._counted: set[tuple[str, int, str]] = set()

    async def check(self, now: dt.datetime) -> DutyCheck:
        d = self.duties
        async with d.db.transaction() as tx:
            await d.renewed.read(tx)  # who is told (skip_reason) takes the renewals (L-2)
            found, targets, requeue = await self._notification_duties(tx, now)
            windows, late = await self._maintenance_duties(tx, now)
            contract = await self._contract_duties(tx, now)
            statuses = found + windows + contract
            drafts = self._warnings(statuses, targets, late, now) + self._contract_warnings(
                contract, now)
            queued = await enqueue(tx, drafts, now=now, domain=d.envelope.domain)
        for incident_id in requeue:  # opened, but its e-mails were never queued (a crash)
            queued += await d.on_incident_opened(incident_id)
        if queued:
            d.wake()
        for duty in DUTIES:
            at_risk = sum(1 for s in statuses if s.duty == duty and s.state == "at_risk")
            d.metrics.duties_at_risk.labels(duty).set(at_risk)
            overdue = sum(1 for s in statuses
                          if s.duty == duty and s.state == "breached" and s.done_at is None)
            d.metrics.duties_overdue.labels(duty).set(overdue)
        seen = {(s.duty, s.about, s.customer_id) for s in statuses}
        self._counted &= seen  # older duties have left the lookback: they never come back
        for status in statuses:
            key = (status.duty, status.about, status.customer_id)
            if status.state == "breached" and key not in self._counted:
                self._counted.add(key)
                if max(status.due, status.since) >= self.since:
                    d.metrics.duties_breached.labels(status.duty).inc()
                    log.warning(
                        "duty breached",
                        extra={
                            "duty": status.duty,
                            "about": status.about,
                            "customer_id": status.customer_id,
                        },
                    )
        return DutyCheck(now, tuple(statuses), queued)

    async def _notification_duties(
        self, tx: Tx, now: dt.datetime
    ) -> tuple[list[DutyStatus], dict[int, str], list[int]]:
        d = self.duties
        deadline = dt.timedelta(seconds=d.policy.notification_deadline_seconds)
        found = await incidents.started_between(tx, now - deadline - self.lookback, now)
        ids = [i.id for i in found]
        done = await incidents.first_notifications(tx, ids)
        queued = await stored.outage_queued(tx, ids)
        statuses: list[DutyStatus] = []
        requeue: list[int] = []
        for incident in found:
            due = notification_due(incident.start, d.policy)
            for customer_id in d.topology.affected_customers(incident.service_id):
                if d.skip_reason(customer_id, incident.start) is not None:
                    continue
                if incident.end is None and (incident.id, customer_id) not in queued:
                    requeue.append(incident.id)
                first = done.get((incident.id, customer_id))
                at = None if first is None else first.at
                statuses.append(
                    DutyStatus(
                        "notification",
                        incident.id,
                        customer_id,
                        incident.start,
                        due,
                        at,
                        None if first is None else first.channel,
                        duty_state(at, due, now, d.settings.notification_warning_seconds),
                    )
                )
        targets = {incident.id: incident.service_id for incident in found}
        return statuses, targets, sorted(set(requeue))

    async def _maintenance_duties(
        self, tx: Tx, now: dt.datetime
    ) -> tuple[list[DutyStatus], dict[int, WindowRecord]]:
        d = self.duties
        notice = dt.timedelta(seconds=d.policy.maintenance_notice_seconds)
        warning = d.settings.notification_warning_seconds
        windows = await maintenance.starting_between(
            tx, now - self.lookback, now + notice + dt.timedelta(seconds=warning)
        )
        done = await maintenance.first_notices(tx, [w.id for w in windows])
        statuses: list[DutyStatus] = []
        late: dict[int, WindowRecord] = {}
        for window in windows:
            due = notice_due(window.start, d.policy)  # R-EX1: exactly 48 h before is in time
            for customer_id in window_customers(d, window):
                first = done.get((window.id, customer_id))
                at = None if first is None else first.at
                state = duty_state(at, due, now, warning)
                statuses.append(
                    DutyStatus(
                        "maintenance_notice",
                        window.id,
                        customer_id,
                        window.created_at,
                        due,
                        at,
                        None if first is None else first.channel,
                        state,
                    )
                )
                if state == "breached":
                    late[window.id] = window
        return statuses, late

    async def _contract_duties(self, tx: Tx, now: dt.datetime) -> list[DutyStatus]:
        """D-4 and D-5: the open deadlines of claims and tickets (done ones drop out)."""
        d = self.duties
        warning = d.settings.deadline_warning_seconds
        statuses: list[DutyStatus] = []
        for claim in await claims.open_duties(tx):
            if claim.customer_id not in d.topology.customers:
                continue
            for duty, due, done in (
                ("claim_receipt", claim.receipt_due_at, claim.receipt_sent_at),
                ("claim_decision", claim.decision_due_at, claim.decided_at),
            ):
                if done is None:
                    statuses.append(DutyStatus(duty, claim.id, claim.customer_id,
                                               claim.submitted_at, due, None, claim.channel,
                                               duty_state(None, due, now, warning)))
        for ticket in await tickets.open_duties(tx):
            if ticket.customer_id not in d.topology.customers:
                continue
            engine_ticket = ticket_input(ticket)
            if ticket.diagnosed_at is None:
                due = diagnosis_due(engine_ticket, d.policy)
                statuses.append(DutyStatus("ticket_diagnosis", ticket.id, ticket.customer_id,
                                           ticket.opened_at, due, None, ticket.channel,
                                           duty_state(None, due, now, warning)))
                continue
            fix_at = fix_due(engine_ticket, d.policy)
            if fix_at is not None and not fix_deferred(engine_ticket):
                statuses.append(DutyStatus("ticket_fix", ticket.id, ticket.customer_id,
                                           ticket.diagnosed_at, fix_at, None, ticket.channel,
                                           duty_state(None, fix_at, now, warning)))
        return statuses

    def _contract_warnings(self, statuses: list[DutyStatus], now: dt.datetime) -> list[Draft]:
        """One operator e-mail per claim or ticket deadline at risk, one more once overdue."""
        d = self.duties
        if not d.operators:
            return []
        drafts = []
        for status in statuses:
            if status.state not in ("at_risk", "breached"):
                continue
            overdue = status.state == "breached"
            what = "claim" if status.duty.startswith("claim_") else "ticket"
            rendered = templates.contract_duty(
                d.style, duty=status.duty.split("_", 1)[1], about=f"{what} #{status.about}",
                customer=d.customer_label(status.customer_id), due=status.due, now=now,
                overdue=overdue, command=CONTRACT_DUTIES[status.duty].format(id=status.about))
            key = f"ops_{'overdue' if overdue else 'due_soon'}:{status.duty}:{status.about}"
            drafts.append(Draft(key, "ops_contract_duty", d.operators, rendered,
                                customer_id=status.customer_id,
                                claim_id=status.about if what == "claim" else None,
                                ticket_id=status.about if what == "ticket" else None))
        return drafts

    def _warnings(
        self,
        statuses: list[DutyStatus],
        targets: dict[int, str],
        late: dict[int, WindowRecord],
        now: dt.datetime,
    ) -> list[Draft]:
        d = self.duties
        if not d.operators:
            return []
        at_risk: dict[int, list[DutyStatus]] = defaultdict(list)
        breached: dict[int, list[str]] = defaultdict(list)
        for status in statuses:
            if status.duty == "notification" and status.state == "at_risk":
                at_risk[status.about].append(status)
            elif status.duty == "maintenance_notice" and status.state == "breached":
                breached[status.about].append(d.customer_label(status.customer_id))
        drafts = [self._duty_warning(i, targets[i], found, now) for i, found in at_risk.items()]
        drafts += [
            late_maintenance_draft(d, late[about], names) for about, names in breached.items()
        ]
        return drafts

    def _duty_warning(
        self, incident_id: int, target: str, found: list[DutyStatus], now: dt.datetime
    ) -> Draft:
        d = self.duties
        customers = []
        for status in found:
            contacts = d.topology.customers[status.customer_id].contacts
            people = [c for c in (contacts.technical, contacts.executive) if c is not None]
            reach = "; ".join(
                f"{c.name or 'contact'}: {c.phone or 'no phone'}, {c.email}" for c in people
            )
            customers.append(f"{d.customer_label(status.customer_id)}: {reach}")
        first = found[0]
        rendered = templates.duty_warning(
            d.style,
            incident_id=incident_id,
            service=d.target_label(target),
            start=first.since,
            deadline=first.due,
            now=now,
            customers=customers,
        )
        key = f"ops_duty_warning:{incident_id}"
        return Draft(key, "ops_duty_warning", d.operators, rendered, incident_id=incident_id)
