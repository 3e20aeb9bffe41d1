"""Counted, excluded and unknown time of a customer in a month (R-M3, R-M4, R-EX1..R-EX5).

Work is split so that no customer scans every incident: incidents are grouped
by service once (:func:`prepare_services`), then each customer merges the
prepared sets of the services it depends on (:func:`customer_downtime`).

The engine works on whole seconds (R-M6): every instant is truncated to its
second on the way in (:func:`monitor.sla.intervals.whole_second`), so all sums
are exact integers and ``counted + excluded == downtime`` holds to the second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.sla.deadlines import late_from, notice_due
from monitor.sla.inputs import Cause, CustomerInput, IncidentInput, MaintenanceInput
from monitor.sla.intervals import (
    Interval,
    intersect,
    seconds_outside,
    subtract,
    total_seconds,
    union,
    whole_second,
)
from monitor.sla.policy import Policy

__all__ = [
    "EXCLUSION_REASONS",
    "CustomerDowntime",
    "ExclusionReason",
    "PreparedIncident",
    "ServiceDowntime",
    "ServiceView",
    "ServiceViews",
    "customer_downtime",
    "incident_interval",
    "prepare_services",
]

ExclusionReason = Literal[
    "maintenance", "customer_request", "customer_action", "external", "non_payment"]
#: Excluded time covered by several reasons is attributed to the first of them
#: in this order, which is rule-id order R-EX1, R-EX2, R-EX3, R-EX4, R-EX5; so
#: ``excluded_by_reason`` always sums to ``excluded_seconds``.
EXCLUSION_REASONS: tuple[ExclusionReason, ...] = (
    "maintenance", "customer_request", "customer_action", "external", "non_payment")


def incident_interval(incident: IncidentInput, now: datetime) -> Interval | None:
    """The time an incident has lasted so far: an open one runs until ``now`` (R-M3)."""
    start = whole_second(incident.start)
    end = now if incident.end is None else min(whole_second(incident.end), now)
    return Interval(start, end) if start < end else None


@dataclass(frozen=True, slots=True)
class PreparedIncident:
    """An incident as every customer of its service sees it this month."""

    incident: IncidentInput
    lasted: Interval  # its whole extent so far, whole seconds (R-N1 looks past the month)
    inside: Interval  # its part inside the month window (R-M4, R-M5 split)


@dataclass(frozen=True, slots=True)
class ServiceDowntime:
    """One service's incidents inside the month window, prepared once for all customers."""

    incidents: tuple[PreparedIncident, ...]  # by start, then id
    any_cause: list[Interval]  # every incident, whatever its cause
    provider: list[Interval]  # cause ``provider``: counted unless excluded otherwise
    by_excluded_cause: dict[Cause, list[Interval]]  # R-EX2, R-EX3, R-EX4


def prepare_services(
    incidents: Iterable[IncidentInput], window: Interval | None, now: datetime
) -> dict[str, ServiceDowntime]:
    """Group incidents by service and merge each service's intervals (R-M4)."""
    grouped: dict[str, list[PreparedIncident]] = defaultdict(list)
    if window is None:
        return {}
    for incident in incidents:
        lasted = incident_interval(incident, now)
        inside = lasted.overlap(window) if lasted is not None else None
        if lasted is not None and inside is not None:
            grouped[incident.service_id].append(PreparedIncident(incident, lasted, inside))
    prepared: dict[str, ServiceDowntime] = {}
    for service_id, service_incidents in grouped.items():
        service_incidents.sort(key=lambda p: (p.inside.start, p.incident.id))
        by_cause: dict[Cause, list[Interval]] = defaultdict(list)
        for p in service_incidents:
            by_cause[p.incident.cause].append(p.inside)
        provider = union(by_cause.pop("provider", ()))
        prepared[service_id] = ServiceDowntime(
            incidents=tuple(service_incidents),
            any_cause=union(p.inside for p in service_incidents),
            provider=provider,
            by_excluded_cause={cause: union(parts) for cause, parts in sorted(by_cause.items())},
        )
    return prepared


class ServiceViews:
    """Each service as seen through one set of announced maintenance windows (R-EX1).

    Customers whose notices put the same windows in time see a service the same
    way, so its counted and excluded parts are computed once per set of windows
    (once for the shared web panel, not once per customer) and cached here.
    """

    def __init__(self, services: Mapping[str, ServiceDowntime],
                 maintenance: Iterable[MaintenanceInput], policy: Policy) -> None:
        self._services = services
        self._windows: dict[str, list[tuple[MaintenanceInput, datetime, Interval]]] = (
            defaultdict(list))
        for window in sorted(maintenance, key=lambda m: m.id):
            start, end = whole_second(window.start), whole_second(window.end)
            if end <= start:
                continue  # shorter than a second: excludes nothing at whole seconds
            span = Interval(start, end)
            for service_id in window.service_ids:
                # R-EX1 / D-3: the notice must arrive by start - 48 h (exactly 48 h is in
                # time): before the first late instant.
                self._windows[service_id].append(
                    (window, late_from(notice_due(start, policy)), span))
        self._cache: dict[tuple[str, tuple[int, ...]], ServiceView] = {}

    def view(self, service_id: str, customer_id: str) -> ServiceView | None:
        """``service_id`` as ``customer_id`` sees it; None if it had no outage."""
        service = self._services.get(service_id)
        if service is None:
            return None
        announced = tuple(
            window.id for window, late, _ in self._windows.get(service_id, ())
            if (noticed := window.notices.get(customer_id)) is not None and noticed < late)
        key = (service_id, announced)
        view = self._cache.get(key)
        if view is None:
            spans = [span for window, _, span in self._windows[service_id]
                     if window.id in announced] if announced else []
            view = self._cache[key] = ServiceView.build(service, spans, announced)
        return view


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service's month with one set of announced maintenance windows taken out."""

    service: ServiceDowntime
    windows: list[Interval]  # announced in time (R-EX1)
    counted: list[Interval]  # provider outages outside the windows
    in_maintenance: list[Interval]  # outages inside the windows
    maintenance_ids: tuple[int, ...]  # windows that excluded some downtime (R-C3 evidence)
    counted_inside: tuple[int, ...]  # per incident: counted seconds inside the month
    counted_lasted: tuple[int, ...]  # per incident: counted seconds over its whole extent

    @classmethod
    def build(cls, service: ServiceDowntime, spans: list[Interval],
              announced: tuple[int, ...]) -> ServiceView:
        windows = union(spans)
        if not windows:
            inside = tuple(p.inside.seconds if p.incident.cause == "provider" else 0
                           for p in service.incidents)
            lasted = tuple(p.lasted.seconds if p.incident.cause == "provider" else 0
                           for p in service.incidents)
            return cls(service, [], service.provider, [], (), inside, lasted)
        # R-EX1: only the overlap with an announced window is excluded; an overrun
        # past its end stays counted.
        in_maintenance = intersect(service.any_cause, windows)
        used = tuple(window_id for window_id, span in zip(announced, spans, strict=True)
                     if intersect(in_maintenance, [span]))

        def counted(span: Interval, cause: Cause) -> int:
            return seconds_outside(span, windows) if cause == "provider" else 0

        return cls(service, windows, subtract(service.provider, windows), in_maintenance, used,
                   tuple(counted(p.inside, p.incident.cause) for p in service.incidents),
                   tuple(counted(p.lasted, p.incident.cause) for p in service.incidents))


@dataclass(frozen=True, slots=True)
class CustomerDowntime:
    """A customer's month, split into counted and excluded downtime and unknown time."""

    downtime: list[Interval]  # every outage of a depended-on service, counted or not
    counted: list[Interval]  # R-M4: what availability and tiers are computed from
    excluded_by_reason: dict[str, int]  # keys: EXCLUSION_REASONS, in that order
    unknown_seconds: int  # R-M3
    views: dict[str, ServiceView]  # the depended-on services that had outages
    maintenance_ids: tuple[int, ...]  # windows that excluded some downtime (R-C3 evidence)
    paid_until: datetime | None  # R-EX5: time from here on is not counted

    @property
    def counted_seconds(self) -> int:
        return total_seconds(self.counted)

    @property
    def excluded_seconds(self) -> int:
        return sum(self.excluded_by_reason.values())

    def incident_counted(self, service_id: str, index: int, *, whole_incident: bool) -> int:
        """Counted seconds of the service's ``index``-th incident for this customer:
        inside the month, or over its ``whole_incident`` extent (R-N1)."""
        view = self.views[service_id]
        seconds = (view.counted_lasted if whole_incident else view.counted_inside)[index]
        if self.paid_until is None or seconds == 0:
            return seconds
        prepared = view.service.incidents[index]
        span = prepared.lasted if whole_incident else prepared.inside
        if self.paid_until >= span.end:
            return seconds
        if self.paid_until <= span.start:
            return 0
        # R-EX5: only the part before the subscription lapsed is counted.
        return seconds_outside(Interval(span.start, self.paid_until), view.windows)


def customer_downtime(
    customer: CustomerInput,
    views: ServiceViews,
    unknown_in_window: Sequence[Interval],
    window: Interval | None,
) -> CustomerDowntime:
    """R-M4: union of the outages of every depended-on service, overlaps counted
    once, minus excluded time (R-EX1..R-EX5); R-M3: unknown time (already clipped
    to the window) not covered by any outage."""
    any_cause: list[Interval] = []
    counted_parts: list[Interval] = []
    reasons: dict[str, list[Interval]] = defaultdict(list)
    seen: dict[str, ServiceView] = {}
    for service_id in sorted(customer.services):
        view = views.view(service_id, customer.id)
        if view is None:
            continue
        seen[service_id] = view
        any_cause += view.service.any_cause
        counted_parts += view.counted
        reasons["maintenance"] += view.in_maintenance
        for cause, parts in view.service.by_excluded_cause.items():
            reasons[cause] += parts
    downtime = union(any_cause)
    counted = union(counted_parts)
    paid_until = None if customer.paid_until is None else whole_second(customer.paid_until)
    if paid_until is not None and window is not None and paid_until < window.end:
        # R-EX5: time after the subscription lapsed is not counted.
        lapse = Interval(max(paid_until, window.start), window.end)
        reasons["non_payment"] = [lapse]
        counted = subtract(counted, [lapse])
    return CustomerDowntime(
        downtime=downtime,
        counted=counted,
        excluded_by_reason=_attribute(subtract(downtime, counted), reasons),
        unknown_seconds=total_seconds(subtract(unknown_in_window, downtime))
        if unknown_in_window else 0,
        views=seen,
        maintenance_ids=tuple(sorted({i for view in seen.values() for i in view.maintenance_ids})),
        paid_until=paid_until,
    )


def _attribute(excluded: list[Interval], reasons: Mapping[str, list[Interval]]) -> dict[str, int]:
    """Seconds of ``excluded`` per reason, each second to the first reason in
    EXCLUSION_REASONS order that covers it, so the values sum to the total."""
    by_reason: dict[str, int] = dict.fromkeys(EXCLUSION_REASONS, 0)
    for reason in EXCLUSION_REASONS:
        if not excluded:
            break
        parts = reasons.get(reason)
        attributed = intersect(excluded, parts) if parts else None
        if attributed:
            by_reason[reason] = total_seconds(attributed)
            excluded = subtract(excluded, attributed)
    assert not excluded, "every excluded second has a reason"
    return by_reason
