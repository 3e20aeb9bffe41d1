"""Maintenance notices (D-3, R-EX1): who is told of a window, and the operators' late warning.

Each affected customer's technical contact gets a notice as soon as the window
is created. When the window starts less than ``policy.maintenance_notice``
(48 h) later, the notice is still sent, and operators are warned that for these
customers the window is not excluded and will count as downtime (R-EX1). The
``maintenance_notices`` row is written when the SMTP server accepts the notice
(:meth:`monitor.notify.duties.Duties.on_accepted`).

**Decision:** a customer suspended at the window start (R-EX5) or running a
clone (R-EX6) gets no notice, as for outages: the exclusion could not apply to
them anyway.

A window called off before it begins (``sla-monitor maintenance cancel``) sends no notice
from then on (those still waiting are withdrawn); each customer its notice did reach,
by e-mail or as recorded by other means, is e-mailed that it is off, in the thread of the
notice (:func:`on_maintenance_cancelled`); the status page's subscribers told of it, by
their sweep (:mod:`monitor.notify.subscribers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from monitor.errors import InputError
from monitor.notify import templates
from monitor.notify.duties import Duties, per_customer
from monitor.notify.outbox import Draft, enqueue
from monitor.sla import in_time, notice_due
from monitor.store import maintenance
from monitor.store.maintenance import WindowRecord

__all__ = ["late_maintenance_draft", "notice_drafts", "on_maintenance_cancelled",
           "on_maintenance_created", "window_customers"]

log = logging.getLogger(__name__)


async def on_maintenance_created(duties: Duties, window_id: int) -> int:
    """Queue the notices of a window, and the R-EX1 warning when it is late; idempotent."""
    now = duties.clock.now()
    async with duties.db.transaction() as tx:
        window = await maintenance.get_window(tx, window_id)
        if window is None:
            raise InputError("window_id", window_id, "the id of an existing maintenance window")
        if window.cancelled_at is not None:
            log.info("maintenance window cancelled; no notice", extra={"window_id": window_id})
            return 0
        await duties.renewed.read(tx)  # who is told (skip_reason) takes the renewals (L-2)
        # R-EX1: a notice queued now cannot reach anyone by the due instant.
        late = not in_time(now, notice_due(window.start, duties.policy))

        def drafted(duties: Duties) -> list[Draft]:  # on a thread (Duties.drafted)
            drafts = notice_drafts(duties, window)
            customers = [duties.customer_label(d.customer_id) for d in drafts if d.customer_id]
            if late and customers and duties.operators:
                drafts.append(late_maintenance_draft(duties, window, customers))
            return drafts

        drafts = await duties.drafted(drafted)
        added = await enqueue(tx, drafts, now=now, domain=duties.envelope.domain)
    duties.wake()
    log.info(
        "maintenance notices queued",
        extra={"window_id": window_id, "queued": added, "late": late},
    )
    return added


async def on_maintenance_cancelled(duties: Duties, window_id: int,
                                   customer_ids: Sequence[str]) -> int:
    """Tell each of ``customer_ids`` (whom the notice of a window reached) that the window
    is called off (D-3), in the thread of its notice; idempotent (one per customer)."""
    now = duties.clock.now()
    async with duties.db.transaction() as tx:
        window = await maintenance.get_window(tx, window_id)
        if window is None or window.cancelled_at is None:
            return 0
        known = [duties.topology.customers[c] for c in customer_ids
                 if c in duties.topology.customers]

        def drafted(duties: Duties) -> list[Draft]:  # on a thread (Duties.drafted)
            return per_customer(
                "maintenance_cancelled", window.id, known,
                lambda customer: templates.maintenance_cancelled(
                    duties.reader_style(customer.id),
                    customer_name=customer.name,
                    services=_services(duties, window, customer.id),
                    start=window.start,
                    end=window.end,
                    window_id=window.id,
                ),
                follows="maintenance",
                window_id=window.id,
            )

        added = await enqueue(tx, await duties.drafted(drafted), now=now,
                              domain=duties.envelope.domain)
    duties.wake()
    log.info("maintenance cancellations queued",
             extra={"window_id": window_id, "queued": added})
    return added


def _services(duties: Duties, window: WindowRecord, customer_id: str) -> list[str]:
    """The window's services ``customer_id`` depends on, as its e-mails name them."""
    depends_on = duties.topology.dependencies(customer_id)
    return [duties.target_label(s) for s in window.service_ids if s in depends_on]


def window_customers(duties: Duties, window: WindowRecord) -> list[str]:
    """Affected customers who get notices (not suspended at the start, no clone)."""
    found: set[str] = set()
    for service_id in window.service_ids:
        found.update(duties.topology.affected_customers(service_id))
    return sorted(c for c in found if duties.skip_reason(c, window.start) is None)


def notice_drafts(duties: Duties, window: WindowRecord) -> list[Draft]:
    def on_servers(customer_id: str) -> list[str]:
        """The customer's projects on the window's servers (not in the window themselves)."""
        named = {duties.target_label(s) for s in window.service_ids}
        found = [p for s in window.service_ids for p in duties.affected_projects(customer_id, s)]
        return [p for p in dict.fromkeys(found) if p not in named]

    return per_customer(
        "maintenance", window.id,
        [duties.topology.customers[c] for c in window_customers(duties, window)],
        lambda customer: templates.maintenance_notice(
            duties.reader_style(customer.id),
            customer_name=customer.name,
            services=_services(duties, window, customer.id),
            start=window.start,
            end=window.end,
            reason=window.reason,
            window_id=window.id,
            affected=on_servers(customer.id),
        ),
        window_id=window.id,
    )


def late_maintenance_draft(
    duties: Duties, window: WindowRecord, customers: Sequence[str]
) -> Draft:
    rendered = templates.late_maintenance(
        duties.style,
        window_id=window.id,
        start=window.start,
        end=window.end,
        notice=duties.policy.maintenance_notice_seconds,
        reason=window.reason,
        customers=customers,
    )
    key = f"ops_maintenance_late:{window.id}"
    return Draft(key, "ops_maintenance_late", duties.operators, rendered, window_id=window.id)
