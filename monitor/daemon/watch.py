"""From probe results to incidents: thresholds, blindness, server coverage (R-M1, R-M2, R-M4).

:class:`Watch` runs each target's probe when the schedule says so and decides
what every result means before the detector counts it:

* **Blind (R-M2)**: the monitor itself cannot see (:mod:`monitor.daemon.blindness`):
  its connectivity canaries fail (every result), or its resolver is broken (the
  DNS failures of targets probed by host name): the result counts as
  ``unknown`` and no incident opens.
* **Covered (R-M4)**: a project whose server is down is down too, but the
  incident is the server's: one incident and one alert per customer, not one
  per project. Before a project's streak would open an incident, its server
  is checked now; while the server's incident is open the project's failures
  are recorded but do not count towards a project incident.

Then the detector (:mod:`monitor.daemon.detector`, pure) turns counted results
into incident events, which go to the :class:`~monitor.daemon.journal.IncidentJournal`:
written in order (:mod:`monitor.store.incidents`) and handed to the listener (the
notifier), retried until they are, so a database that is locked or away delays an
incident and its e-mails but never loses them (issue 13). Every result goes to the probe
history (:class:`monitor.daemon.recorder.Recorder`) and the metrics.

A reload is prepared first (:meth:`Watch.prepare` builds every new or changed
probe, reading ``tls.ca_file``; it may fail and changes nothing) and then
applied (:meth:`Watch.apply`, which cannot fail): detector state of kept
targets stays.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from yarl import URL

from monitor.clock import Clock
from monitor.config.schema import HTTPProbe
from monitor.config.settings import Settings
from monitor.config.topology import Target, Topology
from monitor.daemon.blindness import Blindness, Lookup
from monitor.daemon.cluster import Cluster, CycleResult, vote
from monitor.daemon.detector import (
    Blinded,
    Closed,
    Detector,
    Event,
    Opened,
    Reopened,
    TargetState,
)
from monitor.daemon.journal import IncidentJournal, Intent
from monitor.daemon.metrics import PHASES, STATE_VALUE, DaemonMetrics
from monitor.daemon.recorder import Recorder
from monitor.probes import CertificateCheck, Probe, ProbeResult
from monitor.redact import redact
from monitor.sla import within
from monitor.store import incidents

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["FLAP_WINDOW", "RESOLVER_CANARY_TIMEOUT", "IncidentListener", "Watch", "WatchPlan"]

log = logging.getLogger("monitor.monitor")

FLAP_WINDOW = dt.timedelta(minutes=5)
# R-M2: the resolver canary's lookup gives up after this (a resolver that does not answer).
RESOLVER_CANARY_TIMEOUT = 5.0


class IncidentListener(Protocol):
    async def on_incident_opened(self, incident_id: int) -> None: ...

    async def on_incident_closed(self, incident_id: int) -> None: ...


ProbeFactory = Callable[[Target], Probe]
CertificateCheckFactory = Callable[[Target], CertificateCheck | None]
# A name lookup through the probes' resolver, given up after some seconds:
# (answered, detail, seconds) (monitor.probes.ProbeSessions.lookup).
ResolverLookup = Callable[[str, float], Awaitable[tuple[bool, str, float]]]


def by_host_name(target: Target) -> bool:
    """Whether probing ``target`` asks the resolver: its host is a name, not an IP address."""
    probe = target.probe
    host = URL(probe.url).host if isinstance(probe, HTTPProbe) else probe.host
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class WatchPlan:
    """A configuration built and checked, ready to be applied without failing."""

    topology: Topology
    targets: dict[str, Target]
    probes: dict[str, Probe]  # new or changed targets only
    certificate_checks: dict[str, CertificateCheck | None]  # new or changed targets only
    detection_deadline: float  # D-1, seconds
    canary_quorum: float  # R-M2
    resolver_canary: str | None  # R-M2: the name the resolver canary looks up


class Watch:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        recorder: Recorder,
        metrics: DaemonMetrics,
        clock: Clock,
        probe_factory: ProbeFactory,
        certificate_check_factory: CertificateCheckFactory | None = None,
        listener: IncidentListener | None = None,
        resolver_lookup: ResolverLookup | None = None,
        cluster: Cluster | None = None,
        probes_here: Callable[[Target], bool] | None = None,
    ) -> None:
        self.db = db
        # Issue 15: in a cluster, only the targets this node leases are probed, and the
        # detector's events are our vantage's votes (monitor.daemon.cluster.vote).
        self.cluster = cluster
        self.views: dict[str, str] = {}  # target id -> our vantage's word, as written
        # Which targets get a probe object in this process (all, unless probe workers probe
        # them: monitor.daemon.workers.probed_here); results of the others come to handle().
        self.probes_here = probes_here
        self.resolver_lookup = resolver_lookup
        self.recorder = recorder
        self.metrics = metrics
        self.clock = clock
        self.probe_factory = probe_factory
        self.certificate_check_factory = certificate_check_factory
        self.listener = listener
        self.blindness = Blindness(db, metrics)
        self.certificate_checks: dict[str, CertificateCheck] = {}
        self._certificate_problem: dict[str, bool] = {}
        self.targets: dict[str, Target] = {}
        self.canaries: list[Target] = []
        self.by_name: frozenset[str] = frozenset()  # watched targets probed by host name
        self.probes: dict[str, Probe] = {}
        self.detectors: dict[str, Detector] = {}
        self.open_incidents: dict[str, int] = {}  # target id -> incident id (written)
        self.last_incident: dict[str, int] = {}  # for flap reopening
        self.journal = IncidentJournal(self._perform, pending_gauge=metrics.incident_writes_pending)
        self.apply(self.prepare(settings))

    # --- configuration -------------------------------------------------------------------------

    def prepare(self, settings: Settings) -> WatchPlan:
        """Build the probe of every new or changed target; may raise (a ``tls.ca_file`` that
        cannot be read is a ConfigError) and changes nothing."""
        topology = settings.topology
        wanted = {t.id: t for t in topology.targets()}
        probes: dict[str, Probe] = {}
        checks: dict[str, CertificateCheck | None] = {}
        for target_id, target in wanted.items():
            if self.targets.get(target_id) == target:
                continue
            if self.probes_here is None or self.probes_here(target):
                probes[target_id] = self.probe_factory(target)
            factory = self.certificate_check_factory
            checks[target_id] = factory(target) if factory is not None else None
        return WatchPlan(
            topology,
            wanted,
            probes,
            checks,
            float(settings.policy.detection_deadline_seconds),
            settings.monitor.canary_quorum,
            settings.monitor.resolver.canary,
        )

    def apply(self, plan: WatchPlan) -> None:
        """Install (or, on SIGHUP, replace) the targets; detector state of kept targets stays."""
        self.topology = plan.topology
        self.deadline = plan.detection_deadline
        for target_id in set(self.targets) - set(plan.targets):
            self.probes.pop(target_id, None)
            self.detectors.pop(target_id, None)
            self.certificate_checks.pop(target_id, None)
            self.recorder.forget(target_id)
        for target_id, target in plan.targets.items():
            if self.targets.get(target_id) != target and target_id not in plan.probes:
                self.probes.pop(target_id, None)  # changed, and probed elsewhere now
        self.probes.update(plan.probes)
        for target_id, check in plan.certificate_checks.items():
            if check is not None:
                self.certificate_checks[target_id] = check
            else:
                self.certificate_checks.pop(target_id, None)
        # In a cluster an incident is a quorum's, not this detector's: no flap reopening.
        flap_window = FLAP_WINDOW if self.cluster is None else dt.timedelta(0)
        for target_id, target in plan.targets.items():
            old = self.detectors.get(target_id)
            self.detectors[target_id] = Detector(
                target.probe.fail_after,
                target.probe.recover_after,
                flap_window,
                state=old.state if old is not None else None,
            )
        self.targets = dict(plan.targets)
        self.canaries = [t for t in self.targets.values() if t.kind == "canary"]
        self.by_name = frozenset(
            t.id for t in self.targets.values() if t.kind != "canary" and by_host_name(t)
        )
        self.resolver_canary = plan.resolver_canary
        self.blindness.configure(
            [c.id for c in self.canaries],
            plan.canary_quorum,
            self.by_name,
            self._lookup(plan.resolver_canary),
        )
        self.metrics.targets.set(len(self.targets))
        if self.cluster is not None:
            self.cluster.set_targets(
                {t.id: t.probe.interval for t in self.targets.values() if t.kind != "canary"},
                everywhere=[c.id for c in self.canaries],
            )

    def leases_changed(self, change: CycleResult) -> None:
        """Issue 15: targets this node now probes start afresh (a new run of history, the
        detector at our vantage's last word); those it lost are forgotten unwritten."""
        cluster = self.cluster
        if cluster is None:
            return
        for target_id in change.lost:
            self.recorder.discard(cluster.history_key(target_id))
            self.views.pop(target_id, None)
        for target_id in change.gained:
            self.recorder.discard(cluster.history_key(target_id))
            view = change.views.get(target_id)
            if view is not None:
                self.views[target_id] = view
            voting_down = view == "down" or (view is None and target_id in change.open_incidents)
            detector = self.detectors.get(target_id)
            if detector is not None:
                detector.state = TargetState(incident_open=voting_down)

    def _lookup(self, name: str | None) -> Lookup | None:
        """The resolver canary's lookup of ``name`` (R-M2), or None without one."""
        resolve = self.resolver_lookup
        if name is None or resolve is None:
            return None

        async def lookup() -> tuple[bool, str]:
            answered, detail, _ = await resolve(name, RESOLVER_CANARY_TIMEOUT)
            return answered, detail

        return lookup

    async def check_resolver(self) -> bool | None:
        """The resolver canary's periodic lookup (R-M2); None without a canary."""
        return await self.blindness.check_resolver(self.clock.now())

    async def load_state(self) -> None:
        """Open incidents continue after a restart (R-M3): state lives in the database."""
        async with self.db.reading() as tx:
            found = await incidents.open_by_probe(tx)
        for target_id, incident_id in found.items():
            self.open_incidents[target_id] = incident_id
            self.last_incident[target_id] = incident_id
            detector = self.detectors.get(target_id)
            if detector is not None:
                detector.state = TargetState(incident_open=True)
        self._update_open_metric()

    # --- results -------------------------------------------------------------------------------

    async def run_probe(self, target_id: str) -> None:
        cluster = self.cluster
        if cluster is not None and cluster.holds(target_id) is None:
            target = self.targets.get(target_id)
            if target is None or target.kind != "canary":
                return  # another node of our vantage probes it (issue 15)
        probe = self.probes.get(target_id)
        if probe is not None:
            await self.handle(await probe.check())

    async def handle(self, result: ProbeResult) -> None:
        target = self.targets.get(result.target_id)
        if target is None:
            return  # removed by a reload while it ran
        blindness = self.blindness
        if target.kind == "canary":
            self._record(target, result, result.state)
            await blindness.canary_result(result)
            return
        state = result.state
        if target.id in self.by_name:
            await blindness.result(result)  # what it says about our resolver (R-M2)
        # What the detector counts: the result, "unknown" when we are blind (R-M2), or
        # "covered" when the project's server is down (R-M4; not counted either way).
        counted: str = state
        if state == "down":
            detector = self.detectors[target.id]
            if blindness.unknown(result):
                counted = "unknown"
            elif detector.would_open("down"):
                if await blindness.confirm(self._check_canaries):
                    counted = "unknown"
                elif blindness.is_dns_failure_by_name(result) and await blindness.confirm_resolver(
                    self.clock.now()
                ):
                    counted = "unknown"
                elif await self._covered_by_server(target, confirm=True):
                    counted = "covered"
            elif await self._covered_by_server(target, confirm=False):
                counted = "covered"
        recorded = "unknown" if counted == "unknown" else state
        self._record(target, result, recorded)
        events = self.detectors[target.id].observe(
            state if counted == state else "unknown",
            result.at,
            self.clock.now(),
        )
        for event in events:
            await self._apply(target, event)
        if self.cluster is not None and not events:
            self._revote(target, counted)

    def _revote(self, target: Target, counted: str) -> None:
        """Issue 15: a blind vantage's word becomes unknown (no vote, R-M2); when it sees
        again a target still failing past ``fail_after``, it votes down again (its new
        streak's bounds, R-M1)."""
        view = self.views.get(target.id)
        state = self.detectors[target.id].state
        if counted == "unknown" and view == "down":
            self.views[target.id] = "unknown"  # written by the journal, in order
            self._apply_now(target, Blinded(self.clock.now()))
        elif (view == "unknown" and counted == "down" and state.incident_open
              and state.streak_state == "down" and state.streak >= target.probe.fail_after
              and state.streak_started_at is not None):
            self.views[target.id] = "down"
            self._apply_now(target, Opened(state.streak_started_at, state.streak_bound,
                                           detected_at=self.clock.now()))

    def _apply_now(self, target: Target, event: Event) -> None:
        self.journal.add(Intent(target.id, event))

    async def _check_canaries(self) -> None:
        results = await asyncio.gather(*(self.probes[c.id].check() for c in self.canaries))
        for result in results:
            await self.handle(result)

    def _record(self, target: Target, result: ProbeResult, state: str) -> None:
        total = result.total
        latency_ms = total * 1000 if total is not None else None
        failure = None
        if state != "up":
            failure = {
                "failure_class": result.failure_class or "error",
                # A probe URL's user-info never reaches the evidence (issue 13).
                "detail": redact(result.detail or ""),
                "http_status": result.http_status,
                "latency_ms": latency_ms,
                "timings": {
                    p: getattr(result, p) for p in PHASES if getattr(result, p) is not None
                },
            }
        key = target.id if self.cluster is None else self.cluster.history_key(target.id)
        self.recorder.record(key, state, result.at, latency_ms, failure)
        # Once per probe: plain dict stores and cached label children (monitor.daemon.metrics).
        metrics = self.metrics
        metrics.probe_state.set((target.id, target.kind), STATE_VALUE[state])
        metrics.result_counter(state, result.failure_class or "").inc()
        if total is not None:
            metrics.probe_last_duration.set((target.id,), total)
        for phase, value in (
            ("dns", result.dns),
            ("connect", result.connect),
            ("tls", result.tls),
            ("first_byte", result.first_byte),
            ("total", total),
        ):
            if value is not None:
                metrics.phase_histogram(phase).observe(value)
        if result.cert_not_after is not None:
            metrics.certificate_expiry.set((target.id,), result.cert_not_after.timestamp())

    # --- certificates ----------------------------------------------------------------------------

    def certificate_targets(self) -> list[tuple[str, float]]:
        """(id, cadence) of the HTTPS targets whose certificate is read on its own schedule."""
        return [
            (target_id, self.targets[target_id].probe.tls.cert_check_interval)  # type: ignore[union-attr]
            for target_id in self.certificate_checks
        ]

    async def run_certificate_check(self, target_id: str) -> None:
        """Days left even for an expired or invalid certificate; warns on a change."""
        check = self.certificate_checks.get(target_id)
        if check is None:
            return
        if self.cluster is not None and self.cluster.holds(target_id) is None:
            return  # the node probing it reads its certificate (issue 15)
        result = await check.check()
        if result.not_after is not None:
            self.metrics.certificate_expiry.labels(target_id).set(result.not_after.timestamp())
        if result.verify_ok is not None:
            self.metrics.certificate_valid.labels(target_id).set(1 if result.verify_ok else 0)
        problem = bool(result.expiring or result.verify_ok is False)
        if problem != self._certificate_problem.get(target_id, False):
            self._certificate_problem[target_id] = problem
            log.warning(
                "certificate needs attention" if problem else "certificate fine again",
                extra={
                    "target": target_id,
                    "days_left": result.days_left,
                    "verify_error": result.verify_error,
                    "not_after": result.not_after.isoformat() if result.not_after else None,
                },
            )

    # --- server coverage (R-M4) ----------------------------------------------------------------

    async def _covered_by_server(self, target: Target, confirm: bool) -> bool:
        if target.kind != "project":
            return False
        server = self.topology.services[target.id].server
        if server is None:
            return False
        server_detector = self.detectors.get(server)
        if server_detector is not None and server_detector.state.incident_open:
            return True  # written, or waiting in the journal to be
        if not confirm or server not in self.probes:
            return False
        result = await self.probes[server].check()
        await self.handle(result)
        return result.state == "down"

    # --- incidents -----------------------------------------------------------------------------

    async def _apply(self, target: Target, event: Event) -> None:
        """Hand a change to the journal: written and announced in order, retried until it is."""
        self.journal.add(Intent(target.id, event))

    async def _perform(self, intent: Intent) -> None:
        """The next step of an intent: the write, then the listener. Raises to be retried."""
        event = intent.event
        if not intent.written:
            incident_id = await self._write(intent.target_id, event)
            intent.incident_id, intent.written = incident_id, True
            if incident_id is None or isinstance(event, Reopened) or self.listener is None:
                intent.notified = True
            self._written(intent.target_id, event, incident_id)
        if not intent.notified:
            assert intent.incident_id is not None and self.listener is not None
            call = (
                self.listener.on_incident_opened
                if isinstance(event, Opened)
                else self.listener.on_incident_closed
            )
            await call(intent.incident_id)  # the alert is queued in the database
            intent.notified = True

    async def _write(self, target_id: str, event: Event) -> int | None:
        """The change in the database, idempotent (a retry after a commit whose answer was
        lost writes nothing twice); the incident's id, or None when there is nothing to do."""
        now = self.clock.now()
        if self.cluster is not None:
            return await self._vote(target_id, event, now)
        async with self.db.transaction() as tx:
            if isinstance(event, Opened):
                return await incidents.open_probe_incident(
                    tx,
                    service_id=target_id,
                    start=event.start,
                    start_bound=event.start_bound,
                    detected_at=event.detected_at,
                    created_at=now,
                )
            if isinstance(event, Reopened) and target_id in self.last_incident:
                incident_id = self.last_incident[target_id]
                await incidents.reopen(tx, incident_id)
                return incident_id
            if isinstance(event, Closed) and target_id in self.open_incidents:
                incident_id = self.open_incidents[target_id]
                await incidents.close(tx, incident_id, end=event.end, end_bound=event.end_bound)
                return incident_id
        return None

    async def _vote(self, target_id: str, event: Event, now: dt.datetime) -> int | None:
        """Issue 15: the event as our vantage's vote; the incident it opened or closed."""
        assert self.cluster is not None
        if isinstance(event, Opened):
            state, since, bound, detected = "down", event.start, event.start_bound, event.detected_at
        elif isinstance(event, Closed):
            state, since, bound, detected = "up", event.end, event.end_bound, now
        elif isinstance(event, Blinded):
            state, since, bound, detected = "unknown", event.at, None, event.at
        else:
            return None  # no flap reopening in a cluster
        async with self.db.transaction() as tx:
            incident_id, written = await vote(
                self.cluster, tx, target_id, state, since, bound, detected, now
            )
        if written:
            self.views[target_id] = state
        if incident_id is not None and isinstance(event, Closed):
            self.open_incidents[target_id] = incident_id  # for _written's bookkeeping
        return incident_id

    def _written(self, target_id: str, event: Event, incident_id: int | None) -> None:
        """Bookkeeping, metrics and the log line once a change is in the database."""
        if incident_id is None:
            return
        target = self.targets.get(target_id)
        kind = target.kind if target is not None else "removed"
        if isinstance(event, Closed):
            self.open_incidents.pop(target_id, None)
            log.warning(
                "incident closed",
                extra={"incident": incident_id, "target": target_id, "end": event.end.isoformat()},
            )
            self._update_open_metric()
            return
        self.open_incidents[target_id] = incident_id
        self.last_incident[target_id] = incident_id
        self._update_open_metric()
        if isinstance(event, Opened):
            latency = (event.detected_at - event.start).total_seconds()
            self.metrics.detection_latency.observe(latency)
            if target is not None and target.carries_d1 and not within(latency, self.deadline):
                self.metrics.detection_breaches.inc()  # D-1
            log.warning(
                "incident opened",
                extra={
                    "incident": incident_id,
                    "target": target_id,
                    "kind": kind,
                    "start": event.start.isoformat(),
                    "detection_seconds": round(latency, 3),
                },
            )
        else:
            log.warning(
                "incident reopened (flap)", extra={"incident": incident_id, "target": target_id}
            )

    def _update_open_metric(self) -> None:
        counts: dict[str, int] = {}
        for target_id in self.open_incidents:
            target = self.targets.get(target_id)
            kind = target.kind if target is not None else "removed"
            counts[kind] = counts.get(kind, 0) + 1
        for kind in ("server", "web_panel", "project", "mobile_api", "removed"):
            self.metrics.open_incidents.labels(kind).set(counts.get(kind, 0))

    async def close(self, at: dt.datetime) -> None:
        """On shutdown: incident changes get a last chance to be written; an unknown interval
        in progress ends with us."""
        await self.journal.close()
        await self.blindness.close(at)
