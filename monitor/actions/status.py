"""What the public status page, its Atom feed, the Statuspage-compatible API and the badges
show: the provider's shared services, never a customer's name or project.

**Decisions** (where the issue is silent):

* *Public services* are the shared ones: the web panel(s) and the mobile API. Customers'
  projects and the servers they run on are private; the page shows them only as one
  aggregate, "hosted projects", with how many are unavailable or in maintenance, no ids.
* A service's *state*: ``under_maintenance`` while an announced window covering it runs
  (an outage inside it is expected; one running past the window's end is an outage
  again, as R-EX1 counts it); ``major_outage`` while it has an open incident;
  ``degraded_performance`` while its probes fail but no incident is open yet (fewer than
  ``fail_after`` failures); else ``operational``. The hosted projects are in
  ``partial_outage`` while some of them (or their servers) have an open incident and in
  ``major_outage`` when all do.
* *This month's availability* of a service is the engine's (R-M6, against the whole
  month as in the report), for a customer that depends on that service alone and was
  told of each maintenance window when it was announced (created): the status page
  announces windows as soon as they exist, so R-EX1's 48 hours run from then.
* The *90-day bars* are :func:`monitor.sla.daily_states`: outages of any cause; unknown
  time as the reports read it (the monitor blind, R-M2; before the daemon first ran,
  between its runs, R-M3) shown as unknown, never as up.
* *Uptime* over the last 24 hours, 7, 30 and 90 days (:func:`monitor.sla.span_uptime`):
  outages of any cause, as the bars count them, with the unknown time apart (in the
  span's length, as R-M6 keeps it in a month's; never counted as up or down).
* The *response-time charts* (24 hours, 7 days) are each whole hour's mean latency
  from the hourly roll-ups (R-M7), up to the last whole hour; an hour without a
  measured result (not monitored, retention merged it into a day) is a gap, not zero.
* Public *timelines* are typed facts (started, detected, cause recorded, resolved) and
  the operators' *updates* (``incident update``: a status and a message written for the
  public): operators' notes and the reasons given for cause changes are never shown, as
  they may name a customer. A window's reason is shown only when every service it names
  is public.
* An incident's *status* (Statuspage's) is ``resolved`` once it has ended, else the status
  of the operators' latest update, else ``investigating``. An update saying "resolved"
  does not end the incident: the probes (or a manual incident's end) say when a service
  was down.
* The *history* on ``/``: the public services' incidents that ended in the last 90 days
  and the maintenance windows completed in them, newest first; each incident has its
  own page (``/incidents/ID``), which the feed and the JSON link. A private incident (a
  customer's project or server) has no public page: its id answers as one that does
  not exist.
* The *page-wide status* (banner, ``indicator``) follows the public services. The hosted
  projects count as a share: they change it only while more than
  ``status_page.hosted_projects_threshold`` percent of them are unavailable (one
  customer's project down among hundreds is that customer's incident, shown on the
  hosted projects' own line and on its customer page, not the provider's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from monitor.actions.inputs import (
    incident_input,
    maintenance_input,
    month_unknown,
    unknown_between,
)
from monitor.config import Settings, Topology
from monitor.errors import NotFound
from monitor.sla import (
    CustomerInput,
    DayStatus,
    Interval,
    Uptime,
    compute_month,
    daily_states,
    local_days,
    month_containing,
    span_uptime,
)
from monitor.store import history, incidents, maintenance, unknown, versions
from monitor.store.incidents import CauseStep, IncidentRecord, UpdateRecord
from monitor.store.maintenance import MaintenanceUpdateRecord, WindowRecord

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = [
    "CHART_SPANS",
    "HISTORY_DAYS",
    "PUBLIC_KINDS",
    "SERVICE_STATES",
    "UPTIME_SPANS",
    "LatencyPoint",
    "LatencySeries",
    "ProjectsSummary",
    "PublicIncident",
    "PublicService",
    "PublicStatus",
    "PublicUpdate",
    "PublicWindow",
    "ServiceState",
    "TimelineEntry",
    "UptimeSpan",
    "history_since",
    "pages_version",
    "public_history",
    "public_incident",
    "public_status",
    "service_states",
]

HISTORY_DAYS = 90
#: The uptime spans each public service shows, and its response-time charts' (hours).
UPTIME_SPANS = (("24h", 24), ("7d", 7 * 24), ("30d", 30 * 24), ("90d", 90 * 24))
CHART_SPANS = (("24h", 24), ("7d", 7 * 24))
PUBLIC_KINDS = ("web_panel", "mobile_api")

ServiceState = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
SERVICE_STATES: tuple[ServiceState, ...] = (
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
)
Indicator = Literal["none", "minor", "major", "critical", "maintenance"]

_FAR = dt.timedelta(days=400)


IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
WindowStatus = Literal["in_progress", "completed"]


@dataclass(frozen=True)
class PublicUpdate:
    """An operator's update (of an incident or a maintenance window) as the public sees
    it: never who posted it."""

    id: int
    at: dt.datetime
    status: IncidentStatus | WindowStatus
    message: str


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    # "started": the first failed check (a probe's or an imported monitor's);
    # "started_manual": the start the operators recorded (incident add).
    kind: Literal["started", "started_manual", "detected", "cause", "resolved", "update"]
    cause: str | None = None  # for "cause": the cause recorded
    update: PublicUpdate | None = None  # for "update": the operators' update


@dataclass(frozen=True)
class PublicIncident:
    id: int
    service: str
    service_name: str
    start: dt.datetime
    detected_at: dt.datetime | None
    end: dt.datetime | None
    cause: str
    timeline: tuple[TimelineEntry, ...]
    status: IncidentStatus
    updates: tuple[PublicUpdate, ...]  # in the order posted

    @property
    def updated_at(self) -> dt.datetime:
        return max([self.start] + [entry.at for entry in self.timeline])


@dataclass(frozen=True)
class PublicWindow:
    id: int
    start: dt.datetime
    end: dt.datetime
    created_at: dt.datetime
    services: tuple[str, ...]  # names of the public services it covers
    hosted_projects: bool  # it also covers some customers' projects or servers
    reason: str | None  # only when every service it names is public
    state: Literal["scheduled", "in_progress", "completed"]
    updates: tuple[PublicUpdate, ...] = ()  # the operators', in the order posted


@dataclass(frozen=True)
class UptimeSpan:
    span: str  # "24h", "7d", "30d", "90d"
    start: dt.datetime
    uptime: Uptime


@dataclass(frozen=True)
class LatencyPoint:
    hour: dt.datetime  # its start
    mean_ms: float | None  # None: no measured result in that hour


@dataclass(frozen=True)
class LatencySeries:
    span: str  # "24h", "7d"
    start: dt.datetime  # the first hour's start
    end: dt.datetime  # the last whole hour's end
    points: tuple[LatencyPoint, ...]  # every hour, oldest first

    @property
    def measured(self) -> list[float]:
        return [p.mean_ms for p in self.points if p.mean_ms is not None]


@dataclass(frozen=True)
class PublicService:
    id: str
    name: str
    kind: str
    state: ServiceState
    since: dt.datetime | None
    month_availability_percent: Decimal  # exact; shown rounded down (R-M6)
    month_downtime_seconds: int
    days: tuple[DayStatus, ...]
    uptime: tuple[UptimeSpan, ...] = ()  # UPTIME_SPANS, in order
    latency: tuple[LatencySeries, ...] = ()  # CHART_SPANS, in order


@dataclass(frozen=True)
class ProjectsSummary:
    total: int
    unavailable: int
    in_maintenance: int
    state: ServiceState


@dataclass(frozen=True)
class PublicStatus:
    provider: str
    timezone: str
    calendar: str
    month: str
    generated_at: dt.datetime
    indicator: Indicator
    description: str
    services: tuple[PublicService, ...]
    projects: ProjectsSummary | None
    incidents: tuple[PublicIncident, ...]  # open, on public services
    maintenance: tuple[PublicWindow, ...]  # running and announced
    past_incidents: tuple[PublicIncident, ...]  # ended in the last 90 days, newest first
    past_maintenance: tuple[PublicWindow, ...]  # completed in the last 90 days, newest first
    blind_since: dt.datetime | None  # the monitor itself is impaired (R-M2)
    monitoring_since: dt.datetime | None  # the first daemon run (before it: unknown)


def _name(topology: Topology, service_id: str) -> str:
    service = topology.services.get(service_id)
    return (service.name if service is not None else None) or service_id


def public_service_ids(topology: Topology) -> list[str]:
    return [s.id for s in topology.services.values() if s.kind in PUBLIC_KINDS]


def service_states(
    topology: Topology,
    service_ids: Iterable[str],
    open_incidents: Sequence[IncidentRecord],
    windows: Sequence[WindowRecord],
    probe_states: Mapping[str, tuple[str, dt.datetime]],
    now: dt.datetime,
) -> dict[str, tuple[ServiceState, dt.datetime | None]]:
    """Each service's state and since when (see the module's decisions); a project is down
    with its server (R-M4)."""
    open_by_service = {i.service_id: i for i in open_incidents}
    running: dict[str, dt.datetime] = {}
    for window in windows:
        if window.start <= now < window.end:
            for service_id in topology.with_hosted_projects(frozenset(window.service_ids)):
                running[service_id] = min(window.start, running.get(service_id, window.start))
    states: dict[str, tuple[ServiceState, dt.datetime | None]] = {}
    for service_id in service_ids:
        service = topology.services.get(service_id)
        server = service.server if service is not None else None
        incident = open_by_service.get(service_id) or (
            open_by_service.get(server) if server is not None else None)
        if service_id in running:
            states[service_id] = ("under_maintenance", running[service_id])
        elif incident is not None:
            states[service_id] = ("major_outage", incident.start)
        elif probe_states.get(service_id, ("up",))[0] == "down":
            states[service_id] = ("degraded_performance", None)
        else:
            states[service_id] = ("operational", None)
    return states


def _projects(
    topology: Topology, states: Mapping[str, tuple[ServiceState, dt.datetime | None]]
) -> ProjectsSummary | None:
    """The hosted projects as one line: ``major_outage`` when all are unavailable,
    ``partial_outage`` when some are."""
    projects = [s.id for s in topology.services.values() if s.kind == "project"]
    if not projects:
        return None
    down = sum(1 for p in projects if states[p][0] == "major_outage")
    kept = sum(1 for p in projects if states[p][0] == "under_maintenance")
    state: ServiceState = (
        "major_outage" if down == len(projects)
        else "partial_outage" if down
        else "under_maintenance" if kept == len(projects)
        else "operational"
    )
    return ProjectsSummary(len(projects), down, kept, state)


_ORDER = {"started": 0, "started_manual": 0, "detected": 1, "cause": 2, "update": 3,
          "resolved": 4}


def _timeline(incident: IncidentRecord, steps: Sequence[CauseStep],
              updates: Sequence[PublicUpdate]) -> tuple[TimelineEntry, ...]:
    entries = [TimelineEntry(incident.start,
                             "started_manual" if incident.source == "manual" else "started")]
    if incident.detected_at is not None:
        entries.append(TimelineEntry(incident.detected_at, "detected"))
    entries += [TimelineEntry(step.at, "cause", step.new_cause) for step in steps]
    entries += [TimelineEntry(update.at, "update", update=update) for update in updates]
    if incident.end is not None:
        entries.append(TimelineEntry(incident.end, "resolved"))
    # Stable: updates posted at the same instant keep the order they were posted in.
    return tuple(sorted(entries, key=lambda entry: (entry.at, _ORDER[entry.kind])))


def _public_update(update: UpdateRecord | MaintenanceUpdateRecord) -> PublicUpdate:
    return PublicUpdate(update.id, update.posted_at, update.status,  # type: ignore[arg-type]
                        update.message)


def _public_incident(
    topology: Topology, incident: IncidentRecord, steps: Sequence[CauseStep],
    posted: Sequence[UpdateRecord] = (),
) -> PublicIncident:
    updates = tuple(_public_update(u) for u in posted)
    status: IncidentStatus = (
        "resolved" if incident.end is not None
        else updates[-1].status if updates else "investigating")  # type: ignore[assignment]
    return PublicIncident(
        incident.id,
        incident.service_id,
        _name(topology, incident.service_id),
        incident.start,
        incident.detected_at,
        incident.end,
        incident.cause,
        _timeline(incident, steps, updates),
        status,
        updates,
    )


def _public_window(topology: Topology, window: WindowRecord, now: dt.datetime,
                   posted: Sequence[MaintenanceUpdateRecord] = ()) -> PublicWindow:
    public = set(public_service_ids(topology))
    names = tuple(_name(topology, s) for s in window.service_ids if s in public)
    private = any(s not in public for s in window.service_ids)
    state: Literal["scheduled", "in_progress", "completed"] = (
        "completed" if window.end <= now else "in_progress" if window.start <= now else "scheduled"
    )
    # Its updates are public when it covers a public service (written for that service's
    # readers and subscribers); a window of customers' projects alone keeps them, as an
    # incident of a project does: they speak of the customer ("Moving ACME's database").
    return PublicWindow(window.id, window.start, window.end, window.created_at, names, private,
                        None if private else window.reason, state,
                        tuple(_public_update(u) for u in posted) if names else ())


async def public_status(db: Database, settings: Settings, *, now: dt.datetime) -> PublicStatus:
    """The status page as of ``now`` (see the module for what is public and why)."""
    topology = settings.topology
    tz, calendar = settings.timezone, settings.calendar
    public = public_service_ids(topology)
    today = now.astimezone(ZoneInfo(tz)).date()
    days = local_days(today, HISTORY_DAYS, tz)
    shown_since = days[0].span.start  # the bars' and the history's first day
    since = min(shown_since, now - dt.timedelta(hours=UPTIME_SPANS[-1][1]))
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    chart_since = hour - dt.timedelta(hours=CHART_SPANS[-1][1])
    period = month_containing(now, calendar, tz)  # type: ignore[arg-type]
    tolerance = settings.monitor.unknown_after
    async with db.reading() as tx:
        found = await incidents.touching(tx, since, now + _FAR, public)
        open_now = await incidents.find(tx, open_only=True)
        windows = await maintenance.touching(tx, since, now + _FAR)
        unseen = await unknown.touching(tx, since, now + _FAR)
        runs = await unknown.sessions_touching(
            tx, since - dt.timedelta(seconds=tolerance), now + _FAR)
        monitoring_since = await unknown.first_session_start(tx)
        probes = await history.latest_states(tx, public)
        rollups = await history.latency_hours(tx, public, chart_since, hour)
        shown_ids = [i.id for i in [*open_now, *found] if i.service_id in public]
        steps = await incidents.cause_history(tx, shown_ids)
        posted = await incidents.updates(tx, shown_ids)
        window_posts = await maintenance.updates(tx, [w.id for w in windows])
    # R-M3 as the reports read it: recorded blindness and the time no daemon watched.
    unseen_days = unknown_between(since, now, now, unseen, runs, tolerance)
    unseen_month = month_unknown(period, now, unseen, runs, tolerance)
    blind = [start for start, end in unseen if end is None]
    states = service_states(topology, topology.services, open_now, windows, probes, now)

    # This month, by the engine: one customer per public service, told of each window
    # when it was announced (see the module).
    month_incidents = [made for made in map(incident_input, found) if made is not None
                       and made.start < period.end
                       and (made.end is None or made.end > period.start)]
    pseudo = {s: f"service:{s}" for s in public}
    month_windows = [
        maintenance_input(w, dict.fromkeys(pseudo.values(), w.created_at), topology)
        for w in windows if w.start < period.end and w.end > period.start
    ]
    report = compute_month(
        period,
        [CustomerInput(pseudo[s], _name(topology, s), Decimal(0), "XXX", frozenset({s}))
         for s in public],
        month_incidents, month_windows, {}, unseen_month, settings.policy, now,
    )

    services = []
    for service_id in public:
        outages = [Interval(i.start, i.end or now) for i in found
                   if i.service_id == service_id and (i.end or now) > i.start]
        kept = [Interval(w.start, w.end) for w in windows
                if service_id in topology.with_hosted_projects(frozenset(w.service_ids))]
        state, state_since = states[service_id]
        month = report.customer(pseudo[service_id])
        services.append(PublicService(
            service_id, _name(topology, service_id), topology.services[service_id].kind,
            state, state_since, month.availability_percent, month.downtime_seconds,
            tuple(daily_states(days, outages, kept, unseen_days, now=now)),
            tuple(UptimeSpan(name, now - dt.timedelta(hours=hours), span_uptime(
                Interval(now - dt.timedelta(hours=hours), now), outages, unseen_days, now=now))
                for name, hours in UPTIME_SPANS),
            tuple(_latency(name, hour, hours, [r for r in rollups if r.target_id == service_id])
                  for name, hours in CHART_SPANS),
        ))
    projects = _projects(topology, states)
    shown = [s.state for s in services]
    threshold = Decimal(str(settings.status_page.hosted_projects_threshold))
    if projects is not None and (projects.state == "under_maintenance" or (
            Decimal(projects.unavailable) * 100 > threshold * projects.total)):
        shown.append(projects.state)
    indicator, description = _indicator(shown, [s.state for s in services])

    def public_incident(incident: IncidentRecord) -> PublicIncident:
        return _public_incident(topology, incident, steps.get(incident.id, ()),
                                posted.get(incident.id, ()))

    ended = [i for i in found if i.end is not None and i.end > shown_since]
    return PublicStatus(
        provider=settings.provider.name,
        timezone=tz,
        calendar=calendar,
        month=period.label,
        generated_at=now,
        indicator=indicator,
        description=description,
        services=tuple(services),
        projects=projects,
        incidents=tuple(public_incident(i) for i in open_now if i.service_id in public),
        maintenance=tuple(_public_window(topology, w, now, window_posts.get(w.id, ()))
                          for w in windows if w.end > now),
        past_incidents=tuple(public_incident(i) for i in sorted(
            ended, key=lambda i: (i.end or now, i.id), reverse=True)),
        past_maintenance=tuple(_public_window(topology, w, now, window_posts.get(w.id, ()))
                               for w in sorted(
            (w for w in windows if shown_since < w.end <= now),
            key=lambda w: (w.end, w.id), reverse=True)),
        blind_since=min(blind) if blind else None,
        monitoring_since=monitoring_since,
    )


def _latency(span: str, end: dt.datetime, hours: int,
             rollups: Sequence[history.RollupRecord]) -> LatencySeries:
    """The ``hours`` whole hours before ``end``, each its mean latency over the results
    measured in it (the roll-up's histogram counts them)."""
    by_hour = {r.hour.astimezone(dt.UTC): r for r in rollups}
    start = end - dt.timedelta(hours=hours)
    points = []
    for number in range(hours):
        at = start + dt.timedelta(hours=number)
        found = by_hour.get(at)
        measured = sum(int(v) for v in found.buckets.values()) if found is not None else 0
        points.append(LatencyPoint(at, found.sum_ms / measured if found and measured else None))
    return LatencySeries(span, start, end, tuple(points))


def _indicator(
    states: Sequence[ServiceState], public: Sequence[ServiceState]
) -> tuple[Indicator, str]:
    """The page's one-line summary, in Statuspage's words."""
    if public and all(s == "major_outage" for s in public):
        return "critical", "Major System Outage"
    if "major_outage" in states:
        return "major", "Partial System Outage"
    if "partial_outage" in states or "degraded_performance" in states:
        return "minor", "Minor Service Outage"
    if "under_maintenance" in states:
        return "maintenance", "Service Under Maintenance"
    return "none", "All Systems Operational"


def history_since(settings: Settings, now: dt.datetime, days: int = HISTORY_DAYS) -> dt.datetime:
    """Where the public history begins: the start of the oldest of the ``days`` days the
    status page shows (in the provider's zone), so that every entry is on the page it
    links to. An empty feed was last changed no later than this."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    return local_days(today, days, settings.timezone)[0].span.start


async def public_history(
    db: Database, settings: Settings, *, now: dt.datetime, days: int = HISTORY_DAYS
) -> tuple[list[PublicIncident], list[PublicWindow]]:
    """Incidents of public services and maintenance windows of the last ``days`` days (and
    windows announced ahead), newest first: the Atom feed's entries."""
    topology = settings.topology
    public = public_service_ids(topology)
    since = history_since(settings, now, days)
    async with db.reading() as tx:
        found = await incidents.touching(tx, since, now + _FAR, public)
        windows = await maintenance.touching(tx, since, now + _FAR)
        steps = await incidents.cause_history(tx, [i.id for i in found])
        posted = await incidents.updates(tx, [i.id for i in found])
        window_posts = await maintenance.updates(tx, [w.id for w in windows])
    shown = [_public_incident(topology, i, steps.get(i.id, ()), posted.get(i.id, ()))
             for i in found]
    kept = [_public_window(topology, w, now, window_posts.get(w.id, ())) for w in windows]
    return (sorted(shown, key=lambda i: (i.start, i.id), reverse=True),
            sorted(kept, key=lambda w: (w.start, w.id), reverse=True))



async def public_incident(
    db: Database, settings: Settings, *, incident_id: int, now: dt.datetime
) -> PublicIncident:
    """One incident of a public service as the public sees it (its page,
    ``/incidents/ID``). An incident of a customer's project or server, or of a service
    no longer public, is a NotFound naming ``incident_id``, as one that does not
    exist: its existence is private too."""
    topology = settings.topology
    found = None
    if 0 < incident_id < 2**31:
        async with db.reading() as tx:
            found = await incidents.get(tx, incident_id)
            if found is not None and found.service_id in public_service_ids(topology):
                steps = await incidents.cause_history(tx, [incident_id])
                posted = await incidents.updates(tx, [incident_id])
                return _public_incident(topology, found, steps.get(incident_id, ()),
                                        posted.get(incident_id, ()))
    raise NotFound("incident_id", incident_id, "the id of a public incident (see the "
                     "status page's history)")


async def pages_version(db: Database, settings: Settings, *,
                        customer: str | None = None, probes: bool = True) -> object:
    """What the public pages (or ``customer``'s page) show has changed when this has: the
    rows they read (:func:`monitor.store.versions.pages_version`) with the latest probe
    state of each service they show. The pages' cache renders a page again only then
    (or when the minute or the settings change: :mod:`monitor.http.cache`). Without
    ``probes``, the rows alone: what a month's report reads (no probe's state)."""
    topology = settings.topology
    shown = set(public_service_ids(topology)) if probes else set()
    if probes and customer is not None and customer in topology.customers:
        shown |= topology.dependencies(customer)
    async with db.reading() as tx:
        return await versions.pages_version(tx, sorted(shown))
