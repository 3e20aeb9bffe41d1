"""What the daemon does about statements by itself (``statements.auto``), and the ended
month's terms it keeps (:func:`keep_month_terms`, whatever ``statements.auto`` says)::

    auto_statements(db, settings, *, mail, now, stopping=None, progress=None) -> AutoStatements
    remind(db, settings, *, month, mail, now, stopping=None) -> list[str]
    keep_month_terms(db, settings, *, now) -> str | None

``statements.delay`` after a month ends in the provider's zone (default one day, so that
late manual records are in), the daemon closes the month (R-C3) and queues its statements
(:func:`monitor.actions.statements.send_statements`); ``statements.reminder_before`` the
claim deadline, it reminds each customer owed credit that has not claimed (R-C1).

Everything is state in the database, so a restart in the middle resumes where the last
run stopped and nothing is done twice: ``statement_runs`` says which revision a month's
run sends and whether it finished; each statement and reminder is recorded with its
e-mail in one transaction, once per customer and revision (reminders: per month).

*Decisions:* the daemon looks at the last two ended months only, and sends nothing for a
month whose claim deadline has passed (a statement then could only announce a credit
that can no longer be claimed); a revision an operator freezes later (``report close``)
is sent by the next check, as corrections to the customers whose figures changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.actions.inputs import configured_month_terms
from monitor.actions.links import claim_link_keys
from monitor.actions.mail import StatementMail
from monitor.actions.reports import closable_from
from monitor.actions.statements import (
    StatementsSent,
    build_statement,
    revision_of,
    send_statements,
)
from monitor.config import Settings
from monitor.sla import (
    INELIGIBLE_REASONS,
    MonthPeriod,
    claim_deadline,
    in_time,
    month_containing,
    reminder_due,
    reminder_owed,
    statement_due,
    statement_withheld,
)
from monitor.store import Database, claims, ledger, reports
from monitor.store import statements as stored
from monitor.store.statements import ReminderRecord

__all__ = ["AutoStatements", "auto_statements", "keep_month_terms", "recent_months", "remind"]

DAEMON = "sla-monitor"  # the actor of what the daemon does by itself
_RULES = {reason: rule for rule, reason in INELIGIBLE_REASONS.items()}


@dataclass(frozen=True)
class AutoStatements:
    """What one check did: the months whose statements it sent, the reminders it queued."""

    sent: list[StatementsSent] = field(default_factory=list)
    reminded: dict[str, list[str]] = field(default_factory=dict)  # month -> customers


def recent_months(settings: Settings, now: dt.datetime, count: int = 2) -> list[MonthPeriod]:
    """The last ``count`` months that have ended at ``now``, oldest first."""
    period = month_containing(now, settings.provider.calendar, settings.timezone)
    found = []
    for _ in range(count):
        period = month_containing(period.start - dt.timedelta(seconds=1),
                                  settings.provider.calendar, settings.timezone)
        found.append(period)
    return found[::-1]


async def auto_statements(
    db: Database,
    settings: Settings,
    *,
    mail: StatementMail,
    now: dt.datetime,
    stopping: Callable[[], bool] | None = None,
    progress: Callable[[str], Callable[[int, int], None]] | None = None,
) -> AutoStatements:
    """The daemon's check (every minute, and at start): close and send each recent month
    whose statements are due and not yet sent for its latest revision; then the reminders
    that are due. Nothing when ``statements.auto`` is off. ``progress(month)`` gives what
    is told how a month's statements go (:func:`send_statements`)."""
    result = AutoStatements()
    options = settings.statements
    if not options.auto:
        return result
    for period in recent_months(settings, now):
        if stopping is not None and stopping():
            break
        # Due ``delay`` after the month ends, and never before it can be closed.
        if now < max(statement_due(period, int(options.delay)), closable_from(settings, period)):
            continue
        deadline = claim_deadline(period, settings.policy)
        if not in_time(now, deadline):
            continue
        sent = await _run(db, settings, period, mail, now, stopping,
                          None if progress is None else progress(period.label))
        if sent is not None:
            result.sent.append(sent)
        if options.reminder_before is not None and not (stopping is not None and stopping()):
            reminded = await remind(db, settings, month=period.label, mail=mail, now=now,
                                    stopping=stopping)
            if reminded:
                result.reminded[period.label] = reminded
    return result


#: How long after a month ends the daemon keeps its terms: a daemon started later (a new
#: installation, a long stop) keeps none, the configuration then being no more the month's
#: than at its close.
TERMS_KEPT_WITHIN = dt.timedelta(hours=1)


async def keep_month_terms(db: Database, settings: Settings, *, now: dt.datetime) -> str | None:
    """The daemon's check (every minute, and at start): the month that ended last, within
    :data:`TERMS_KEPT_WITHIN` of its end and if it has no terms yet (kept, or frozen by a
    revision), keeps the configuration's as they are now, so that a configuration changed
    before the month is closed (new prices from the 1st) is not the ended month's
    (:mod:`monitor.sla.terms`). Its label when kept now."""
    [period] = recent_months(settings, now, 1)
    if now - period.end > TERMS_KEPT_WITHIN:
        return None
    async with db.transaction() as tx:
        if await reports.has_terms(tx, period.calendar, period.label):
            return None
        terms = configured_month_terms(settings, await ledger.renewals(tx, before=period.end))
        await reports.add_month_terms(tx, period.calendar, period.label, now, terms.to_json())
    return period.label


async def _run(
    db: Database,
    settings: Settings,
    period: MonthPeriod,
    mail: StatementMail,
    now: dt.datetime,
    stopping: Callable[[], bool] | None,
    progress: Callable[[int, int], None] | None = None,
) -> StatementsSent | None:
    """One month's run: started (closing the month), resumed after a restart, or following
    a revision frozen by hand; None when there is nothing to do."""
    calendar, label = period.calendar, period.label
    async with db.reading() as tx:
        run = await stored.run(tx, calendar, label)
        latest = await reports.latest_hash(tx, calendar, label)
    later = latest is not None and run is not None and latest[0] > run.revision
    if run is not None and run.finished_at is not None and not later:
        return None
    if later:
        assert latest is not None
        revision: int | None = latest[0]
    else:
        revision = None  # start or resume: close the month (nothing new if unchanged)
    sent = await send_statements(db, settings, month=label, mail=mail, actor=DAEMON, now=now,
                                 stopping=stopping, revision=revision, progress=progress)
    async with db.transaction() as tx:
        if run is None or run.revision != sent.revision or run.finished_at is not None:
            await stored.start_run(tx, calendar, label, sent.revision, now)
        if not (stopping is not None and stopping()):
            await stored.finish_run(tx, calendar, label, sent.revision, now)
    return sent


async def remind(
    db: Database,
    settings: Settings,
    *,
    month: str,
    mail: StatementMail,
    now: dt.datetime,
    stopping: Callable[[], bool] | None = None,
) -> list[str]:
    """Queue the reminders of ``month`` that are due (:func:`monitor.sla.reminder_owed`:
    credit owed in the latest revision, no claim, the reminder due, the deadline not
    passed), once per customer and month; returns the customers reminded now."""
    period = settings.month(month)
    before = settings.statements.reminder_before
    if before is None or now < reminder_due(period, settings.policy, int(before)):
        # Before it is due no one is owed a reminder (reminder_owed): the daemon checks
        # every minute for weeks, and the frozen report (86 MB at 10,000 customers) is
        # not read and parsed for nothing each time.
        return []
    async with db.reading() as tx:
        run = await stored.run(tx, period.calendar, period.label)
        done = {r.customer_id for r in await stored.reminded(tx, period.calendar, period.label)}
        claimed = {c.customer_id for c in await claims.listed(tx, month=period.label)
                   if c.calendar == period.calendar}
        latest = await reports.latest_hash(tx, period.calendar, period.label)
    if latest is None or (run is not None and run.reminded_at is not None):
        return []
    frozen = await revision_of(db, settings, period, latest[0])
    links = claim_link_keys(settings)  # each reminder links to the claim form
    reminded: list[str] = []
    stopped = False
    for record in frozen.report.customers:
        customer = record.customer
        if customer not in settings.topology.customers or customer in done:
            continue
        if stopping is not None and stopping():
            stopped = True
            break
        days, amount = record.credit_days_total, record.refund_amount
        if statement_withheld(_RULES.get(record.ineligible_reason or "")):
            continue
        if not reminder_owed(credit_days=days, refund_amount=amount,
                             claimed=customer in claimed, period=period,
                             policy=settings.policy, before_seconds=int(before), now=now):
            continue
        # A lapsed customer (R-EX5) was withheld above: no paid-until date is named.
        view = build_statement(settings, period, frozen, customer, now=now, links=links,
                               record=record, renewals=())
        async with db.transaction() as tx:
            key = await mail.claim_reminder(tx, view)
            await stored.add_reminder(tx, ReminderRecord(
                period.calendar, period.label, customer, frozen.revision, days, amount, key,
                now))
        reminded.append(customer)
    # Once every reminder due is queued, the month needs no more checks (a run exists
    # whenever the daemon sends; ``remind`` by hand without one just answers).
    if not stopped and run is not None and now >= _last_reminder_moment(period, settings):
        async with db.transaction() as tx:
            await stored.reminders_done(tx, period.calendar, period.label, now)
    return reminded


def _last_reminder_moment(period: MonthPeriod, settings: Settings) -> dt.datetime:
    """From then on every reminder the month owes is due: checks after it can stop."""
    before = settings.statements.reminder_before or 0
    return reminder_due(period, settings.policy, int(before))
