"""Every message sla-monitor sends, in one place.

Each template takes plain values (names, ids, aware UTC datetimes) and a
:class:`~monitor.notify.layout.Style`, and returns a
:class:`~monitor.notify.layout.Rendered` (subject, text, HTML). Templates
write no markup: :func:`~monitor.notify.layout.compose` escapes everything.
A customer whose name is in Arabic script (Persian) gets a right-to-left
HTML layout.

Customer messages: :func:`outage`, :func:`recovery` (R-N1, D-2),
:func:`maintenance_notice` (R-EX1, D-3), :func:`claim_receipt`,
:func:`claim_decision` (R-C1, D-4), :func:`ticket_number` (L-4) and
:func:`price_change` (L-5). Operator messages: :func:`operator_outage`,
:func:`operator_recovery`, :func:`duty_warning` (D-2 at risk),
:func:`contract_duty` (D-4, D-5 at risk or overdue), :func:`send_failure` and
:func:`late_maintenance` (R-EX1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from monitor.notify.layout import Block, Facts, Items, Para, Rendered, Style, compose
from monitor.notify.messages import has_arabic_script, one_line
from monitor.present import format_days, format_duration, format_money
from monitor.sla import seconds_between

__all__ = [
    "claim_decision",
    "claim_receipt",
    "contract_duty",
    "duty_warning",
    "late_maintenance",
    "maintenance_notice",
    "operator_outage",
    "operator_recovery",
    "outage",
    "price_change",
    "recovery",
    "send_failure",
    "ticket_number",
]


def _customer(style: Style, name: str, subject: str, blocks: list[Block]) -> Rendered:
    name = one_line(name)
    greeting: list[Block] = [Para(f"Dear {name},")]
    return compose(style, subject, greeting + blocks, rtl=has_arabic_script(name))


# --- customer messages -------------------------------------------------------------------------


def outage(
    style: Style,
    *,
    customer_name: str,
    service: str,
    affected: Sequence[str],
    start: dt.datetime,
    detected_at: dt.datetime | None,
    incident_id: int,
) -> Rendered:
    """R-N1: a full outage of something the customer depends on, sent on detection."""
    rows = [("Incident", f"#{incident_id}"), ("Unavailable", service)]
    if affected:
        rows.append(("Your services affected", ", ".join(affected)))
    rows.append(("Down since", style.time(start)))
    if detected_at is not None:
        rows.append(("Detected at", style.time(detected_at)))
    return _customer(
        style,
        customer_name,
        f"Outage: {service} is unavailable ({one_line(customer_name, 80)})",
        [
            Para(
                f"Our monitoring detected a full outage of {service}, which your service depends on."
            ),
            Facts(tuple(rows)),
            Para("We are working on it and will e-mail you again when service is restored."),
        ],
    )


def recovery(
    style: Style,
    *,
    customer_name: str,
    service: str,
    start: dt.datetime,
    end: dt.datetime,
    incident_id: int,
) -> Rendered:
    """The outage is over; the measured duration (R-M1: precise to one probe interval). The
    subject names the service and the customer, as the outage e-mail's does, and the
    message threads under it (:mod:`monitor.notify.duties`)."""
    duration = format_duration(seconds_between(start, end))
    return _customer(
        style,
        customer_name,
        f"Restored: {service} is available again after {duration} "
        f"({one_line(customer_name, 80)})",
        [
            Para(f"{service} is available again."),
            Facts(
                (
                    ("Incident", f"#{incident_id}"),
                    ("Down from", style.time(start)),
                    ("Restored at", style.time(end)),
                    ("Measured duration", duration),
                )
            ),
            Para("Times are measured by our probes and are precise to one probe interval."),
        ],
    )


def maintenance_notice(
    style: Style,
    *,
    customer_name: str,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    window_id: int,
) -> Rendered:
    """D-3: notice of a scheduled maintenance window to the technical contact."""
    return _customer(
        style,
        customer_name,
        f"Scheduled maintenance on {style.time(start)}",
        [
            Para("We will carry out scheduled maintenance that affects your services."),
            Facts(
                (
                    ("Maintenance", f"#{window_id}"),
                    ("Starts", style.time(start)),
                    ("Ends", style.time(end)),
                    ("Duration", format_duration(seconds_between(start, end))),
                    ("Reason", one_line(reason, 500)),
                )
            ),
            Para("Services affected:"),
            Items(tuple(services)),
        ],
    )


def claim_receipt(
    style: Style,
    *,
    customer_name: str,
    claim_id: int,
    month: str,
    site: str,
    submitted_at: dt.datetime,
    decision_due: dt.datetime,
) -> Rendered:
    """R-C1 / D-4: receipt of a credit claim, due by the end of the next business day."""
    return _customer(
        style,
        customer_name,
        f"Credit claim #{claim_id} for {month} received",
        [
            Para("We have received your service credit claim. We will e-mail our decision "
                 "by the date below."),
            Facts(
                (
                    ("Claim", f"#{claim_id}"),
                    ("Month", month),
                    ("Site credited", site),
                    ("Submitted", style.time(submitted_at)),
                    ("Decision due by", style.time(decision_due)),
                )
            ),
        ],
    )


def claim_decision(
    style: Style,
    *,
    customer_name: str,
    claim_id: int,
    month: str,
    decision: str,
    reason: str,
    credit_days: Decimal,
    refund: Decimal,
    currency: str,
    effective_at: dt.datetime | None,
    revision: int | None = None,
) -> Rendered:
    """R-C1 / D-4: the decision on a credit claim; with ``revision``, on its review after a
    new revision of the month (R-C3), whose credit changes by the amounts given."""
    label = {"approved": "approved", "partly": "partly approved", "rejected": "rejected"}.get(
        decision, decision)
    rows = [("Claim", f"#{claim_id}"), ("Month", month), ("Decision", label)]
    change = "Change of credit" if revision is not None else "Credit"
    if credit_days:
        rows.append((change, f"{format_days(credit_days)} of service"))
    if refund:
        rows.append(("Refund" if revision is None else "Change of refund",
                     format_money(refund, currency)))
    if effective_at is not None and (credit_days or refund):
        rows.append(("Credited on", style.time(effective_at)))
    if reason:
        rows.append(("Reason", one_line(reason, 1000)))
    intro = ("We have decided on your service credit claim." if revision is None else
             f"Revision {revision} of the month's report changed the credit your claim was "
             "decided on; this is our decision on it.")
    return _customer(
        style,
        customer_name,
        f"Credit claim #{claim_id} for {month}: {label}",
        [Para(intro), Facts(tuple(rows))],
    )


def ticket_number(
    style: Style,
    *,
    customer_name: str,
    ticket_id: int,
    title: str,
    service: str,
    opened_at: dt.datetime,
    diagnosis_due: dt.datetime,
    price: str | None = None,
) -> Rendered:
    """L-4: the ticket number, sent at once; this e-mail starts the clocks."""
    rows = [
        ("Ticket", f"#{ticket_id}"),
        ("Subject", one_line(title, 500)),
        ("Service", service),
        ("Opened", style.time(opened_at)),
        ("Diagnosis due by", style.time(diagnosis_due)),
    ]
    if price is not None:
        rows.append(("Price (from your support balance)", price))
    return _customer(
        style,
        customer_name,
        f"Ticket #{ticket_id}: {one_line(title, 120)}",
        [
            Para("We have recorded your request. To follow it up, reply to this e-mail or "
                 "call us, quoting its number."),
            Facts(tuple(rows)),
        ],
    )


def price_change(
    style: Style,
    *,
    customer_name: str,
    ticket_id: int,
    title: str,
    old_price: str,
    new_price: str,
    requested_at: dt.datetime,
    answer_by: dt.datetime,
) -> Rendered:
    """L-5: the work costs more than the ticket's price; the customer must approve."""
    return _customer(
        style,
        customer_name,
        f"Ticket #{ticket_id}: please approve the new price",
        [
            Para("The work your ticket asks for costs more than its price. We need your "
                 "approval of the new price before we do it; without it the ticket is closed "
                 "undone and its price returned to your support balance."),
            Facts(
                (
                    ("Ticket", f"#{ticket_id}"),
                    ("Subject", one_line(title, 500)),
                    ("Price paid", old_price),
                    ("New price", new_price),
                    ("Asked", style.time(requested_at)),
                    ("Please answer by", style.time(answer_by)),
                )
            ),
        ],
    )


# --- operator messages -------------------------------------------------------------------------


def operator_outage(
    style: Style,
    *,
    service: str,
    start: dt.datetime,
    detected_at: dt.datetime | None,
    incident_id: int,
    notified: Sequence[str],
    skipped: Sequence[str],
) -> Rendered:
    """Operators' copy of an outage: who is being e-mailed and who is not, and why."""
    rows = [("Incident", f"#{incident_id}"), ("Target", service), ("Down since", style.time(start))]
    if detected_at is not None:
        rows.append(("Detected at", style.time(detected_at)))
        latency = format_duration(seconds_between(start, detected_at))
        rows.append(("Detection latency (D-1)", latency))
    blocks: list[Block] = [Facts(tuple(rows)), Para(f"Customers e-mailed ({len(notified)}):")]
    blocks.append(Items(tuple(notified) or ("none",)))
    if skipped:
        blocks += [Para(f"Customers not e-mailed ({len(skipped)}):"), Items(tuple(skipped))]
    return compose(style, f"Outage #{incident_id}: {service} is down", blocks)


def operator_recovery(
    style: Style,
    *,
    service: str,
    start: dt.datetime,
    end: dt.datetime,
    incident_id: int,
    customers: int,
) -> Rendered:
    duration = format_duration(seconds_between(start, end))
    return compose(
        style,
        f"Recovered #{incident_id}: {service} after {duration}",
        [
            Facts(
                (
                    ("Incident", f"#{incident_id}"),
                    ("Target", service),
                    ("Down from", style.time(start)),
                    ("Restored at", style.time(end)),
                    ("Duration", duration),
                    ("Customers sent a recovery notice", str(customers)),
                )
            )
        ],
    )


def duty_warning(
    style: Style,
    *,
    incident_id: int,
    service: str,
    start: dt.datetime,
    deadline: dt.datetime,
    now: dt.datetime,
    customers: Sequence[str],
) -> Rendered:
    """D-2: the notification deadline nears and no e-mail was accepted: phone them."""
    left = format_duration(seconds_between(now, deadline))
    return compose(
        style,
        f"ACTION: phone customers, notification deadline in {left} (incident #{incident_id})",
        [
            Para(
                f"No outage e-mail has been accepted by the mail server for the customers below. "
                f"The notification duty (R-N1) ends in {left}; after it each customer earns a credit. "
                f"Please phone them and record the call (sla-monitor incident notified)."
            ),
            Facts(
                (
                    ("Incident", f"#{incident_id}"),
                    ("Target", service),
                    ("Down since", style.time(start)),
                    ("Deadline", style.time(deadline)),
                )
            ),
            Items(tuple(customers)),
        ],
    )


def contract_duty(
    style: Style,
    *,
    duty: str,
    about: str,
    customer: str,
    due: dt.datetime,
    now: dt.datetime,
    overdue: bool,
    command: str,
) -> Rendered:
    """D-4 / D-5: a claim's receipt or decision, or a ticket's diagnosis or fix, is due soon
    (at risk) or overdue."""
    if overdue:
        late = format_duration((now - due).total_seconds())
        subject = f"OVERDUE: {about} {duty} was due {late} ago"
        text = (f"The {duty} of {about} was due at the time below and has not been done. "
                "The contract's deadline is missed; do it now.")
    else:
        left = format_duration((due - now).total_seconds())
        subject = f"ACTION: {about} {duty} due in {left}"
        text = f"The {duty} of {about} is due in {left}."
    return compose(
        style,
        subject,
        [
            Para(text),
            Facts((("Customer", customer), ("Due", style.time(due)), ("Command", command))),
        ],
    )


def send_failure(
    style: Style,
    *,
    outbox_id: int,
    kind: str,
    recipients: Sequence[str],
    subject: str,
    reason: str,
    attempts: int,
    customer: str | None,
) -> Rendered:
    """A message could not be delivered and will not be retried."""
    rows = [("Message", f"#{outbox_id} ({kind})"), ("Subject", one_line(subject, 300))]
    rows += [("Recipients", ", ".join(recipients)), ("Attempts", str(attempts))]
    if customer is not None:
        rows.append(("Customer", customer))
    rows.append(("Reason", one_line(reason, 1000)))
    return compose(
        style,
        f"E-mail to {customer or ', '.join(recipients)} failed",
        [
            Para("An e-mail was given up. If it was an outage notice, phone the customer."),
            Facts(tuple(rows)),
        ],
    )


def late_maintenance(
    style: Style,
    *,
    window_id: int,
    start: dt.datetime,
    end: dt.datetime,
    notice: float,
    reason: str,
    customers: Sequence[str],
) -> Rendered:
    """R-EX1: a window whose notice did not reach these customers in time counts as downtime."""
    return compose(
        style,
        f"Maintenance #{window_id} will count as downtime for {len(customers)} customer(s)",
        [
            Para(
                f"The notice of this maintenance window did not reach the customers below at least "
                f"{format_duration(notice)} before it starts, so for them it is not excluded (R-EX1): "
                f"any downtime in it counts towards their credits."
            ),
            Facts(
                (
                    ("Maintenance", f"#{window_id}"),
                    ("Starts", style.time(start)),
                    ("Ends", style.time(end)),
                    ("Reason", one_line(reason, 500)),
                )
            ),
            Items(tuple(customers)),
        ],
    )
