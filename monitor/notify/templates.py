"""Every message sla-monitor sends, in one place.

Each template takes plain values (names, ids, aware UTC datetimes) and a
:class:`~monitor.notify.layout.Style`, and returns a
:class:`~monitor.notify.layout.Rendered` (subject, text, HTML). Templates
write no markup: :func:`~monitor.notify.layout.compose` escapes everything.
A customer whose name is in Arabic script (Persian) gets a right-to-left
HTML layout.

Customer messages: :func:`outage`, :func:`recovery` (R-N1, D-2),
:func:`maintenance_notice` (R-EX1, D-3), and, ready for the features that
come later, :func:`claim_receipt`, :func:`claim_decision` (D-4) and
:func:`ticket_number` (L-4). Operator messages: :func:`operator_outage`,
:func:`operator_recovery`, :func:`duty_warning` (D-2 at risk),
:func:`send_failure` and :func:`late_maintenance` (R-EX1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from monitor.notify.layout import Block, Facts, Items, Para, Rendered, Style, compose
from monitor.notify.messages import has_arabic_script, one_line
from monitor.present import format_duration
from monitor.sla import seconds_between

__all__ = [
    "claim_decision",
    "claim_receipt",
    "duty_warning",
    "late_maintenance",
    "maintenance_notice",
    "operator_outage",
    "operator_recovery",
    "outage",
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
    style: Style, *, customer_name: str, claim_id: int, month: str, submitted_at: dt.datetime
) -> Rendered:
    """R-C1 / D-4: receipt of a credit claim (the claims feature comes later)."""
    return _customer(
        style,
        customer_name,
        f"Credit claim #{claim_id} for {month} received",
        [
            Para("We have received your service credit claim. A decision follows by e-mail."),
            Facts(
                (
                    ("Claim", f"#{claim_id}"),
                    ("Month", month),
                    ("Submitted", style.time(submitted_at)),
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
    credit_days: Decimal | None,
    effective_at: dt.datetime | None,
) -> Rendered:
    """R-C1 / D-4: the decision on a credit claim (the claims feature comes later)."""
    rows = [("Claim", f"#{claim_id}"), ("Month", month), ("Decision", decision)]
    if credit_days is not None:
        rows.append(("Credit", f"{credit_days} days of service"))
    if effective_at is not None:
        rows.append(("Credited on", style.time(effective_at)))
    rows.append(("Reason", one_line(reason, 1000)))
    return _customer(
        style,
        customer_name,
        f"Credit claim #{claim_id} for {month}: {decision}",
        [Para("We have decided on your service credit claim."), Facts(tuple(rows))],
    )


def ticket_number(
    style: Style, *, customer_name: str, ticket_id: int, title: str, opened_at: dt.datetime
) -> Rendered:
    """L-4: the ticket number, sent at once; this e-mail starts the clocks (tickets come later)."""
    return _customer(
        style,
        customer_name,
        f"Ticket #{ticket_id}: {one_line(title, 120)}",
        [
            Para("We have recorded your request. Please quote its number in any follow-up."),
            Facts(
                (
                    ("Ticket", f"#{ticket_id}"),
                    ("Subject", one_line(title, 500)),
                    ("Opened", style.time(opened_at)),
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
