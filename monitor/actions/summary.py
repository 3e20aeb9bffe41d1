"""The operators' monthly summary: ``report --month M --format html|pdf``.

Every customer of the month with its availability, counted, excluded and unknown time,
tier and credit; the totals of credit days and money (per currency: customers may pay in
different ones); who is below target; every duty breach (R-N1, D-1); and, per customer,
the statement sent (with its SMTP acceptance) and the claim.

*Decision:* the figures are those of the records now (as ``report`` shows them), and the
summary says whether they are still those of the latest frozen revision (same input
hash) or changed after it, so an operator sees at once whether statements need a new
revision.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from monitor import collector
from monitor.actions.inputs import month_inputs
from monitor.actions.reports import COMPUTING, HASHING, READING, closable_from
from monitor.config import Settings
from monitor.logs import Progress, no_progress
from monitor.present.formats import format_time
from monitor.present.statement import Summary, SummaryRow
from monitor.present.text import one_line
from monitor.store import Database, claims, reports
from monitor.store import outbox as queued
from monitor.store import statements as stored

__all__ = ["month_summary"]


async def month_summary(
    db: Database, settings: Settings, *, month: str, now: dt.datetime,
    progress: Progress | None = None,
) -> Summary:
    """The operators' view of ``month``: each customer's figures and statement; ``progress``
    is told each step, as by :func:`monitor.actions.close_month`."""
    told = progress or no_progress
    period = settings.month(month)
    told(0, 0, READING)
    inputs = await month_inputs(db, settings, period, now)
    report = await collector.in_thread(
        inputs.compute, now, lambda done, total: told(done, total, COMPUTING))
    told(0, 0, HASHING)
    digest = await asyncio.to_thread(inputs.digest)
    async with db.reading() as tx:
        latest = await reports.latest_hash(tx, period.calendar, period.label)
        sent = await stored.sent(tx, period.calendar, period.label)
        messages = {m.dedupe_key: m for m in await queued.states(tx, (s.dedupe_key for s in sent))}
        found = {c.customer_id: c for c in await claims.listed(tx, month=period.label)
                 if c.calendar == period.calendar}
    # The month's names: a customer who left since is named as it was (monitor.sla.terms).
    names = {customer.id: customer.name for customer in inputs.customers}
    last_sent = {s.customer_id: s for s in sent}  # ordered by revision: the last one wins
    rows = []
    money: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for customer in report.customers:
        statement = last_sent.get(customer.customer)
        shown = "-"
        if statement is not None:
            message = messages.get(statement.dedupe_key)
            # When the SMTP server took it, as the summary shows the period (SPEC 7).
            state = ("accepted " + format_time(message.accepted_at, settings.timezone,
                                               settings.calendar)
                     if message is not None and message.accepted_at is not None
                     else (message.status if message is not None else "queued"))
            shown = f"revision {statement.revision} ({statement.kind}), {state}"
        claim = found.get(customer.customer)
        money[customer.currency][0] += customer.credit_value
        money[customer.currency][1] += customer.refund_amount
        rows.append(SummaryRow(
            customer=customer.customer,
            name=one_line(names.get(customer.customer, customer.customer)),
            availability_percent=customer.availability_percent,
            below_target=customer.availability_percent < customer.target_percent,
            downtime_seconds=customer.downtime_seconds,
            excluded_seconds=customer.excluded_seconds,
            unknown_seconds=customer.unknown_seconds,
            tier=customer.tier,
            credit_days_total=customer.credit_days_total,
            credit_value=customer.credit_value,
            refund_amount=customer.refund_amount,
            currency=customer.currency,
            notification_breaches=customer.notification_breaches,
            detection_breaches=customer.detection_breaches,
            ineligible_rule=customer.ineligible_reason,
            statement=shown,
            claim="-" if claim is None else f"#{claim.id} {claim.decision or 'undecided'}",
        ))
    return Summary(
        provider=settings.provider.name,
        month=period.label,
        calendar=period.calendar,
        timezone=period.timezone,
        period_start=period.start,
        period_end=period.end,
        closable_from=closable_from(settings, period),
        target_percent=settings.policy.target_percent,
        rows=tuple(rows),
        revision=None if latest is None else latest[0],
        inputs_hash=None if latest is None else latest[1],
        revision_current=latest is not None and latest[1] == digest,
        computed_at=now,
        money=tuple((currency, value, refunds)
                    for currency, (value, refunds) in sorted(money.items())),
    )
