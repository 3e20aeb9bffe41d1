"""Every message sla-monitor sends, in one place.

Each template takes plain values (names, ids, aware UTC datetimes) and a
:class:`~monitor.notify.layout.Style`, and returns a
:class:`~monitor.notify.layout.Rendered` (subject, text, HTML). Templates
write no markup: :func:`~monitor.notify.layout.compose` escapes everything.
A customer whose name is in Arabic script (Persian) gets a right-to-left
HTML layout.

Customer messages: :func:`outage`, :func:`recovery` (R-N1, D-2),
:func:`maintenance_notice` (R-EX1, D-3), :func:`claim_receipt`,
:func:`claim_decision` (R-C1, D-4), :func:`ticket_number` (L-4),
:func:`price_change` (L-5), :func:`statement` (the monthly statement, its HTML
body is the statement itself, :mod:`monitor.present.statement`) and
:func:`claim_reminder` (R-C1). Operator messages: :func:`operator_outage`,
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
from monitor.present import format_days, format_duration, format_money, format_percent
from monitor.present.statement import Statement, statement_html
from monitor.sla import seconds_between

__all__ = [
    "claim_decision",
    "claim_receipt",
    "claim_reminder",
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
    "statement",
    "ticket_number",
]


def _customer(style: Style, name: str, subject: str, blocks: list[Block]) -> Rendered:
    name = one_line(name)
    greeting: list[Block] = [Para(f"Dear {name},")]
    return compose(style, subject, greeting + blocks, rtl=has_arabic_script(name))


# --- customer messages -------------------------------------------------------------------------


def _credit(s: Statement) -> str:
    text = f"{format_days(s.credit_days_total)} of service worth {format_money(s.credit_value, s.currency)}"
    if s.refund_amount:
        text += f" and a refund of {format_money(s.refund_amount, s.currency)}"
    return text


def statement(style: Style, s: Statement) -> Rendered:
    """The monthly statement: the HTML body is the statement itself (one
    template, as attached in PDF); the plain-text part gives its figures and how to claim."""
    name = one_line(s.customer_name, 80)
    corrected = s.corrects is not None
    subject = (f"{'Corrected ' if corrected else ''}SLA statement {s.month} (revision "
               f"{s.revision}): availability {format_percent(s.availability_percent)} %, "
               f"credit {format_days(s.credit_days_total)} ({name})")
    blocks: list[Block] = [Para(f"Dear {name},")]
    if corrected:
        blocks += [Para(f"This corrected statement replaces the one of revision {s.corrects}: "
                        "records of the month changed after it was sent (R-C3). What "
                        "changed for you:"), Items(s.changes)]
    else:
        blocks.append(Para(f"Here is your SLA statement for {s.month}, also attached as PDF "
                           "and CSV."))
    rows = [
        ("Period", f"{style.time(s.period_start)} to {style.time(s.period_end)}"),
        ("Availability", f"{format_percent(s.availability_percent)} % (target "
                         f"{s.target_percent} %)"),
        ("Counted downtime", format_duration(s.downtime_seconds)),
        ("Excluded", format_duration(s.excluded_seconds)),
        ("Unknown", format_duration(s.unknown_seconds)),
        ("Credit", _credit(s)),
        ("Claim deadline", style.time(s.claim_deadline)),
        ("Revision", f"{s.revision}, inputs {s.inputs_hash[:16]}"),
    ]
    blocks.append(Facts(tuple(rows)))
    if s.no_credit_because:
        blocks.append(Para(f"No credit is due for this month: {s.no_credit_because}"))
    elif s.claim is not None:
        blocks.append(Para(s.claim))
    elif s.credit_days_total > 0 or s.refund_amount > 0:
        blocks += [Para("This credit is granted when you claim it, by the deadline above:"),
                   Items(s.how_to_claim)]
    else:
        # As the statement itself says (statement.html): the figures may be disputed.
        blocks += [Para("No credit is due for this month; you may still claim by the deadline "
                        "above if you think these figures are wrong:"), Items(s.how_to_claim)]
    text = compose(style, subject, blocks).text
    return Rendered(subject=one_line(f"[{style.provider_name}] {subject}", 250), text=text,
                    html=statement_html(s))


def claim_reminder(style: Style, s: Statement) -> Rendered:
    """R-C1: a customer owed credit for the month that has not claimed it, reminded before
    the claim deadline."""
    name = one_line(s.customer_name, 80)
    return _customer(
        style,
        s.customer_name,
        f"Reminder: claim your SLA credit for {s.month} by {style.time(s.claim_deadline)} "
        f"({name})",
        [
            Para(f"Your SLA statement for {s.month} (revision {s.revision}) shows a service "
                 f"credit of {_credit(s)}. It is granted only when you claim it, and claims "
                 "for the month close at the deadline below (R-C1)."),
            Facts((("Availability", f"{format_percent(s.availability_percent)} % (target "
                                    f"{s.target_percent} %)"),
                   ("Credit", _credit(s)),
                   ("Claim deadline", style.time(s.claim_deadline)))),
            Para("How to claim:"),
            Items(s.how_to_claim),
        ],
    )


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
