"""Monthly statements: one customer's month, as frozen in a report revision
(R-C3), rendered for the customer, and sent once per customer and revision.

::

    statement(db, settings, *, month, customer, revision=None, now) -> Statement
    statement_files(statement) -> StatementFiles          (HTML, PDF, CSV; PDF on a thread)
    send_statements(db, settings, *, month, customer=None, dry_run=False, mail, actor, now,
                    stopping=None) -> StatementsSent

*Decisions* (where the issue is silent):

* A statement shows a **frozen revision**, never live figures: what the customer receives
  and what the provider reads later are the same numbers, with the revision number and
  its input hash. The month's maintenance windows and notices are frozen with the
  revision (:meth:`monitor.actions.inputs.MonthInputs.evidence`).
* ``send_statements`` **closes the month first** (:func:`close_month`: nothing new when the
  records did not change), so that what is sent is the latest truth; ``dry_run`` writes
  nothing and says what it would freeze and send.
* **Once per customer and revision.** A customer already sent this revision's statement
  gets nothing. "Sent" is what the outbox says: ``already_sent`` only when the mail server
  accepted it (``accepted_at``); a statement queued before whose e-mail is still waiting
  (the daemon's outbox retrying, or a sender killed in the send) is ``already_queued``,
  with its dedupe key, for ``statement send`` to send now; one given up is ``send_failed``. A customer sent an earlier revision gets a **correction** only when its
  own figures or incidents changed (:func:`monitor.actions.reports.customer_changes`),
  saying what changed; a revision that changed only other customers' figures, or only the
  end after the month of an incident that ran at the close, sends it nothing (its
  statement still holds).
* Customers whose month earns nothing because their subscription lapsed (R-EX5) or who
  run a clone (R-EX6) get no statement unless asked for by ``customer``; the statement
  then says why no credit is due (R-EX7 customers get theirs, saying the same).
* **How to claim** (R-C1): with a link key configured, the statement (HTML, PDF, CSV and
  the e-mail's text) and the claim reminder give a signed link to the customer's claim
  form, made by :func:`monitor.actions.links.claim_form_link` (the one maker of links,
  as ``sla-monitor customer link`` prints), valid until the claim deadline; replying by
  e-mail stays possible. Without a key, the e-mail reply is the way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from monitor.actions.common import MAX_ID, iso_utc, known
from monitor.actions.inputs import month_inputs
from monitor.actions.ledger import sites_paid_until
from monitor.actions.links import LinkKeys, PageLink, claim_form_link, claim_link_keys
from monitor.actions.mail import StatementFiles, StatementMail
from monitor.actions.reports import (
    Change,
    FrozenRevision,
    FrozenWindow,
    closable_from,
    close_month,
    customer_changes,
    frozen_revision,
    require_closable,
)
from monitor.actions.statement_workers import (
    PROCESSES_FROM,
    Renderers,
    available_cores,
    render_files,
)
from monitor.config import Settings
from monitor.errors import InputError, time_mark
from monitor.present import format_time
from monitor.present.labels import DECISIONS, TIER_NAMES
from monitor.present.language import N_, Language
from monitor.present.statement import (
    CAUSE_LABELS,
    CreditRow,
    IncidentRow,
    MaintenanceRow,
    Statement,
)
from monitor.present.text import one_line
from monitor.sla import (
    INELIGIBLE_REASONS,
    CreditLine,
    CustomerReport,
    IncidentLine,
    IneligibleRule,
    MonthPeriod,
    MonthReport,
    claim_deadline,
    claim_in_time,
    in_time,
    notice_due,
    statement_withheld,
)
from monitor.store import Database, Tx, claims, evidence, ledger, outbox, reports
from monitor.store import statements as stored
from monitor.store.ledger import EntryRecord
from monitor.store.outbox import MessageState
from monitor.store.statements import StatementRecord

__all__ = [
    "StatementItem",
    "StatementsSent",
    "build_statement",
    "revision_of",
    "send_statements",
    "statement",
    "statement_files",
]

_RULES = {reason: rule for rule, reason in INELIGIBLE_REASONS.items()}


async def revision_of(
    db: Database, settings: Settings, period: MonthPeriod, number: int | None = None
) -> FrozenRevision:
    """Revision ``number`` (default: the latest) of a closed month, its report typed, or
    :class:`InputError`."""
    if number is not None and not 1 <= number <= MAX_ID:
        raise InputError("revision", number, "a revision number from 1 (the first freeze "
                         "of a month is revision 1)")
    async with db.reading() as tx:
        latest = await reports.latest_hash(tx, period.calendar, period.label)
        found = None if latest is None else await reports.revision_text(
            tx, period.calendar, period.label, number)
        signed = [] if found is None else await evidence.checkpoints(
            tx, revision_id=await evidence.revision_id(tx, period.calendar, period.label,
                                                       found.revision))
    if latest is None:
        raise InputError("month", period.label, "a month that has been closed: its statements "
                         "show a frozen report revision (R-C3); report close freezes one from "
                         f"{time_mark(closable_from(settings, period))}")
    if found is None:
        raise InputError("revision", number, f"a revision of {period.label}: 1 to "
                         f"{latest[0]}")
    frozen = frozen_revision(found)
    if signed:
        frozen = dataclasses.replace(frozen, checkpoint=(signed[-1].seq, signed[-1].hash,
                                                         signed[-1].key_id))
    return frozen


def _customer_record(revision: FrozenRevision, customer: str) -> CustomerReport:
    try:
        return revision.report.customer(customer)
    except KeyError:
        raise InputError("customer", customer, f"a customer in revision {revision.revision} "
                         f"of {revision.month} (it was frozen before this customer was "
                         "configured)") from None


async def statement(
    db: Database,
    settings: Settings,
    *,
    month: str,
    customer: str,
    revision: int | None = None,
    now: dt.datetime,
) -> Statement:
    """The statement of ``customer`` for ``month`` (its latest revision, or ``revision``), as
    sent, or as it would be sent: a correction of an earlier statement says what changed."""
    period = settings.month(month)
    known(customer, settings.topology.customers, "customer", "customers")
    frozen = await revision_of(db, settings, period, revision)
    async with db.reading() as tx:
        sent = await stored.sent(tx, period.calendar, period.label, customer)
        claim = await claims.find(tx, customer, period.label)
        renewals = await _month_renewals(tx, period, [customer])
    this = next((s for s in sent if s.revision == frozen.revision), None)
    corrects: int | None = None
    changes: tuple[str, ...] = ()
    if this is not None and this.kind == "correction":
        corrects, changes = this.corrects, tuple(this.changes or ())
    return build_statement(settings, period, frozen, customer, now=now, claim=_claim_line(
        settings, claim), corrects=corrects, changes=changes,
        links=claim_link_keys(settings), renewals=renewals[customer])


async def _month_renewals(tx: Tx, period: MonthPeriod, customers: Collection[str]
                          ) -> defaultdict[str, list[EntryRecord]]:
    """Each of ``customers``' renewals recorded before the month's end (L-2): those its
    report judged R-EX5 with (:func:`monitor.actions.inputs.month_customers`)."""
    grouped: defaultdict[str, list[EntryRecord]] = defaultdict(list)
    if customers:
        for renewal in await ledger.renewals(tx, before=period.end, customers=customers):
            grouped[renewal.customer_id].append(renewal)
    return grouped


def build_statement(
    settings: Settings,
    period: MonthPeriod,
    frozen: FrozenRevision,
    customer: str,
    *,
    now: dt.datetime,
    claim: str | None = None,
    corrects: int | None = None,
    changes: tuple[str, ...] = (),
    links: LinkKeys | None = None,
    record: CustomerReport | None = None,
    renewals: Sequence[EntryRecord],
) -> Statement:
    """The statement of ``customer`` from a frozen revision and the configuration (names,
    contacts, the fee) and the link keys that sign its link to the claim form (none: no
    link): a pure function of them. ``record``: the customer's in ``frozen``, when the
    caller has it at hand (the reminders, walking the report); else it is typed from the
    frozen report, found by id (:meth:`MonthReport.customer`). ``renewals``: the customer's
    recorded before the month's end (L-2), which the report judged R-EX5 with: a lapsed
    customer is told the dates they paid its sites until (:func:`_month_renewals`)."""
    if record is None:
        record = _customer_record(frozen, customer)
    configured = settings.topology.customers[customer]
    deadline = claim_deadline(period, settings.policy)
    # R-C1: claims are taken until the deadline, that instant included (claim_in_time, as
    # the form decides it); after it, a statement shown invites none (no link to a form
    # that would refuse it as late).
    closed = not claim_in_time(now, period, settings.policy)
    link = None if closed else claim_form_link(settings, links, customer, deadline=deadline,
                                               now=now)
    depends_on = settings.topology.dependencies(customer)
    breaches = set(record.notification_breaches)
    rule = _RULES.get(record.ineligible_reason or "")
    incidents = tuple(_incident(settings, incident, breaches) for incident in record.incidents)
    evidence = frozen.evidence
    maintenance = () if evidence is None else tuple(
        _window(settings, window, customer, services)
        for window, services in evidence.windows_on(depends_on))
    currency = record.currency or configured.fee.currency
    reader = settings.reader(customer)
    return Statement(
        provider=settings.provider.name,
        customer=customer,
        customer_name=one_line(configured.name),
        month=period.label,
        calendar=period.calendar,
        timezone=period.timezone,
        period_start=period.start,
        period_end=period.end,
        revision=frozen.revision,
        inputs_hash=frozen.inputs_hash,
        closed_at=frozen.closed_at,
        period_seconds=record.period_seconds,
        downtime_seconds=record.downtime_seconds,
        excluded_seconds=record.excluded_seconds,
        excluded_by_reason=dict(record.excluded_by_reason),
        unknown_seconds=record.unknown_seconds,
        availability_percent=record.availability_percent,
        target_percent=record.target_percent,
        tier=record.tier,
        tier_credit_days=record.tier_credit_days,
        notification_credit_days=record.notification_credit_days,
        partial_credit_days=record.partial_credit_days,
        refund_amount=record.refund_amount,
        credit_days_total=record.credit_days_total,
        credit_value=record.credit_value,
        currency=currency,
        fee_per_year=configured.fee.amount,
        ineligible_rule=rule,
        no_credit_because=_no_credit(settings, customer, rule, reader, renewals),
        incidents=incidents,
        maintenance=maintenance,
        credit_lines=tuple(_credit(line, record, reader) for line in record.credit_lines),
        detection_breaches=record.detection_breaches,
        claim_deadline=deadline,
        how_to_claim=() if closed else _how_to_claim(settings, customer, period,
                                                     frozen.revision, link, reader),
        claim_link=None if link is None else link.url,
        claim_link_expires=None if link is None else link.expires,
        claim=claim,
        corrects=corrects,
        changes=changes,
        generated_at=now,
        maintenance_recorded=evidence is not None,
        evidence_seq=None if frozen.checkpoint is None else frozen.checkpoint[0],
        evidence_hash=None if frozen.checkpoint is None else frozen.checkpoint[1],
        evidence_key_id=None if frozen.checkpoint is None else frozen.checkpoint[2],
        rtl=reader.direction == "rtl",
        language=reader,
    )


def _label(settings: Settings, target_id: str) -> str:
    topology = settings.topology
    target = topology.services.get(target_id) or topology.servers.get(target_id)
    name = target.name if target is not None else None
    return f"{one_line(name, 120)} ({target_id})" if name else target_id


def _incident(settings: Settings, incident: IncidentLine, breaches: set[int]) -> IncidentRow:
    after = incident.notified_after_seconds
    return IncidentRow(
        id=incident.id,
        service=_label(settings, incident.service),
        start=incident.start,
        end=incident.end,
        counted_seconds=incident.counted_seconds,
        cause=incident.cause,
        notified_at=None if after is None else incident.start + dt.timedelta(seconds=after),
        notified_after_seconds=after,
        notification_late=incident.id in breaches,
        detection_seconds=incident.detection_seconds,
    )


def _window(settings: Settings, window: FrozenWindow, customer: str,
            services: tuple[str, ...]) -> MaintenanceRow:
    """``window`` in ``customer``'s statement; ``services``: those of it the customer
    depends on (:meth:`RevisionEvidence.windows_on`)."""
    start = window.start
    notice_at = window.notices.get(customer)
    due = notice_due(start, settings.policy)
    return MaintenanceRow(
        id=window.id,
        services=tuple(_label(settings, s) for s in services),
        start=start,
        end=window.end,
        reason=one_line(window.reason, 500),
        notice_at=notice_at,
        notice_due=due,
        excluded=notice_at is not None and in_time(notice_at, due),
    )


#: What each credit line is for, in the customer's words (the rule id stays in its own
#: column, the evidence).
_CREDITS = {
    "R-T1": N_("tier credit: counted downtime reached the tier while availability was below "
               "the target"),
    "R-N1": N_("an outage not notified within the deadline"),
    "R-P1": N_("a late fix of a web-panel or project problem (a quarter of the tier credit)"),
    "R-P2": N_("refund for a late mobile-app fix (per started day late)"),
    "R-C1": N_("granted by decision"),
}
_EVIDENCE = (N_("incidents %(ids)s"), N_("maintenance windows %(ids)s"), N_("tickets %(ids)s"))


def _credit(line: CreditLine, record: CustomerReport, reader: Language) -> CreditRow:
    _ = reader.gettext
    found = zip(_EVIDENCE, (line.incidents, line.maintenance, line.tickets), strict=True)
    evidence = _("; ").join(
        _(kind) % {"ids": _(", ").join("#" + reader.number(i) for i in ids)}
        for kind, ids in found if ids)
    what = _(_CREDITS[line.rule]) if line.rule in _CREDITS else line.rule
    if line.rule == "R-T1" and record.tier:
        what = _("%(tier)s of service credit: counted downtime reached the tier while "
                 "availability was below the target") % {
                     "tier": _(TIER_NAMES.get(record.tier, record.tier))}
    return CreditRow(line.rule, what, line.days, line.amount, evidence)


def _no_credit(
    settings: Settings, customer: str, rule: IneligibleRule | None, reader: Language,
    renewals: Sequence[EntryRecord],
) -> str | None:
    """R-EX5, R-EX6, R-EX7: why the month earns nothing, in the customer's terms (R-EX5:
    each site paid until its configured date or a later renewal's, L-2)."""
    _ = reader.gettext
    configured = settings.topology.customers[customer]
    if rule == "R-EX5":
        paid = _(", ").join(
            _("%(domain)s until %(date)s") % {
                "domain": domain, "date": reader.day(until, settings.calendar)
                if reader.code != "en" else str(until)}
            for domain, until in sites_paid_until(settings, customer, renewals))
        return _("your subscription had lapsed for non-payment when the month began "
                 "(paid: %(paid)s); service credits do not accrue while a subscription is "
                 "suspended. Renewing it re-activates them.") % {"paid": paid}
    if rule == "R-EX6":
        return _("you run a self-hosted copy (clone) of the platform, for which the contract "
                 "grants no service credits.")
    if rule == "R-EX7":
        supported = settings.provider.supported_versions
        sites = _(", ").join(
            _("%(domain)s runs %(version)s") % {"domain": site.domain, "version": site.version}
            for site in configured.sites
            if site.version is not None and site.version not in supported)
        return _("a site runs a product version we no longer support (%(sites)s; supported: "
                 "%(supported)s); credits resume once it is upgraded.") % {
                     "sites": sites, "supported": _(", ").join(supported)}
    return None


def _how_to_claim(
    settings: Settings, customer: str, period: MonthPeriod, revision: int, link: PageLink | None,
    reader: Language,
) -> tuple[str, ...]:
    """How a customer claims (R-C1): on its page's claim form through ``link`` (the signed
    link, when link keys are configured), or by e-mail to the provider, which the operator
    records with ``claim submit``; either way its receipt is e-mailed by the next business
    day."""
    _ = reader.gettext
    sites = [site.domain for site in settings.topology.customers[customer].sites]
    where = (_("the site to credit (%(sites)s)") % {"sites": _(" or ").join(sites)}
             if len(sites) > 1 else _("your site %(site)s") % {"site": sites[0]})
    ways = []
    if link is not None:
        expires = reader.time(link.expires, settings.timezone, settings.calendar)
        ways.append(_("Use the claim form on your page: %(link)s (this link is yours alone; "
                      "it works until %(expires)s).") % {"link": link.url, "expires": expires})
    figures = {"sender": settings.sender, "month": reader.month(period.label, period.calendar),
               "revision": reader.number(revision), "where": where}
    ways += [
        (_("Or reply to the e-mail that brought this statement, or write to %(sender)s, saying "
           "that you claim the service credit for %(month)s (statement revision "
           "%(revision)s); name %(where)s.") if link is not None else
         _("Reply to the e-mail that brought this statement, or write to %(sender)s, saying "
           "that you claim the service credit for %(month)s (statement revision "
           "%(revision)s); name %(where)s.")) % figures,
        _("We confirm receipt by e-mail by the end of the next business day and decide within "
          "%(days)s days; an approved credit extends your service from one month "
          "after the approval.") % {
              "days": reader.number(settings.policy.decision_deadline_seconds // 86400)},
    ]
    return tuple(ways)


def _claim_line(settings: Settings, claim: claims.ClaimRecord | None) -> str | None:
    if claim is None:
        return None
    reader = settings.reader(claim.customer_id)
    _ = reader.gettext

    def when(at: dt.datetime) -> str:  # in the provider's zone and calendar, as the rest
        return reader.time(at, settings.timezone, settings.calendar)

    figures = {"claim": "#" + reader.number(claim.id), "received": when(claim.submitted_at)}
    if claim.decision is None:
        return _("Your claim %(claim)s for this month was received %(received)s; our decision "
                 "is due by %(due)s.") % {**figures, "due": when(claim.decision_due_at)}
    decision = _(DECISIONS[claim.decision]) if claim.decision in DECISIONS else claim.decision
    return _("Your claim %(claim)s for this month was received %(received)s and %(decision)s "
             "on %(decided)s.") % {**figures, "decision": decision,
                                   "decided": when(claim.decided_at or claim.submitted_at)}


async def statement_files(statement: Statement) -> StatementFiles:
    """The statement's HTML (the e-mail's body), PDF (from the same template) and CSV,
    rendered on a worker thread (:func:`monitor.actions.statement_workers.render_files`:
    the PDF takes a few tenths of a second of CPU)."""
    return await asyncio.to_thread(render_files, statement)


@dataclass(frozen=True)
class StatementItem:
    """What ``send_statements`` did, or would do, for one customer."""

    customer: str
    # queued (by this call) | already_queued (before, not yet accepted) | already_sent
    # (accepted) | send_failed (given up) | unchanged | withheld | would_send
    status: str
    kind: str | None = None  # statement | correction
    revision: int | None = None
    corrects: int | None = None
    changes: tuple[str, ...] = ()
    dedupe_key: str | None = None
    why: str | None = None  # for withheld / unchanged / already_*, send_failed


@dataclass(frozen=True)
class StatementsSent:
    month: str
    revision: int
    frozen: bool  # this call froze the revision (the records had changed, or none existed)
    dry_run: bool
    items: list[StatementItem] = field(default_factory=list)

    @property
    def queued(self) -> list[StatementItem]:
        return [item for item in self.items if item.status == "queued"]


async def send_statements(
    db: Database,
    settings: Settings,
    *,
    month: str,
    customer: str | None = None,
    dry_run: bool = False,
    mail: StatementMail,
    actor: str,
    now: dt.datetime,
    stopping: Callable[[], bool] | None = None,
    revision: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StatementsSent:
    """Close ``month`` (a new revision only if its records changed) and queue each eligible
    customer's statement for the latest revision, once per customer and revision (see the
    module's decisions); ``customer`` alone, even a withheld one. ``stopping`` is asked
    between customers (the daemon stopping): what is left is sent by the next call, as
    after a kill (each batch of statements is queued in one transaction).
    ``revision`` sends that revision without closing (the daemon's run of a revision an
    operator froze). ``workers``: the processes that render the statements (default: one
    per available core, or a thread for a few statements; 0: a thread);
    ``progress(done, total)`` is told each time a batch is queued."""
    period = settings.month(month)
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
    if workers is not None and workers < 0:
        raise InputError("workers", workers, "a number of worker processes from 0 (render on "
                         "a thread of this process) up")
    if revision is not None:
        frozen, created = await revision_of(db, settings, period, revision), False
    elif dry_run:
        frozen, created = await _would_freeze(db, settings, period, now)
    else:
        closing = await close_month(db, settings, month=month, now=now)
        frozen, created = await revision_of(db, settings, period, closing.revision), closing.created
    async with db.reading() as tx:
        sent = await stored.sent(tx, period.calendar, period.label)
        earlier = {number: await reports.revision_text(tx, period.calendar, period.label,
                                                       number)
                   for number in {s.revision for s in sent if s.revision != frozen.revision}}
        mails = {m.dedupe_key: m for m in await outbox.states(
            tx, [s.dedupe_key for s in sent if s.revision == frozen.revision])}
    # Each earlier revision a statement was sent for, read once for every customer's plan
    # (each customer typed when its plan asks for it).
    earlier_reports = {number: None if found is None else frozen_revision(found).report
                       for number, found in earlier.items()}
    del earlier
    result = StatementsSent(period.label, frozen.revision, created, dry_run)
    mine: dict[str, list[StatementRecord]] = defaultdict(list)
    for record in sent:
        mine[record.customer_id].append(record)
    # Planned by each customer's id and ineligible reason; a customer's records are typed
    # only for a correction (at 10,000 customers the typed report is about 400 MB), and for
    # its statement when it is rendered.
    heads = list(_customers(frozen, settings, customer))
    planned = [_plan(settings, frozen, head, customer, mine[head[0]], earlier_reports, mails)
               for head in heads]
    todo = [item for item in planned if item.status == "would_send"]
    if dry_run or not todo:
        result.items.extend(planned)
        return result
    # A lapsed customer's statement names what it paid until (R-EX5): only one asked for.
    lapsed = {head[0] for head in heads if _RULES.get(head[1] or "") == "R-EX5"}
    queued = await _queue(db, settings, period, frozen, todo, mail, actor, now,
                          stopping=stopping, workers=workers, progress=progress,
                          lapsed=lapsed)
    # In the customers' order; a statement not queued (stopped first) is the next call's.
    result.items.extend(queued[item.customer] if item.status == "would_send" else item
                        for item in planned
                        if item.status != "would_send" or item.customer in queued)
    return result


async def _would_freeze(
    db: Database, settings: Settings, period: MonthPeriod, now: dt.datetime
) -> tuple[FrozenRevision, bool]:
    """What ``close_month`` would freeze now, without writing (``dry_run``): the report as
    it would read back (its numbers as shown, R-M6)."""
    require_closable(settings, period, now)
    inputs = await month_inputs(db, settings, period, now)
    digest = inputs.digest()
    async with db.reading() as tx:
        latest = await reports.revision_text(tx, period.calendar, period.label)
    if latest is not None and latest.inputs_hash == digest:
        return frozen_revision(latest), False
    number = 1 if latest is None else latest.revision + 1
    # As it would read back: its stored text, each customer typed when read.
    report = MonthReport.from_text(evidence.encoded_document(inputs.compute(now).to_json()))
    return FrozenRevision(period.calendar, period.label, number, now, digest, report,
                          inputs.evidence()), True


def _customers(
    frozen: FrozenRevision, settings: Settings, customer: str | None
) -> Iterator[tuple[str, str | None]]:
    """Each customer a run plans for: its id and ineligible reason."""
    if customer is not None:
        yield customer, _customer_record(frozen, customer).ineligible_reason
        return
    yield from frozen.report.heads()


def _plan(
    settings: Settings,
    frozen: FrozenRevision,
    head: tuple[str, str | None],
    asked: str | None,
    mine: list[StatementRecord],
    earlier: Mapping[int, MonthReport | None],
    mails: Mapping[str, MessageState],
) -> StatementItem:
    """What to do for one customer (``head``: its id and ineligible reason)."""
    customer, reason = head
    if customer not in settings.topology.customers:
        # A customer of the month who left: its month stays (monitor.sla.terms), its
        # contacts left the configuration with it.
        return StatementItem(customer, "withheld", why="no longer configured: no address to "
                             "send its statement to")
    rule = _RULES.get(reason or "")
    if asked is None and statement_withheld(rule):
        return StatementItem(customer, "withheld", why=f"{rule}: no statement unless asked for "
                             "(a lapsed subscription or a clone gets no customer e-mail)")
    recorded = next((s for s in mine if s.revision == frozen.revision), None)
    if recorded is not None:
        return _recorded(recorded, mails.get(recorded.dedupe_key))
    before = max((s for s in mine if s.revision < frozen.revision),
                 key=lambda s: s.revision, default=None)
    if before is None:
        return StatementItem(customer, "would_send", "statement", frozen.revision)
    previous = earlier.get(before.revision)
    old = None if previous is None else _record_in(previous, customer)
    record = frozen.report.customer(customer)
    changes = tuple(_told(settings, change, record)
                    for change in customer_changes(old, record, frozen.report.period.end))
    if not changes:
        return StatementItem(customer, "unchanged", revision=frozen.revision,
                             corrects=before.revision,
                             why=f"its figures are those of revision {before.revision}, sent "
                             f"{iso_utc(before.queued_at)}")
    return StatementItem(customer, "would_send", "correction", frozen.revision, before.revision,
                         changes)


def _record_in(report: MonthReport, customer: str) -> CustomerReport | None:
    try:
        return report.customer(customer)
    except KeyError:
        return None


def _recorded(record: StatementRecord, mail: MessageState | None) -> StatementItem:
    """A statement queued before for this revision, as its e-mail stands in the outbox."""
    def item(status: str, why: str) -> StatementItem:
        return StatementItem(record.customer_id, status, record.kind, record.revision,
                             record.corrects, tuple(record.changes or ()), record.dedupe_key,
                             why)

    if mail is not None and mail.accepted_at is not None:
        return item("already_sent", f"revision {record.revision} was sent before: accepted "
                    f"{iso_utc(mail.accepted_at)}")
    if mail is not None and mail.status == "failed":
        return item("send_failed", f"revision {record.revision} was queued "
                    f"{iso_utc(record.queued_at)} and its e-mail given up: {mail.last_error}")
    return item("already_queued", f"revision {record.revision} was queued "
                f"{iso_utc(record.queued_at)}, not yet accepted by the mail server")


_FIGURES = {
    "downtime_seconds": N_("counted downtime"),
    "excluded_seconds": N_("excluded time"),
    "unknown_seconds": N_("unknown time"),
    "availability_percent": N_("availability"),
    "tier": N_("credit tier"),
    "credit_days_total": N_("total credit"),
    "credit_value": N_("its value"),
    "partial_credit_days": N_("ticket penalties"),
    "refund_amount": N_("refund"),
    "notification_breaches": N_("outages notified late"),
    "detection_breaches": N_("outages detected late"),
    "counted_seconds": N_("counted time"),
    "cause": N_("cause"),
    "start": N_("start"),
    "end": N_("end"),
}


def _told(settings: Settings, change: Change, record: CustomerReport) -> str:
    """A change as the correction tells the customer, in the customer's language:
    ``counted downtime: 2 h 30 min, now 0 s``; times in the provider's zone and calendar,
    durations and money as everywhere."""
    currency = record.currency
    reader = settings.reader(record.customer)
    _ = reader.gettext

    def shown(value: object) -> str:
        if value is None or value == ():
            return _("none")
        if change.field.endswith("_seconds") and isinstance(value, int):
            return reader.duration(value)
        if change.field == "availability_percent":
            return (f"{value} %" if reader.code == "en" else
                    reader.percent(Decimal(str(value)), sign=True))
        if change.field in ("credit_value", "refund_amount") and isinstance(value, Decimal):
            return reader.money(value, currency)
        if change.field in ("credit_days_total", "partial_credit_days") and isinstance(
                value, Decimal):
            return reader.days(value)
        if isinstance(value, dt.datetime):
            return (format_time(value, settings.timezone, settings.calendar)
                    if reader.code == "en" else
                    reader.time(value, settings.timezone, settings.calendar))
        if isinstance(value, tuple):
            return _(", ").join("#" + reader.number(i) for i in value)
        if change.field == "tier":
            return _(TIER_NAMES.get(str(value), str(value)))
        label = CAUSE_LABELS.get(str(value))
        return _(label) if label else str(value)

    incident = None if change.incident is None else "#" + reader.number(change.incident)
    if change.field == "added":
        return _("incident %(incident)s now counts in this month") % {"incident": incident}
    if change.field == "removed":
        return _("incident %(incident)s no longer counts in this month") % {"incident": incident}
    label = _FIGURES.get(change.field)
    what = _(label) if label else change.field.replace("_", " ")
    figures = {"what": what, "before": shown(change.before), "after": shown(change.after)}
    if incident is None:
        return _("%(what)s: %(before)s, now %(after)s") % figures
    return _("incident %(incident)s, %(what)s: %(before)s, now %(after)s") % {
        **figures, "incident": incident}


#: Statements queued per transaction: a run killed half-way loses at most one batch, which
#: the next run renders again.
BATCH = 50
#: At most this long between two batches, and two progress reports.
BATCH_SECONDS = 1.0


def _processes(workers: int | None, statements: int) -> int:
    """How many worker processes render ``statements`` (0: a thread)."""
    if workers is None:
        workers = available_cores() if statements >= PROCESSES_FROM else 0
    return min(workers, statements)


async def _queue(
    db: Database,
    settings: Settings,
    period: MonthPeriod,
    frozen: FrozenRevision,
    todo: list[StatementItem],
    mail: StatementMail,
    actor: str,
    now: dt.datetime,
    *,
    stopping: Callable[[], bool] | None,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    lapsed: Collection[str],
) -> dict[str, StatementItem]:
    """Render ``todo`` (in worker processes, outside any transaction: the PDFs take CPU
    time), then queue each e-mail and record each statement, a batch per transaction;
    returns what was queued, by customer. At most a few statements per worker are in flight
    (the memory stays bounded whatever the number of customers); ``lapsed``: the customers
    suspended in the month (R-EX5), whose renewals their statements name."""
    async with db.reading() as tx:
        claimed = {c.customer_id: c for c in await claims.listed(tx, month=period.label)
                   if c.calendar == period.calendar}
        renewals = await _month_renewals(
            tx, period, [item.customer for item in todo if item.customer in lapsed])
    links = claim_link_keys(settings)
    processes = _processes(workers, len(todo))
    queued: dict[str, StatementItem] = {}
    ready: list[tuple[StatementItem, Statement, StatementFiles]] = []
    if progress is not None:
        progress(0, len(todo))

    async with Renderers(processes) as renderers:
        async def render(item: StatementItem) -> tuple[StatementItem, Statement, StatementFiles]:
            view = build_statement(settings, period, frozen, item.customer, now=now,
                                   claim=_claim_line(settings, claimed.get(item.customer)),
                                   corrects=item.corrects, changes=item.changes, links=links,
                                   renewals=renewals[item.customer])
            return item, view, await renderers.render(view)

        waiting = iter(todo)
        pending: set[asyncio.Future[tuple[StatementItem, Statement, StatementFiles]]] = set()
        # In flight: a few per worker, so that none waits; one on a thread (no gain in more).
        window = 4 * processes or 1
        written_at = time.monotonic()
        stopped = False
        try:
            while True:
                while not stopped and len(pending) < window:
                    item = next(waiting, None)
                    if item is None:
                        break
                    if stopping is not None and stopping():
                        stopped = True
                        break
                    pending.add(asyncio.ensure_future(render(item)))
                if not pending:
                    break
                finished, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED)
                ready += [task.result() for task in finished]
                if (len(ready) >= BATCH or not pending
                        or time.monotonic() - written_at >= BATCH_SECONDS):
                    queued.update(await _write(db, period, frozen, ready, mail, actor, now))
                    ready, written_at = [], time.monotonic()
                    if progress is not None:
                        progress(len(queued), len(todo))
        finally:
            for task in pending:
                task.cancel()
    return queued


async def _write(
    db: Database,
    period: MonthPeriod,
    frozen: FrozenRevision,
    batch: list[tuple[StatementItem, Statement, StatementFiles]],
    mail: StatementMail,
    actor: str,
    now: dt.datetime,
) -> dict[str, StatementItem]:
    """Queue the e-mails of ``batch`` and record its statements, in one transaction."""
    written: dict[str, StatementItem] = {}
    async with db.transaction() as tx:
        keys = await mail.statements(tx, [(view, files) for _item, view, files in batch])
        await stored.add_statements(tx, [StatementRecord(
            0, period.calendar, period.label, item.customer, frozen.revision,
            item.kind or "statement", item.corrects, list(item.changes) or None, key, actor,
            now) for (item, _view, _files), key in zip(batch, keys, strict=True)])
        for (item, _view, _files), key in zip(batch, keys, strict=True):
            written[item.customer] = StatementItem(item.customer, "queued", item.kind,
                                                   item.revision, item.corrects, item.changes,
                                                   key)
    return written
