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
import re
from collections.abc import Sequence
from decimal import Decimal

from monitor.notify.layout import Block, Facts, Items, Link, Para, Rendered, Style, compose
from monitor.notify.messages import one_line
from monitor.present import format_duration
from monitor.present.labels import DECISIONS
from monitor.present.statement import Statement, statement_html
from monitor.present.text import printable
from monitor.redact import redact
from monitor.sla import seconds_between

__all__ = [
    "claim_decision",
    "claim_receipt",
    "claim_reminder",
    "contract_duty",
    "duty_warning",
    "late_maintenance",
    "maintenance_cancelled",
    "maintenance_notice",
    "operator_outage",
    "operator_recovery",
    "outage",
    "price_change",
    "recovery",
    "send_failure",
    "statement",
    "subscriber_maintenance",
    "subscriber_maintenance_cancelled",
    "subscriber_outage",
    "subscriber_recovery",
    "subscriber_update",
    "subscription_confirmation",
    "ticket_number",
]


def _customer(style: Style, name: str, subject: str, blocks: list[Block]) -> Rendered:
    """A customer's message: the greeting, ``blocks``, and the link to its own page when
    the style carries one (:mod:`monitor.notify.leads`)."""
    _ = style.language.gettext
    greeting: list[Block] = [Para(_("Dear %(name)s,") % {"name": one_line(name)})]
    return compose(style, subject, greeting + blocks + _own_page(style))


def _own_page(style: Style) -> list[Block]:
    if style.page_url is None or style.page_expires is None:
        return []
    _ = style.language.gettext
    return [Link(_("Your page, with your services, incidents, credit and claims (a link "
                   "for you alone, valid until %(until)s):") % {
                       "until": style.time(style.page_expires)}, style.page_url)]


def _incident_page(style: Style, url: str | None) -> list[Block]:
    if url is None:
        return []
    return [Link(style.language.gettext("This incident on our status page:"), url)]


def _ref(style: Style, number: int) -> str:
    """An incident's, claim's or ticket's number as the reader writes it: ``#12``."""
    return "#" + style.language.number(number)


def _percent(style: Style, percent: Decimal) -> str:
    return style.language.percent(percent, sign=True)


def _availability(style: Style, s: Statement) -> str:
    return style.language.gettext("%(availability)s (target %(target)s)") % {
        "availability": _percent(style, s.availability_percent),
        "target": style.language.number(s.target_percent) + (
            " %" if style.language.code == "en" else "٪")}


# --- customer messages -------------------------------------------------------------------------


def _credit(style: Style, s: Statement) -> str:
    _, reader = style.language.gettext, style.language
    text = _("%(days)s of service worth %(value)s") % {
        "days": reader.days(s.credit_days_total), "value": reader.money(s.credit_value, s.currency)}
    if s.refund_amount:
        text += _(" and a refund of %(refund)s") % {
            "refund": reader.money(s.refund_amount, s.currency)}
    return text


def statement(style: Style, s: Statement, html: str | None = None) -> Rendered:
    """The monthly statement: the HTML body is the statement itself (one
    template, as attached in PDF; ``html``: it rendered already); the plain-text part gives
    its figures and how to claim. Its language is the statement's (the customer's)."""
    style = style.reading(s.language)
    _, reader = style.language.gettext, style.language
    name = one_line(s.customer_name, 80)
    corrected = s.corrects is not None
    month = reader.month(s.month, s.calendar)
    figures = {"month": month, "revision": reader.number(s.revision),
               "availability": _percent(style, s.availability_percent),
               "credit": reader.days(s.credit_days_total), "name": name}
    subject = (_("Corrected SLA statement %(month)s (revision %(revision)s): availability "
                 "%(availability)s, credit %(credit)s (%(name)s)") if corrected else
               _("SLA statement %(month)s (revision %(revision)s): availability "
                 "%(availability)s, credit %(credit)s (%(name)s)")) % figures
    blocks: list[Block] = [Para(_("Dear %(name)s,") % {"name": name})]
    if corrected:
        assert s.corrects is not None
        blocks += [Para(_("This corrected statement replaces the one of revision "
                          "%(revision)s: records of the month changed after it was sent. "
                          "What changed for you:") % {
                              "revision": reader.number(s.corrects)}), Items(s.changes)]
    else:
        blocks.append(Para(_("Here is your SLA statement for %(month)s, also attached as PDF "
                             "and CSV.") % {"month": month}))
    rows = [
        (_("Period"), _("%(start)s to %(end)s") % {
            "start": style.time(s.period_start), "end": style.time(s.period_end)}),
        (_("Availability"), _availability(style, s)),
        (_("Counted downtime"), reader.duration(s.downtime_seconds)),
        (_("Excluded"), reader.duration(s.excluded_seconds)),
        (_("Unknown"), reader.duration(s.unknown_seconds)),
        (_("Credit"), _credit(style, s)),
        (_("Claim deadline"), style.time(s.claim_deadline)),
        (_("Revision"), _("%(revision)s, inputs %(hash)s") % {
            "revision": reader.number(s.revision), "hash": s.inputs_hash[:16]}),
    ]
    blocks.append(Facts(tuple(rows)))
    if s.no_credit_because:
        blocks.append(Para(_("No credit is due for this month: %(because)s") % {
            "because": s.no_credit_because}))
    elif s.claim is not None:
        blocks.append(Para(s.claim))
    elif s.claims_closed:  # as the statement itself says (R-C1): no way to claim is left
        blocks.append(Para(_("The claim deadline has passed: claims for this month are no "
                             "longer accepted.")))
    elif s.credit_days_total > 0 or s.refund_amount > 0:
        blocks += [Para(_("This credit is granted when you claim it, by the deadline above:")),
                   Items(s.how_to_claim)]
    else:
        # As the statement itself says (statement.html): the figures may be disputed.
        blocks += [Para(_("No credit is due for this month; you may still claim by the "
                          "deadline above if you think these figures are wrong:")),
                   Items(s.how_to_claim)]
    text = compose(style, subject, blocks).text
    return Rendered(subject=one_line(f"[{style.provider_name}] {subject}", 250), text=text,
                    html=statement_html(s) if html is None else html)


def claim_reminder(style: Style, s: Statement) -> Rendered:
    """R-C1: a customer owed credit for the month that has not claimed it, reminded before
    the claim deadline."""
    style = style.reading(s.language)
    _, reader = style.language.gettext, style.language
    name = one_line(s.customer_name, 80)
    month = reader.month(s.month, s.calendar)
    intro = _("Your SLA statement for %(month)s (revision %(revision)s) shows a service "
              "credit of %(credit)s. It is granted only when you claim it, and claims for "
              "the month close at the deadline below.")
    return _customer(
        style,
        s.customer_name,
        _("Reminder: claim your SLA credit for %(month)s by %(deadline)s (%(name)s)") % {
            "month": month, "deadline": style.time(s.claim_deadline), "name": name},
        [
            Para(intro % {"month": month, "revision": reader.number(s.revision),
                          "credit": _credit(style, s)}),
            Facts(((_("Availability"), _availability(style, s)),
                   (_("Credit"), _credit(style, s)),
                   (_("Claim deadline"), style.time(s.claim_deadline)))),
            Para(_("How to claim:")),
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
    incident_url: str | None = None,
) -> Rendered:
    """R-N1: a full outage of something the customer depends on, sent on detection;
    ``incident_url``: its page on the status page, when it has one."""
    _ = style.language.gettext
    rows = [(_("Incident"), _ref(style, incident_id)), (_("Unavailable"), service)]
    if affected:
        rows.append((_("Your services affected"), _(", ").join(affected)))
    rows.append((_("Down since"), style.time(start)))
    if detected_at is not None:
        rows.append((_("Detected at"), style.time(detected_at)))
    return _customer(
        style,
        customer_name,
        _("Outage: %(service)s is unavailable (%(name)s)") % {
            "service": service, "name": one_line(customer_name, 80)},
        [
            Para(_("Our monitoring detected a full outage of %(service)s, which your service "
                   "depends on.") % {"service": service}),
            Facts(tuple(rows)),
            Para(_("We are working on it and will e-mail you again when service is restored.")),
            *_incident_page(style, incident_url),
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
    incident_url: str | None = None,
    affected: Sequence[str] = (),
    again: bool = False,
) -> Rendered:
    """The outage is over; the measured duration (R-M1: precise to one probe interval). The
    subject names the service and the customer, as the outage e-mail's does, and the
    message threads under it (:mod:`monitor.notify.duties`); ``affected``: for a server,
    the customer's projects on it, as the outage e-mail named them. ``again``: the
    incident failed again after an earlier recovery e-mail and reopened (R-M1's flap
    window); the duration is the whole incident's, the short up time inside it counted."""
    _ = style.language.gettext
    duration = style.language.duration(seconds_between(start, end))
    rows = [(_("Incident"), _ref(style, incident_id))]
    if affected:
        rows.append((_("Your services affected"), _(", ").join(affected)))
    rows += [
        (_("Down from"), style.time(start)),
        (_("Restored at"), style.time(end)),
        (_("Measured duration"), duration),
    ]
    named = {"service": service, "duration": duration, "name": one_line(customer_name, 80)}
    return _customer(
        style,
        customer_name,
        (_("Restored again: %(service)s is available after %(duration)s in all (%(name)s)")
         if again else
         _("Restored: %(service)s is available again after %(duration)s (%(name)s)")) % named,
        [
            Para(_("%(service)s failed again after our last message, and is available "
                   "again. The measured duration is the whole outage's, the short time it "
                   "was up in between included.") % named if again
                 else _("%(service)s is available again.") % named),
            Facts(tuple(rows)),
            Para(_("Times are measured by our probes and are precise to one probe interval.")),
            *_incident_page(style, incident_url),
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
    affected: Sequence[str] = (),
) -> Rendered:
    """D-3: notice of a scheduled maintenance window to the technical contact;
    ``affected``: for a server's window, the customer's own projects on it (as the outage
    e-mail names them)."""
    _ = style.language.gettext
    rows = [
        (_("Maintenance"), _ref(style, window_id)),
        (_("Starts"), style.time(start)),
        (_("Ends"), style.time(end)),
        (_("Duration"), style.language.duration(seconds_between(start, end))),
        (_("Reason"), one_line(reason, 500)),
    ]
    if affected:
        rows.append((_("Your services affected"), _(", ").join(affected)))
    return _customer(
        style,
        customer_name,
        _("Scheduled maintenance on %(start)s") % {"start": style.time(start)},
        [
            Para(_("We will carry out scheduled maintenance that affects your services.")),
            Facts(tuple(rows)),
            Para(_("Services affected:")),
            Items(tuple(services)),
        ],
    )


def maintenance_cancelled(
    style: Style,
    *,
    customer_name: str,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    window_id: int,
) -> Rendered:
    """D-3: the maintenance window a notice announced is called off (its services stay in
    service then, and any outage in that time counts: R-EX1)."""
    _ = style.language.gettext
    return _customer(
        style,
        customer_name,
        _("Scheduled maintenance on %(start)s cancelled") % {"start": style.time(start)},
        [
            Para(_("The scheduled maintenance we announced will not take place. Your "
                   "services stay available as usual at that time.")),
            Facts((
                (_("Maintenance"), _ref(style, window_id)),
                (_("Was to start"), style.time(start)),
                (_("Was to end"), style.time(end)),
            )),
            Para(_("Services that were to be affected:")),
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
    _ = style.language.gettext
    shown_month = style.language.month(month, style.calendar)
    return _customer(
        style,
        customer_name,
        _("Credit claim %(claim)s for %(month)s received") % {
            "claim": _ref(style, claim_id), "month": shown_month},
        [
            Para(_("We have received your service credit claim. We will e-mail our decision "
                   "by the date below.")),
            Facts(
                (
                    (_("Claim"), _ref(style, claim_id)),
                    (_("Month"), shown_month),
                    (_("Site credited"), site),
                    (_("Submitted"), style.time(submitted_at)),
                    (_("Decision due by"), style.time(decision_due)),
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
    _, reader = style.language.gettext, style.language
    label = _(DECISIONS[decision]) if decision in DECISIONS else decision
    shown_month = reader.month(month, style.calendar)
    rows = [(_("Claim"), _ref(style, claim_id)), (_("Month"), shown_month),
            (_("Decision"), label)]
    change = _("Change of credit") if revision is not None else _("Credit")
    if credit_days:
        rows.append((change, _("%(days)s of service") % {"days": reader.days(credit_days)}))
    if refund:
        rows.append((_("Refund") if revision is None else _("Change of refund"),
                     reader.money(refund, currency)))
    if effective_at is not None and (credit_days or refund):
        rows.append((_("Credited on"), style.time(effective_at)))
    if reason:
        rows.append((_("Reason"), one_line(reason, 1000)))
    intro = (_("We have decided on your service credit claim.") if revision is None else
             _("Revision %(revision)s of the month's report changed the credit your claim was "
               "decided on; this is our decision on it.") % {"revision": reader.number(revision)})
    return _customer(
        style,
        customer_name,
        _("Credit claim %(claim)s for %(month)s: %(decision)s") % {
            "claim": _ref(style, claim_id), "month": shown_month, "decision": label},
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
    _ = style.language.gettext
    rows = [
        (_("Ticket"), _ref(style, ticket_id)),
        (_("Subject"), one_line(title, 500)),
        (_("Service"), service),
        (_("Opened"), style.time(opened_at)),
        (_("Diagnosis due by"), style.time(diagnosis_due)),
    ]
    if price is not None:
        rows.append((_("Price (from your support balance)"), price))
    return _customer(
        style,
        customer_name,
        _("Ticket %(ticket)s: %(title)s") % {
            "ticket": _ref(style, ticket_id), "title": one_line(title, 120)},
        [
            Para(_("We have recorded your request. To follow it up, reply to this e-mail or "
                   "call us, quoting its number.")),
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
    _ = style.language.gettext
    return _customer(
        style,
        customer_name,
        _("Ticket %(ticket)s: please approve the new price") % {"ticket": _ref(style, ticket_id)},
        [
            Para(_("The work your ticket asks for costs more than its price. We need your "
                   "approval of the new price before we do it; without it the ticket is closed "
                   "undone and its price returned to your support balance.")),
            Facts(
                (
                    (_("Ticket"), _ref(style, ticket_id)),
                    (_("Subject"), one_line(title, 500)),
                    (_("Price paid"), old_price),
                    (_("New price"), new_price),
                    (_("Asked"), style.time(requested_at)),
                    (_("Please answer by"), style.time(answer_by)),
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
    failure: tuple[str, str] | None = None,
    url: str | None = None,
) -> Rendered:
    """Operators' copy of an outage: why the probe failed (``failure``: its class and
    detail, and the probed ``url``, all redacted), who is being e-mailed and who is not,
    and why."""
    rows = [("Incident", f"#{incident_id}"), ("Target", service)]
    if url is not None:
        rows.append(("Probed", one_line(redact(url), 300)))
    if failure is not None:
        failure_class, detail = failure
        rows.append(("Failure", one_line(redact(failure_class), 60)))
        if detail:
            rows.append(("Detail", one_line(redact(detail), 500)))
    else:
        rows.append(("Failure", "not recorded (a manual incident, or the probe's failure "
                                "was not stored yet)"))
    rows.append(("Down since", style.time(start)))
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
            Para("Once what refused it is mended (the SMTP server's settings, the "
                 f"recipient's mailbox), send it again: sla-monitor outbox retry {outbox_id}"),
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


# --- the status page's subscribers -------------------------------------------------------------


def subscription_confirmation(
    style: Style, *, services: Sequence[str], link: str, expires: dt.datetime, page: str
) -> Rendered:
    """Double opt-in: the link that confirms a subscription to the status page."""
    _ = style.language.gettext
    return compose(style, _("Please confirm your subscription"), [
        Para(_("Someone, hopefully you, asked for e-mail notices of incidents and maintenance "
               "on the status page %(page)s for these services:") % {"page": page}),
        Items(tuple(one_line(s, 120) for s in services)),
        Link(_("To confirm, open this link by %(at)s:") % {"at": style.time(expires)}, link),
        Para(_("If you did not ask for this, ignore this e-mail: nothing will be sent "
               "to you.")),
    ])


def _subscriber(style: Style, subject: str, blocks: list[Block], *, link: str,
                services: Sequence[str], unsubscribe: str) -> Rendered:
    _ = style.language.gettext
    return compose(style, subject, [
        *blocks,
        Link(_("Details:"), link),
        Para(_("You receive this because you subscribed to the status page for: "
               "%(services)s.") % {
                   "services": _(", ").join(one_line(s, 120) for s in services)}),
        Link(_("Unsubscribe with one click:"), unsubscribe),
    ])


def subscriber_outage(
    style: Style, *, service: str, start: dt.datetime, link: str, services: Sequence[str],
    unsubscribe: str,
) -> Rendered:
    """A public service is unavailable (its incident opened)."""
    _ = style.language.gettext
    name = one_line(service, 120)
    return _subscriber(style, _("%(service)s is unavailable") % {"service": name}, [
        Para(_("%(service)s has been unavailable since %(at)s. We are working on it.") % {
            "service": name, "at": style.time(start)}),
    ], link=link, services=services, unsubscribe=unsubscribe)


def subscriber_recovery(
    style: Style, *, service: str, start: dt.datetime, end: dt.datetime, link: str,
    services: Sequence[str], unsubscribe: str,
) -> Rendered:
    """A public service's incident ended."""
    _ = style.language.gettext
    name = one_line(service, 120)
    return _subscriber(style, _("%(service)s is available again") % {"service": name}, [
        Para(_("%(service)s is available again since %(at)s, after an outage of "
               "%(duration)s.") % {"service": name, "at": style.time(end),
                                   "duration": style.language.duration(
                                       seconds_between(start, end))}),
    ], link=link, services=services, unsubscribe=unsubscribe)


def subscriber_update(
    style: Style, *, about: str, status: str, message: str, at: dt.datetime, link: str,
    services: Sequence[str], unsubscribe: str,
) -> Rendered:
    """An operators' update of an incident or a maintenance window (``about`` names it;
    ``status`` is already in the reader's words)."""
    _ = style.language.gettext
    return _subscriber(style, _("%(about)s: %(status)s") % {
        "about": one_line(about, 160), "status": status}, [
        Para(_("Update of %(at)s (%(status)s):") % {"at": style.time(at), "status": status}),
        *(Para(paragraph) for paragraph in _paragraphs(message[:2000])),
    ], link=link, services=services, unsubscribe=unsubscribe)


def _paragraphs(typed: str) -> list[str]:
    """An operator's words as the status page shows them: its paragraphs (blank lines
    apart), each with its line breaks, without control characters."""
    lines = [line.strip() for line in printable(typed).split("\n")]
    return [part for part in re.split(r"\n{2,}", "\n".join(lines).strip()) if part]


def subscriber_maintenance(
    style: Style, *, affected: Sequence[str], start: dt.datetime, end: dt.datetime,
    reason: str | None, link: str, services: Sequence[str], unsubscribe: str,
) -> Rendered:
    """A maintenance window of public services is scheduled."""
    _ = style.language.gettext
    names = _(", ").join(one_line(s, 120) for s in affected)
    blocks: list[Block] = [
        Para(_("Scheduled maintenance of %(services)s, from %(start)s to %(end)s.") % {
            "services": names, "start": style.time(start), "end": style.time(end)}),
    ]
    if reason:
        blocks.append(Para(one_line(reason, 500)))
    return _subscriber(style, _("Scheduled maintenance of %(services)s on %(start)s") % {
        "services": names, "start": style.time(start)}, blocks, link=link, services=services,
        unsubscribe=unsubscribe)


def subscriber_maintenance_cancelled(
    style: Style, *, affected: Sequence[str], start: dt.datetime, end: dt.datetime,
    link: str, services: Sequence[str], unsubscribe: str,
) -> Rendered:
    """A maintenance window of public services the subscriber was told of is called off."""
    _ = style.language.gettext
    names = _(", ").join(one_line(s, 120) for s in affected)
    return _subscriber(style, _("Maintenance of %(services)s on %(start)s cancelled") % {
        "services": names, "start": style.time(start)}, [
        Para(_("The scheduled maintenance of %(services)s from %(start)s to %(end)s will not "
               "take place.") % {"services": names, "start": style.time(start),
                                 "end": style.time(end)}),
    ], link=link, services=services, unsubscribe=unsubscribe)
