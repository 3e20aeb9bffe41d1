"""The adapters from stored records to the engine's inputs (:mod:`monitor.sla.inputs`), in
one place: a stored incident, window or ticket as the engine's record, and a month's
inputs gathered from the store and the configuration (:func:`month_inputs`), which every
report, statement, claim, standing and status reads.

They read and convert; every rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.actions.common import iso_utc, known
from monitor.actions.ledger import customer_lapse
from monitor.config import Settings, Topology
from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthPeriod,
    MonthReport,
    Policy,
    SessionInput,
    TicketInput,
    blind_everywhere,
    clip,
    compute_month,
    fix_due,
    inputs_digest,
    union,
    unobserved,
)
from monitor.sla.report import JSON
from monitor.sla.stored import Fields
from monitor.sla.terms import MonthTerms
from monitor.store import incidents, ledger, maintenance, reports, tickets, unknown
from monitor.store.incidents import IncidentRecord
from monitor.store.ledger import EntryRecord
from monitor.store.maintenance import WindowRecord
from monitor.store.tickets import TicketRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx
    from monitor.store.evidence import SignedRevision

log = logging.getLogger(__name__)

__all__ = [
    "FrozenWindow",
    "MonthInputs",
    "RevisionEvidence",
    "configured_month_terms",
    "incident_input",
    "maintenance_input",
    "month_customer_ids",
    "month_customers",
    "month_inputs",
    "month_tickets",
    "month_unknown",
    "revision_customer_ids",
    "terms_differ",
    "ticket_input",
    "unknown_between",
]


@dataclass(frozen=True, slots=True)
class FrozenWindow:
    """A maintenance window as a revision froze it for statements (R-EX1, D-3): the services
    it covers, and when its notice reached each customer."""

    id: int
    services: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    reason: str
    notices: Mapping[str, dt.datetime]  # customer id -> notice_sent_at

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "services": list(self.services), "start": iso_utc(self.start),
                "end": iso_utc(self.end), "reason": self.reason,
                "notices": {customer: iso_utc(at) for customer, at in self.notices.items()}}

    @classmethod
    def from_json(cls, document: object, where: str = "window") -> FrozenWindow:
        fields = Fields(document, where)
        return cls(fields.integer("id"), fields.texts("services"), fields.instant("start"),
                   fields.instant("end"), fields.text("reason"),
                   fields.instants_by_name("notices"))


@dataclass(frozen=True, slots=True)
class RevisionEvidence:
    """What a revision freezes besides the report: for its statements, and the terms the
    month keeps (:mod:`monitor.sla.terms`; None in a revision frozen before they were)."""

    maintenance: tuple[FrozenWindow, ...]
    terms: MonthTerms | None = None
    #: Each service's places in the windows (the window's position in ``maintenance``, the
    #: service's in the window's ``services``), made once: a server's window lists every
    #: project on it (hundreds at 10,000 customers), and intersecting each window's services
    #: with each customer's took 2 ms of a statement's 2.5 in a month's run.
    by_service: dict[str, tuple[tuple[int, int], ...]] = dataclasses.field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for position, window in enumerate(self.maintenance):
            for place, service in enumerate(window.services):
                index[service].append((position, place))
        object.__setattr__(self, "by_service", {s: tuple(p) for s, p in index.items()})

    def windows_on(self, services: Iterable[str]) -> list[tuple[FrozenWindow, tuple[str, ...]]]:
        """The windows on any of ``services``, in their order, each with those of
        ``services`` it lists, in its own order."""
        covered: dict[int, set[int]] = defaultdict(set)
        for service in services:
            for position, place in self.by_service.get(service, ()):
                covered[position].add(place)
        return [(self.maintenance[position], tuple(
                    self.maintenance[position].services[place] for place in sorted(places)))
                for position, places in sorted(covered.items())]

    def to_json(self) -> dict[str, JSON]:
        document: dict[str, JSON] = {
            "maintenance": [window.to_json() for window in self.maintenance]}
        if self.terms is not None:
            document["terms"] = self.terms.to_json()
        return document

    @classmethod
    def from_json(cls, document: object) -> RevisionEvidence:
        """The evidence ``to_json`` stored, for statements; a wrong field is a StoreError
        naming it. Its terms are left out (``terms`` None): statements do not show them, and
        at 10,000 customers they are 2.2 MB; a month's reads take them from the store alone
        (:func:`monitor.store.reports.revision_terms`)."""
        fields = Fields(document, "evidence")
        return cls(tuple(FrozenWindow.from_json(window, where)
                         for window, where in fields.items("maintenance")))


@dataclass(frozen=True)
class MonthInputs:
    """Everything the engine needs for one month, as known at one instant (R-C3)."""

    period: MonthPeriod
    customers: list[CustomerInput]
    incidents: list[IncidentInput]
    maintenance: list[MaintenanceInput]
    notifications: dict[tuple[int, str], dt.datetime]
    unknown: list[Interval]
    policy: Policy
    tickets: list[TicketInput] = dataclasses.field(default_factory=list)
    # A cluster's unknown time of single targets (their node lost, every vantage).
    unknown_by_service: dict[str, list[Interval]] = dataclasses.field(default_factory=dict)
    # The projects each server hosted (a server's maintenance is theirs): with the customers
    # and the policy, the month's terms (monitor.sla.terms).
    hosted: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    # When the terms are a closed month's: the renewals recorded before its end, for what
    # the configuration says of it now (terms_differ); None when the terms are configured.
    renewals: list[EntryRecord] | None = None

    def terms(self) -> MonthTerms:
        """The terms these inputs were gathered with (:mod:`monitor.sla.terms`)."""
        return MonthTerms(tuple(self.customers), self.policy, self.hosted)

    def compute(self, now: dt.datetime,
                progress: Callable[[int, int], None] | None = None) -> MonthReport:
        return compute_month(
            self.period,
            self.customers,
            self.incidents,
            self.maintenance,
            self.notifications,
            self.unknown,
            self.policy,
            now,
            self.tickets,
            self.unknown_by_service,
            progress,
        )

    def evidence(self) -> RevisionEvidence:
        """What a statement shows besides the report, frozen with a revision: the month's
        maintenance windows, each with the services it covers (a server's window covers its
        projects) and when its notice reached each customer (R-EX1, D-3); and the terms the
        month keeps from then on (:mod:`monitor.sla.terms`)."""
        return RevisionEvidence(tuple(
            FrozenWindow(window.id, tuple(sorted(window.service_ids)), window.start,
                         window.end, window.reason, dict(sorted(window.notices.items())))
            for window in sorted(self.maintenance, key=lambda w: w.id)
        ), self.terms())

    def digest(self) -> str:
        return inputs_digest(
            self.period,
            self.customers,
            self.incidents,
            self.maintenance,
            self.notifications,
            self.unknown,
            self.policy,
            self.tickets,
            self.unknown_by_service,
        )


def incident_input(record: IncidentRecord) -> IncidentInput | None:
    """A stored incident as the engine's record; None for one stored ending at or before
    its start, which has no duration (no counted time, no notification owed: R-M4, R-N1).

    Only a daemon of an earlier version wrote such a row: restarted on a wall clock set
    back while the incident was open, it ended the incident at a good probe read before
    its start (the incident book now ends it after its last failure seen). Every report
    of its month failed on it; it is left out, and named in the log each time it is read
    (a rare row an operator should see) so that the clock and its times are checked."""
    if record.end is not None and record.end <= record.start:
        log.warning(
            "an incident is stored ending before it began (the wall clock was set back "
            "while it was open): left out of reports, it has no duration; check the clock "
            "and the incident's times",
            extra={"incident": record.id, "service": record.service_id,
                   "start": record.start.isoformat(), "end": record.end.isoformat()})
        return None
    return IncidentInput(
        id=record.id,
        service_id=record.service_id,
        start=record.start,
        end=record.end,
        cause=record.cause,  # type: ignore[arg-type]  # the store keeps validated values
        detected_at=record.detected_at,
        source=record.source,  # type: ignore[arg-type]
    )


def maintenance_input(
    window: WindowRecord, notices: Mapping[str, dt.datetime], hosting: Topology | MonthTerms
) -> MaintenanceInput:
    """A stored window as the engine's record; a server's window is its projects' window
    too (R-M4, R-EX1): those the configuration, or the month's frozen terms, put on it."""
    return MaintenanceInput(
        id=window.id,
        service_ids=hosting.with_hosted_projects(frozenset(window.service_ids)),
        start=window.start,
        end=window.end,
        reason=window.reason,
        notices=dict(notices),
    )


def ticket_input(ticket: TicketRecord) -> TicketInput:
    """The ticket as the engine sees it (R-P1..R-P3)."""
    return TicketInput(
        id=ticket.id,
        customer_id=ticket.customer_id,
        kind="mobile" if ticket.kind == "mobile" else "web_panel",
        reported_at=ticket.opened_at,
        diagnosed_at=ticket.diagnosed_at,
        provider_fault=bool(ticket.provider_fault),
        fixed_at=ticket.fixed_at,
        next_release=ticket.next_release,
    )


def month_tickets(
    settings: Settings, period: MonthPeriod, faults: list[TicketRecord],
    customers: Collection[str] | None = None, terms: MonthTerms | None = None,
) -> list[TicketInput]:
    """Tickets diagnosed as the provider's fault whose fix deadline falls in the month
    (their penalty belongs to it, R-P1/R-P2), of the month's customers (its frozen
    ``terms``' when given, else the configured ones); only ``customers``' when given."""
    policy = settings.policy if terms is None else terms.policy
    of_month: Collection[str] = (settings.topology.customers if terms is None
                                 else {customer.id for customer in terms.customers})
    in_month = []
    for record in faults:
        if customers is not None and record.customer_id not in customers:
            continue
        ticket = ticket_input(record)
        due = fix_due(ticket, policy)
        if due is not None and period.start <= due < period.end and (
                record.customer_id in of_month):
            in_month.append(ticket)
    return in_month


def month_customers(
    settings: Settings, renewals: list[EntryRecord], customers: Collection[str] | None = None
) -> list[CustomerInput]:
    """Customers as configured (only ``customers`` when given), with the yearly renewals
    recorded before the month's end (L-2): a renewal recorded later does not revive a
    month that began lapsed (R-EX5)."""
    topology = settings.topology
    chosen = (topology.customer_inputs() if customers is None
              else [topology.customer_input(c) for c in sorted(set(customers))])
    renewed: dict[str, list[EntryRecord]] = defaultdict(list)
    for renewal in renewals:  # each customer's own: not every renewal scanned for each
        renewed[renewal.customer_id].append(renewal)
    return [
        customer if customer.id not in renewed else
        dataclasses.replace(customer, paid_until=customer_lapse(settings, customer.id,
                                                                renewed[customer.id]))
        for customer in chosen
    ]


async def month_inputs(
    db: Database,
    settings: Settings,
    period: MonthPeriod,
    now: dt.datetime,
    customers: Collection[str] | None = None,
    *,
    configured_terms: bool = False,
) -> MonthInputs:
    """Everything the engine needs for ``period``, as known at ``now``; with ``customers``,
    only what those customers' reports need (their dependencies' incidents and windows,
    their notices, notifications and tickets): one customer's page reads a few rows, not
    the month of every customer.

    A month closed by ``now`` keeps the terms of its latest revision (its customers, their
    fees and dependencies, the policy, what each server hosted: :mod:`monitor.sla.terms`);
    an ended month not closed, those the daemon kept as it saw it end; any other, or
    ``configured_terms``, takes them from the configuration. One of
    ``customers`` the month's terms do not name (configured after it closed) is read as
    configured.

    Unknown time (R-M3) is, once, for every report and metric: the intervals the
    daemon recorded (blind to its canaries or resolver, R-M2; a gap it found at start),
    and the time no run of the daemon watched (:func:`monitor.sla.unobserved` of its
    sessions: before it first ran, between runs, since it stopped if none runs now),
    clipped to the month as seen at ``now`` (:func:`month_unknown`).

    Tickets: :func:`month_tickets`. Customers: :func:`month_customers`.
    """
    start, end = period.start, period.end
    tolerance = settings.monitor.unknown_after
    topology = settings.topology
    async with db.reading() as tx:
        terms = None if configured_terms else await _month_terms(db, tx, period, now)
        hosting: Topology | MonthTerms = topology if terms is None else terms
        frozen = {} if terms is None else {customer.id: customer for customer in terms.customers}
        depended: set[str] | None = None
        if customers is not None:
            depended = set()
            for customer_id in customers:
                kept = frozen.get(customer_id)
                if kept is None:  # a customer of a closed month who left is in its terms
                    known(customer_id, topology.customers.keys() | frozen.keys(), "customer",
                          "customers or the month's" if frozen else "customers")
                depended |= (topology.dependencies(customer_id) if kept is None
                             else kept.services)
        found = await incidents.touching(tx, start, end, depended)
        first = await incidents.first_notified_at(tx, (i.id for i in found), customers)
        windows = await maintenance.touching(tx, start, end)
        if depended is not None:
            windows = [
                w for w in windows
                if hosting.with_hosted_projects(frozenset(w.service_ids)) & depended
            ]
        notices = await maintenance.first_noticed_at(tx, (w.id for w in windows), customers)
        unseen = await unknown.touching(tx, start, end)
        scoped = await unknown.scoped_touching(tx, start, end)
        runs = await unknown.sessions_touching(
            tx, start - dt.timedelta(seconds=tolerance), end
        )
        faults = await tickets.provider_fault(tx, customers)  # only theirs, when asked
        renewals = await ledger.renewals(tx, before=end, customers=customers)
    everyone, by_service = _cluster_unknown(settings, period, now, scoped)
    by_window: dict[int, dict[str, dt.datetime]] = {}
    for (window_id, customer_id), noticed_at in notices.items():
        by_window.setdefault(window_id, {})[customer_id] = noticed_at
    if terms is None:
        chosen = month_customers(settings, renewals, customers)
    else:  # renewals recorded before the month's end are in its terms already
        wanted = frozen.keys() if customers is None else set(customers)
        later = [c for c in sorted(wanted) if c not in frozen]
        chosen = [frozen[c] for c in sorted(wanted) if c in frozen]
        chosen += month_customers(settings, renewals, later) if later else []
    return MonthInputs(
        period,
        chosen,
        [made for made in map(incident_input, found) if made is not None],
        [maintenance_input(w, by_window.get(w.id, {}), hosting) for w in windows],
        first,
        union([*month_unknown(period, now, unseen, runs, tolerance), *everyone]),
        settings.policy if terms is None else terms.policy,
        month_tickets(settings, period, faults, customers, terms),
        by_service,
        _hosted(topology) if terms is None else terms.hosted,
        None if terms is None else renewals,
    )


def terms_differ(inputs: MonthInputs, settings: Settings) -> list[str]:
    """What the configuration now says otherwise than the terms of a closed month's
    ``inputs`` of every customer (:meth:`monitor.sla.MonthTerms.differences`); nothing
    when they are the configuration's."""
    if inputs.renewals is None:
        return []
    return inputs.terms().differences(configured_month_terms(settings, inputs.renewals))


def configured_month_terms(settings: Settings, renewals: list[EntryRecord]) -> MonthTerms:
    """A month's terms as the configuration says them now (``renewals``: those recorded
    before the month's end, L-2)."""
    return MonthTerms(tuple(month_customers(settings, renewals)), settings.policy,
                      _hosted(settings.topology))


async def month_customer_ids(db: Database, period: MonthPeriod, now: dt.datetime
                             ) -> frozenset[str] | None:
    """The customers of an ended ``period`` as its terms name them (its latest revision's
    closed by ``now``, or those kept as it ended: :mod:`monitor.sla.terms`); None when it
    has neither (a customer configured now is taken for one of it, as its figures are)."""
    if now < period.end:
        return None  # a running month has no terms of its own: no transaction for it
    async with db.reading() as tx:
        terms = await _month_terms(db, tx, period, now)
    return None if terms is None else frozenset(customer.id for customer in terms.customers)


async def revision_customer_ids(db: Database, tx: Tx, revision: SignedRevision
                                ) -> frozenset[str]:
    """The customers ``revision`` reports on: those of the terms it froze (the report's
    customers: a close computes the customers of its terms), else, for a revision frozen
    before revisions kept terms, those its report lists. A frozen revision never changes:
    the answer is kept for the last :data:`_KEEP_REVISION_CUSTOMERS` revisions asked about
    through ``db`` and its siblings (a customer's page asks about each of its months' at
    every view, each on a sibling: 86 MB of report read and parsed a month, 0.5 s, at
    10,000 customers)."""
    key = (revision.calendar, revision.month, revision.revision, revision.inputs_hash)
    with _KEEPING:
        kept = _REVISION_CUSTOMERS.setdefault(db.origin, {})
    found = kept.get(key)
    if found is None:
        calendar, month = revision.calendar, revision.month
        terms = await reports.revision_terms(tx, calendar, month, revision.revision)
        if terms is not None:
            found = frozenset(c.id for c in MonthTerms.from_json(terms).customers)
        else:
            stored = await reports.revision_text(tx, calendar, month, revision.revision)
            found = frozenset() if stored is None else frozenset(
                listed for listed, _ in MonthReport.from_text(stored.report).heads())
        _keep(kept, key, found, _KEEP_REVISION_CUSTOMERS)
    return found


async def _month_terms(db: Database, tx: Tx, period: MonthPeriod, now: dt.datetime
                       ) -> MonthTerms | None:
    """The terms an ended ``period`` keeps at ``now``: its latest revision's closed by then,
    else those the daemon kept as it ended; None for a month not ended, or without either
    (the configuration's are its)."""
    if now < period.end:
        return None
    return await _frozen_terms(db, tx, period, now) or await _kept_terms(db, tx, period)


async def _frozen_terms(db: Database, tx: Tx, period: MonthPeriod, closed_by: dt.datetime
                        ) -> MonthTerms | None:
    """The terms of ``period``'s latest revision closed by ``closed_by``; None if it has none
    (never closed, or closed before revisions kept them)."""
    latest = await reports.latest_hash(tx, period.calendar, period.label, closed_by)
    if latest is None:
        return None
    # A revision is never changed once frozen: the same revision, the same terms.
    key = (period.calendar, period.label, *latest)
    if (kept := _KEPT_TERMS.get(db.origin, {}).get(key, _UNKNOWN)) is not _UNKNOWN:
        return kept  # type: ignore[return-value]
    return _remember(db, key, await reports.revision_terms(tx, period.calendar, period.label,
                                                           latest[0]))


async def _kept_terms(db: Database, tx: Tx, period: MonthPeriod) -> MonthTerms | None:
    """The terms the daemon kept of ``period`` when it saw it end, or None (kept once,
    never changed; a month without them is asked again, they may come)."""
    key = (period.calendar, period.label, 0, "kept at its end")
    if (kept := _KEPT_TERMS.get(db.origin, {}).get(key, _UNKNOWN)) is not _UNKNOWN:
        return kept  # type: ignore[return-value]
    stored = await reports.month_terms(tx, period.calendar, period.label)
    return None if stored is None else _remember(db, key, stored)


def _remember(db: Database, key: tuple[str, str, int, str], stored: Any) -> MonthTerms | None:
    """``stored`` terms parsed, and kept for ``db`` under ``key``."""
    terms = None if stored is None else MonthTerms.from_json(stored)
    with _KEEPING:
        kept = _KEPT_TERMS.setdefault(db.origin, {})
    _keep(kept, key, terms, _KEEP_TERMS)
    return terms


def _keep(kept: dict[K, V], key: K, value: V, most: int) -> None:
    """``value`` kept under ``key``, and only the ``most`` last kept (pages are read in
    worker threads at once: one at a time here)."""
    with _KEEPING:
        kept[key] = value
        while len(kept) > most:
            del kept[next(iter(kept))]  # the oldest


#: The terms of the last few revisions, or months kept at their end, read from each
#: database handle and its siblings (a customer's page reads its last month's at every view,
#: each on a sibling of the daemon's handle: parsing a month's terms takes about 0.1 s at
#: 10,000 customers, and they are about 5 MB in memory), in the order they were read.
_KEPT_TERMS: weakref.WeakKeyDictionary[Database, dict[tuple[str, str, int, str],
                                                      MonthTerms | None]] = (
    weakref.WeakKeyDictionary())
_KEEP_TERMS = 4

#: The customers of the last revisions asked about (revision_customer_ids), for each
#: database handle and its siblings: a year of months' at 10,000 customers is about 8 MB.
_REVISION_CUSTOMERS: weakref.WeakKeyDictionary[Database, dict[tuple[str, str, int, str],
                                                              frozenset[str]]] = (
    weakref.WeakKeyDictionary())
_KEEP_REVISION_CUSTOMERS = 24
_KEEPING = threading.Lock()  # pages are read in worker threads at once
_UNKNOWN = object()  # not kept (None is: a month without terms)
K = TypeVar("K")
V = TypeVar("V")


def _hosted(topology: Topology) -> dict[str, frozenset[str]]:
    """The projects on each configured server that has any."""
    return {server: frozenset(projects) for server in topology.servers
            if (projects := topology.projects_on(server))}


def _cluster_unknown(
    settings: Settings,
    period: MonthPeriod,
    now: dt.datetime,
    scoped: list[tuple[dt.datetime, dt.datetime | None, str | None, str | None]],
) -> tuple[list[Interval], dict[str, list[Interval]]]:
    """R-M3 per target (a daemon alone: each target's own unprobed time) and in a
    cluster: a blind vantage is covered by the others, so its time is
    unknown only where every configured vantage was blind (for everyone); a target nobody
    probed from a vantage (its node lost) is unknown where every vantage was blind or
    without it (for the customers depending on it) (:func:`monitor.sla.blind_everywhere`)."""
    if not scoped:
        return [], {}
    cluster = settings.config.cluster
    vantages = list(cluster.vantages or [cluster.vantage]) if cluster is not None else []
    seen_until = min(period.end, now)
    if seen_until <= period.start:
        return [], {}
    blind: dict[str, list[Interval]] = {}
    unwatched: dict[str, dict[str, list[Interval]]] = {}
    alone: dict[str, list[Interval]] = {}
    for start, end, vantage, target_id in scoped:
        stop = min(end or now, seen_until)
        if stop <= start:
            continue
        part = Interval(start, stop)
        if vantage is None:
            if target_id is not None:  # a daemon alone left this target unprobed (R-M3)
                alone.setdefault(target_id, []).append(part)
            continue
        if target_id is None:
            blind.setdefault(vantage, []).append(part)
        else:
            unwatched.setdefault(target_id, {}).setdefault(vantage, []).append(part)
    everyone = blind_everywhere(blind, vantages)
    by_service: dict[str, list[Interval]] = {}
    for target_id, gaps in unwatched.items():
        merged = {v: [*blind.get(v, []), *gaps.get(v, [])] for v in vantages}
        found = blind_everywhere(merged, vantages)
        if found:
            by_service[target_id] = found
    for target_id, parts in alone.items():
        by_service[target_id] = union([*by_service.get(target_id, []), *parts])
    return everyone, by_service


def month_unknown(
    period: MonthPeriod,
    now: dt.datetime,
    recorded: list[tuple[dt.datetime, dt.datetime | None]],
    runs: list[tuple[dt.datetime, dt.datetime, bool]],
    tolerance: float,
) -> list[Interval]:
    """R-M3: recorded unknown intervals and unwatched time, as one normalised list inside
    the month as seen at ``now`` (so a closed month's digest does not move with ``now``)."""
    return unknown_between(period.start, period.end, now, recorded, runs, tolerance)


def unknown_between(
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    recorded: list[tuple[dt.datetime, dt.datetime | None]],
    runs: list[tuple[dt.datetime, dt.datetime, bool]],
    tolerance: float,
) -> list[Interval]:
    """R-M3 for any span (a month, the status page's 90 days): :func:`month_unknown`'s
    reading of ``[start, min(end, now))``."""
    seen_until = min(end, now)
    if seen_until <= start:
        return []
    window = Interval(start, seen_until)
    kept = [
        Interval(interval_start, interval_end or now)
        for interval_start, interval_end in recorded
        if (interval_end or now) > interval_start
    ]
    sessions = [SessionInput(*run) for run in runs]
    return clip(union([*kept, *unobserved(sessions, window, now, tolerance)]), window)
