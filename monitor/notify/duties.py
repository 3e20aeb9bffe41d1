"""Who gets what, and what an accepted message proves.

* **Outage** (R-N1, D-2): an incident is opened on one target (a service or
  a server; the daemon opens a server's outage on the server only, so its
  projects' customers get one message, not one per project or probe). Every
  customer in ``topology.affected_customers(target)`` gets ONE outage e-mail
  per incident, to its technical and executive contacts; when the incident
  closes, those customers get a recovery e-mail with the measured duration.
  Operators get one copy of each, listing who was e-mailed and who was not.
* **Not e-mailed**: who the engine says gets nothing at the incident start
  (:func:`monitor.sla.ineligible` with ``alerts``): customers suspended for
  non-payment (R-EX5) and customers running a clone (R-EX6). Probing and the
  operators' copy go on.
* **Maintenance** (D-3, R-EX1): see :mod:`monitor.notify.maintenance`.
* **Evidence**: an accepted outage e-mail writes a ``notifications`` row
  (channel ``email``, ``notified_at`` = SMTP acceptance); an accepted notice
  writes a ``maintenance_notices`` row (``sent_at`` = acceptance); an accepted
  ticket number, claim receipt or claim decision sets the ticket's
  ``number_sent_at`` (L-4) or the claim's ``receipt_sent_at`` / ``decision_sent_at``
  (D-4); each in the same transaction as ``accepted_at``. A customer message given up is alerted to
  ``provider.operators``; an operator message never is (no alert loops).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from monitor.actions.inputs import month_customers
from monitor.actions.mail import customer_recipients, is_operator_kind
from monitor.clock import Clock
from monitor.config.schema import Customer
from monitor.config.settings import Settings
from monitor.errors import InputError
from monitor.notify import templates
from monitor.notify.layout import Rendered, Style
from monitor.notify.leads import Leads
from monitor.notify.messages import one_line
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.outbox import Draft, enqueue
from monitor.notify.sending import Envelope
from monitor.sla import FLAP_WINDOW, CustomerInput, IneligibleRule, ineligible
from monitor.store import claims, history, incidents, ledger, maintenance, tickets
from monitor.store import outbox as stored
from monitor.store.incidents import IncidentRecord
from monitor.store.outbox import QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["SKIPPED", "Duties", "per_customer"]

log = logging.getLogger(__name__)

#: In the dedupe key of a "restored again" e-mail, before the count of reopenings it follows.
AGAIN = ":again-"

#: How the operators' copy says why a customer was not e-mailed.
SKIPPED: dict[IneligibleRule, str] = {
    "R-EX5": "subscription lapsed (R-EX5)",
    "R-EX6": "runs a clone of the platform (R-EX6)",
    "R-EX7": "runs an unsupported version (R-EX7)",
}


class RenewedCustomers:
    """The customers as the contract sees them now: configured, with the yearly renewals
    recorded in the ledger (L-2; ``ledger renew`` leaves the configured ``paid_until`` as it
    was). A customer whose configured date has passed but who renewed is not suspended
    (R-EX5): it is told of outages and windows as any customer is. The renewals are read
    again only when one was recorded: the ledger is append-only, so their count and last id
    mark them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._customers: dict[str, CustomerInput] = {}  # the renewed ones
        self._mark: tuple[int, int | None] | None = None

    async def read(self, tx: Tx) -> None:
        mark = await ledger.renewals_mark(tx)
        if mark == self._mark:
            return
        renewals = await ledger.renewals(tx)
        renewed = {r.customer_id for r in renewals} & self.settings.topology.customers.keys()
        self._customers = {c.id: c for c in month_customers(self.settings, renewals, renewed)}
        self._mark = mark

    def customer(self, customer_id: str) -> CustomerInput:
        return (self._customers.get(customer_id)
                or self.settings.topology.customer_input(customer_id))


class Duties:
    """Turns incidents and maintenance windows into outbox rows, and acceptances into evidence."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        metrics: NotifyMetrics,
        envelope: Envelope,
        wake: Callable[[], None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.metrics = metrics
        self.wake = wake
        self.configure(settings, envelope)

    def configure(self, settings: Settings, envelope: Envelope) -> None:
        """Take a (reloaded) configuration: used for everything queued from now on."""
        self.settings = settings
        self.renewed = RenewedCustomers(settings)  # made again for a new configuration
        self.policy = settings.policy
        self.topology = settings.topology
        self.envelope = envelope
        provider = settings.provider
        self.style = Style(provider.name, provider.timezone, provider.calendar)
        self.operators = tuple(dict.fromkeys(provider.operators))
        self.leads = Leads(settings)

    # --- who -----------------------------------------------------------------------------------

    def skip_reason(self, customer_id: str, at: dt.datetime) -> str | None:
        """Why a customer gets no e-mail about something happening at ``at``, or None: the
        engine decides (R-EX5, R-EX6), with the renewals last read (``renewed.read``, in each
        transaction that decides who is told)."""
        rule = ineligible(self.renewed.customer(customer_id), at, alerts=True)
        return None if rule is None else SKIPPED[rule]

    def reader_style(self, customer_id: str) -> Style:
        """The style of ``customer_id``'s e-mails: in the language it reads (SPEC section 7);
        the operators' keep :attr:`style` (English). With link keys it leads to the
        customer's own page (:mod:`monitor.notify.leads`)."""
        return self.leads.customer_style(self.style, customer_id, self.clock.now())

    def probed(self, target_id: str) -> str | None:
        """What the operators read as the probed address (redacted where it is shown)."""
        target = self.topology.services.get(target_id) or self.topology.servers.get(target_id)
        if target is None:
            return None
        return target.probe.address

    def customer_label(self, customer_id: str) -> str:
        customer = self.topology.customers.get(customer_id)
        return f"{one_line(customer.name, 120)} ({customer_id})" if customer else customer_id

    def target_label(self, target_id: str) -> str:
        target = self.topology.services.get(target_id) or self.topology.servers.get(target_id)
        name = target.name if target is not None else None
        return f"{one_line(name, 120)} ({target_id})" if name else target_id

    def affected_projects(self, customer_id: str, target_id: str) -> list[str]:
        """For a server outage: the customer's projects on that server."""
        if target_id not in self.topology.servers:
            return []
        return [self.target_label(p) for p in self.topology.projects_of_on(customer_id, target_id)]

    async def drafted(self, draft: Callable[[Duties], list[Draft]]) -> list[Draft]:
        """``draft(duties)`` on a worker thread, with this configuration as it is now: an
        e-mail rendered for each customer of an outage of a shared server or of the panel
        (10,000 customers: a second) would hold the event loop, where the probes' results
        and the HTTP API wait. ``duties`` is a copy of this object, so a configuration
        reloaded meanwhile (SIGHUP, :meth:`configure`) is the next call's, not half of
        this one's."""
        return await asyncio.to_thread(draft, copy.copy(self))

    # --- incidents (R-N1, D-2) -----------------------------------------------------------------

    async def on_incident_opened(self, incident_id: int) -> int:
        """Queue the outage e-mails of an incident; idempotent. Returns how many were new."""
        async with self.db.transaction() as tx:
            incident = await _incident(tx, incident_id)
            await self.renewed.read(tx)
            failure = await history.first_failure(
                tx, incident.service_id, incident.start,
                incident.detected_at or self.clock.now())
            drafts = await self.drafted(lambda duties: duties._outage_drafts(incident, failure))
            added = await enqueue(tx, drafts, now=self.clock.now(), domain=self.envelope.domain)
        self.wake()
        log.info("outage notices queued", extra={"incident_id": incident_id, "queued": added})
        return added

    def _outage_drafts(
        self, incident: IncidentRecord, failure: tuple[str, str] | None = None
    ) -> list[Draft]:
        target = incident.service_id
        service = self.target_label(target)
        told: list[Customer] = []
        skipped: list[str] = []
        for customer_id in self.topology.affected_customers(target):
            reason = self.skip_reason(customer_id, incident.start)
            if reason is None:
                told.append(self.topology.customers[customer_id])
            else:
                skipped.append(f"{self.customer_label(customer_id)}: {reason}")
        drafts = per_customer(
            "outage", incident.id, told,
            lambda customer: templates.outage(
                self.reader_style(customer.id),
                customer_name=customer.name,
                service=service,
                affected=self.affected_projects(customer.id, target),
                start=incident.start,
                detected_at=incident.detected_at,
                incident_id=incident.id,
                incident_url=self.leads.incident(incident.id, target),
            ),
            incident_id=incident.id,
        )
        notified = [self.customer_label(customer.id) for customer in told]
        if self.operators:
            rendered = templates.operator_outage(
                self.style,
                service=service,
                start=incident.start,
                detected_at=incident.detected_at,
                incident_id=incident.id,
                notified=notified,
                skipped=skipped,
                failure=failure,
                url=self.probed(target),
            )
            drafts.append(
                Draft(
                    f"ops_outage:{incident.id}",
                    "ops_outage",
                    self.operators,
                    rendered,
                    incident_id=incident.id,
                )
            )
        return drafts

    async def on_incident_closed(self, incident_id: int) -> int:
        """Queue recovery e-mails to the customers the outage e-mail was queued for.

        An incident that reopened (a flap, R-M1) and ended again: its customers read
        "Restored" at its first end; each later end is told again ("Restored again", the
        whole measured duration), due :data:`~monitor.sla.FLAP_WINDOW` after that end and
        withdrawn if it reopens meanwhile (:meth:`on_incident_reopened`): a service that
        flaps for an hour sends one, once it stays up. The operators' copy is not repeated
        (they see the incident itself, its reopening logged)."""
        async with self.db.transaction() as tx:
            incident = await _incident(tx, incident_id)
            if incident.end is None:
                raise InputError(
                    "incident_id", incident_id, "an incident that has ended (end is set)"
                )
            told = await stored.outage_messages(tx, incident.id)
            reopened = await incidents.reopens(tx, incident.id)
            drafts = await self.drafted(
                lambda duties: duties._recovery_drafts(incident, told) if not reopened
                else duties._restored_again_drafts(incident, told, reopened))
            added = await enqueue(tx, drafts, now=self.clock.now(), domain=self.envelope.domain)
        self.wake()
        log.info("recovery notices queued", extra={"incident_id": incident_id, "queued": added})
        return added

    async def on_incident_reopened(self, incident_id: int) -> int:
        """The incident failed again within the flap window: the "restored again" e-mails
        of its last end, still waiting out that window, say what is no longer so and are
        withdrawn (:meth:`on_incident_closed`). Returns how many."""
        async with self.db.transaction() as tx:
            withdrawn = await stored.withdraw(tx, incident_id=incident_id, kind="recovery",
                                              key_part=AGAIN)
        if withdrawn:
            log.info("restored-again notices withdrawn: the incident reopened",
                     extra={"incident_id": incident_id, "withdrawn": withdrawn})
        return withdrawn

    def _customers_told(self, told: Sequence[tuple[str | None, str, dt.datetime]]
                        ) -> list[Customer]:
        found = (self.topology.customers.get(customer_id or "") for customer_id, _, _ in told)
        return [c for c in found if c is not None]

    def _recovery_render(self, incident: IncidentRecord, *, again: bool
                         ) -> Callable[[Customer], Rendered]:
        assert incident.end is not None
        service, end = self.target_label(incident.service_id), incident.end
        return lambda customer: templates.recovery(
            self.reader_style(customer.id),
            customer_name=customer.name,
            service=service,
            start=incident.start,
            end=end,
            incident_id=incident.id,
            incident_url=self.leads.incident(incident.id, incident.service_id),
            affected=self.affected_projects(customer.id, incident.service_id),
            again=again,
        )

    def _restored_again_drafts(
        self, incident: IncidentRecord, told: Sequence[tuple[str | None, str, dt.datetime]],
        reopened: int,
    ) -> list[Draft]:
        """The end of an incident that reopened ``reopened`` times, told again: one per
        reopening (its dedupe key), due once the flap window passed without another."""
        assert incident.end is not None
        drafts = per_customer(
            "recovery", incident.id, self._customers_told(told),
            self._recovery_render(incident, again=True), incident_id=incident.id,
            follows="outage")
        return [dataclasses.replace(draft, dedupe_key=f"{draft.dedupe_key}{AGAIN}{reopened}",
                                    not_before=incident.end + FLAP_WINDOW)
                for draft in drafts]

    def _recovery_drafts(
        self, incident: IncidentRecord, told: Sequence[tuple[str | None, str, dt.datetime]]
    ) -> list[Draft]:
        assert incident.end is not None
        service = self.target_label(incident.service_id)
        drafts = per_customer(
            "recovery", incident.id, self._customers_told(told),
            self._recovery_render(incident, again=False),
            incident_id=incident.id,
            # Due now; not sent before the outage e-mail it follows while that one is pending
            # or being sent (the claim says so, monitor.store.outbox.claim). Never a time
            # copied from it: a lease's end (5 minutes later) is not when it will be accepted.
            follows="outage",  # one thread
        )
        if self.operators:
            rendered = templates.operator_recovery(
                self.style,
                service=service,
                start=incident.start,
                end=incident.end,
                incident_id=incident.id,
                customers=len(drafts),
            )
            drafts.append(
                Draft(
                    f"ops_recovery:{incident.id}",
                    "ops_recovery",
                    self.operators,
                    rendered,
                    incident_id=incident.id,
                    follows=f"ops_outage:{incident.id}",
                )
            )
        return drafts

    # --- what acceptance proves (OutboxHooks) --------------------------------------------------

    async def on_accepted(self, tx: Tx, message: QueuedMessage, accepted_at: dt.datetime) -> None:
        if message.kind == "outage" and message.incident_id is not None and message.customer_id:
            # R-N1 evidence for the SLA engine: notified_at is the SMTP acceptance time.
            recorded = await incidents.record_notifications(
                tx,
                message.incident_id,
                [message.customer_id],
                channel="email",
                at=accepted_at,
                recorded_at=self.clock.now(),
                outbox_id=message.id,
            )
            start = recorded.incident_start
            if recorded.first_for and start is not None:  # D-2: one latency per customer
                self.metrics.notification_latency.observe(
                    max(0.0, (accepted_at - start).total_seconds())
                )
        elif (
            message.kind == "maintenance" and message.window_id is not None and message.customer_id
        ):
            # D-3 / R-EX1 evidence: the notice reached the technical contact's server at sent_at.
            await maintenance.add_notices(
                tx,
                message.window_id,
                [message.customer_id],
                sent_at=accepted_at,
                channel="email",
                outbox_id=message.id,
            )
        elif message.kind == "ticket_number" and message.ticket_id is not None:
            # L-4 evidence: the customer has the ticket's number.
            await tickets.number_sent(tx, message.ticket_id, accepted_at)
        elif message.kind == "claim_receipt" and message.claim_id is not None:
            # D-4 evidence: the receipt reached the technical contact's server.
            await claims.receipt_sent(tx, message.claim_id, accepted_at)
        elif message.kind == "claim_decision" and message.claim_id is not None:
            await claims.decision_sent(tx, message.claim_id, accepted_at)

    async def on_failed(self, tx: Tx, message: QueuedMessage) -> None:
        if is_operator_kind(message.kind) or not self.operators:
            return  # never an alert about an alert: no loops
        if message.kind.startswith("sub_"):
            # A status page subscriber's address refused: whoever typed it, not a duty of
            # the contract; logged, never an operators' alert (anyone can type an address).
            log.warning("a subscriber's notice failed",
                        extra={"outbox_id": message.id, "kind": message.kind})
            return
        rendered = templates.send_failure(
            self.style,
            outbox_id=message.id,
            kind=message.kind,
            recipients=message.recipients,
            subject=message.subject,
            reason=message.last_error or "unknown",
            attempts=message.attempts,
            customer=self.customer_label(message.customer_id) if message.customer_id else None,
        )
        # One alert per give-up: a message an operator sent again (``outbox retry``) that
        # fails again is alerted anew.
        again = ("" if message.requeued_at is None
                 else f":again-{message.requeued_at:%Y%m%dT%H%M%S.%fZ}")
        draft = Draft(
            f"ops_send_failure:{message.id}{again}",
            "ops_send_failure",
            self.operators,
            rendered,
            customer_id=message.customer_id,
            incident_id=message.incident_id,
            window_id=message.window_id,
        )
        await enqueue(tx, [draft], now=self.clock.now(), domain=self.envelope.domain)


def per_customer(
    kind: str,
    about: int,
    customers: Iterable[Customer],
    render: Callable[[Customer], Rendered],
    *,
    follows: str | None = None,
    incident_id: int | None = None,
    window_id: int | None = None,
) -> list[Draft]:
    """One draft of ``kind`` for each of ``customers``: ``render(customer)`` to the
    contacts that kind goes to (:func:`~monitor.actions.mail.customer_recipients`), queued
    once per customer and subject (the dedupe key ``KIND:ABOUT:CUSTOMER``); ``follows``: the
    kind of the message of that subject and customer it follows up (one thread)."""
    return [
        Draft(
            f"{kind}:{about}:{customer.id}",
            kind,
            customer_recipients(kind, customer),
            render(customer),
            customer_id=customer.id,
            incident_id=incident_id,
            window_id=window_id,
            follows=None if follows is None else f"{follows}:{about}:{customer.id}",
        )
        for customer in customers
    ]


async def _incident(tx: Tx, incident_id: int) -> IncidentRecord:
    incident = await incidents.get(tx, incident_id)
    if incident is None:
        raise InputError("incident_id", incident_id, "the id of an existing incident")
    return incident
