"""From probe results to incidents: thresholds, blindness, server coverage (R-M1, R-M2, R-M4).

For every result the monitor decides what it means before the detector
counts it:

* **Blind (R-M2).** When the connectivity canaries fail (at least
  ``canary_quorum`` of them), or the resolver fails for every target at once,
  the failure is the monitor's, not the target's: results are ``unknown``, no
  incident opens, and the time is recorded as unknown. Before a target's
  failure streak would open an incident, the canaries are checked *now*, so a
  network blip on our side never becomes a customer incident.
* **Covered (R-M4).** A project whose server is down is down too, but the
  incident is the server's: one incident and one alert per customer, not one
  per project. Before a project's streak would open an incident, its server
  is checked now; while the server's incident is open the project's failures
  are recorded but do not count towards a project incident.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.clock import Clock
from monitor.config.topology import Target, Topology
from monitor.daemon.detector import Closed, Detector, Event, Opened, Reopened, TargetState
from monitor.daemon.metrics import PHASES, STATE_VALUE, DaemonMetrics
from monitor.daemon.recorder import Recorder
from monitor.probes import CertificateCheck, Probe, ProbeResult
from monitor.store.db import inserted_id
from monitor.store.models import Incident, UnknownInterval

log = logging.getLogger("monitor.monitor")

FLAP_WINDOW = dt.timedelta(minutes=5)
# R-M2: this many distinct targets failing DNS in a row, and no other result, means
# our resolver is broken, not theirs.
RESOLVER_QUORUM = 3


class IncidentListener(Protocol):
    async def on_incident_opened(self, incident_id: int) -> None: ...

    async def on_incident_closed(self, incident_id: int) -> None: ...


ProbeFactory = Callable[[Target], Probe]
CertificateCheckFactory = Callable[[Target], CertificateCheck | None]


class Monitor:
    def __init__(
        self,
        topology: Topology,
        engine: AsyncEngine,
        recorder: Recorder,
        metrics: DaemonMetrics,
        clock: Clock,
        probe_factory: ProbeFactory,
        certificate_check_factory: CertificateCheckFactory | None = None,
        listener: IncidentListener | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.metrics = metrics
        self.clock = clock
        self.probe_factory = probe_factory
        self.certificate_check_factory = certificate_check_factory
        self.listener = listener
        self.certificate_checks: dict[str, CertificateCheck] = {}
        self._certificate_problem: dict[str, bool] = {}
        self.targets: dict[str, Target] = {}
        self.probes: dict[str, Probe] = {}
        self.detectors: dict[str, Detector] = {}
        self.open_incidents: dict[str, int] = {}  # target id -> incident id
        self.last_incident: dict[str, int] = {}  # for flap reopening
        self.canary_states: dict[str, str] = {}
        self.blind_reason: str | None = None
        self._blind_interval_id: int | None = None
        self._dns_streak: set[str] = set()
        self._confirming: asyncio.Lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self.apply_topology(topology)

    # --- configuration -------------------------------------------------------------------------

    def apply_topology(self, topology: Topology) -> None:
        """Install (or, on SIGHUP, replace) the targets; detector state of kept targets stays."""
        self.topology = topology
        self.deadline = topology.config.policy.detection_deadline
        self.quorum = topology.config.monitor.canary_quorum
        new = {t.id: t for t in topology.targets()}
        for target_id in set(self.targets) - set(new):
            self.probes.pop(target_id, None)
            self.detectors.pop(target_id, None)
            self.canary_states.pop(target_id, None)
            self.certificate_checks.pop(target_id, None)
            self.recorder.forget(target_id)
        for target_id, target in new.items():
            if self.targets.get(target_id) != target:
                self.probes[target_id] = self.probe_factory(target)
                check = (
                    self.certificate_check_factory(target)
                    if self.certificate_check_factory is not None
                    else None
                )
                if check is not None:
                    self.certificate_checks[target_id] = check
                else:
                    self.certificate_checks.pop(target_id, None)
            old = self.detectors.get(target_id)
            self.detectors[target_id] = Detector(
                target.probe.fail_after,
                target.probe.recover_after,
                FLAP_WINDOW,
                state=old.state if old is not None else None,
            )
        self.targets = new
        self.canaries = [t for t in new.values() if t.kind == "canary"]
        self.metrics.targets.set(len(new))

    async def load_state(self) -> None:
        """Open incidents continue after a restart (R-M3): state lives in the database."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(Incident.id, Incident.service_id).where(
                    Incident.end.is_(None), Incident.source == "probe"
                )
            )
            for incident_id, target_id in rows:
                self.open_incidents[target_id] = incident_id
                self.last_incident[target_id] = incident_id
                detector = self.detectors.get(target_id)
                if detector is not None:
                    detector.state = TargetState(incident_open=True)
        self._update_open_metric()

    # --- results -------------------------------------------------------------------------------

    async def run_probe(self, target_id: str) -> None:
        probe = self.probes.get(target_id)
        if probe is not None:
            await self.handle(await probe.check())

    async def handle(self, result: ProbeResult) -> None:
        target = self.targets.get(result.target_id)
        if target is None:
            return  # removed by a reload while it ran
        if target.kind == "canary":
            await self._handle_canary(result)
            return
        state = result.state
        # What the detector counts: the result, "unknown" when we are blind (R-M2), or
        # "covered" when the project's server is down (R-M4; not counted either way).
        counted: str = state
        if state == "down":
            self._note_dns(result)
            detector = self.detectors[target.id]
            if self.blind_reason is not None:
                counted = "unknown"
            elif detector.would_open("down"):
                if await self.confirm_blind():
                    counted = "unknown"
                elif await self._covered_by_server(target, confirm=True):
                    counted = "covered"
            elif await self._covered_by_server(target, confirm=False):
                counted = "covered"
        elif state == "up":
            self._dns_streak.clear()
            if self.blind_reason == "resolver_failed":
                await self._set_blind(None, result.at)
        recorded = "unknown" if counted == "unknown" else state
        self._record(target, result, recorded)
        events = self.detectors[target.id].observe(
            state if counted == state else "unknown",
            result.at,
            self.clock.now(),
        )
        for event in events:
            await self._apply(target, event)

    def _record(self, target: Target, result: ProbeResult, state: str) -> None:
        total = result.total
        failure = None
        if state != "up":
            failure = {
                "failure_class": result.failure_class or "error",
                "detail": result.detail or "",
                "http_status": result.http_status,
                "latency_ms": total * 1000 if total is not None else None,
                "timings": {
                    p: getattr(result, p) for p in PHASES if getattr(result, p) is not None
                },
            }
        self.recorder.record(
            target.id, state, result.at, total * 1000 if total is not None else None, failure
        )
        metrics = self.metrics
        metrics.probe_state.labels(target.id, target.kind).set(STATE_VALUE[state])
        metrics.probe_results.labels(state, result.failure_class or "").inc()
        if total is not None:
            metrics.probe_last_duration.labels(target.id).set(total)
        for phase in PHASES:
            value = getattr(result, phase)
            if value is not None:
                metrics.probe_phase_duration.labels(phase).observe(value)
        if result.cert_not_after is not None:
            metrics.certificate_expiry.labels(target.id).set(result.cert_not_after.timestamp())

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

    # --- blindness (R-M2) ------------------------------------------------------------------------

    async def _handle_canary(self, result: ProbeResult) -> None:
        target = self.targets[result.target_id]
        self.canary_states[target.id] = result.state
        self._record(target, result, result.state)
        failing = sum(1 for c in self.canaries if self.canary_states.get(c.id) == "down")
        blind = bool(self.canaries) and failing / len(self.canaries) >= self.quorum
        if blind and self.blind_reason is None:
            await self._set_blind("canaries_failed", result.at)
        elif not blind and self.blind_reason == "canaries_failed":
            await self._set_blind(None, result.at)

    async def confirm_blind(self) -> bool:
        """Check the canaries now (once for concurrent callers); True if we are blind."""
        if self.blind_reason is not None:
            return True
        if not self.canaries:
            return False
        async with self._confirming:
            if self.blind_reason is None:
                results = await asyncio.gather(*(self.probes[c.id].check() for c in self.canaries))
                for result in results:
                    await self._handle_canary(result)
        return self.blind_reason is not None

    def _note_dns(self, result: ProbeResult) -> None:
        if result.failure_class != "dns":
            self._dns_streak.clear()
            return
        self._dns_streak.add(result.target_id)
        watched = sum(1 for t in self.targets.values() if t.kind != "canary")
        if (
            self.blind_reason is None
            and len(self._dns_streak) >= min(RESOLVER_QUORUM, watched)
            and watched >= RESOLVER_QUORUM
        ):
            self._spawn(self._set_blind("resolver_failed", result.at))

    async def _set_blind(self, reason: str | None, at: dt.datetime) -> None:
        previous, self.blind_reason = self.blind_reason, reason
        if reason == previous:
            return
        self.metrics.monitor_blind.set(1 if reason else 0)
        async with self.engine.begin() as connection:
            if self._blind_interval_id is not None:
                await connection.execute(
                    update(UnknownInterval)
                    .where(UnknownInterval.id == self._blind_interval_id)
                    .values(end=at)
                )
                self._blind_interval_id = None
            if reason is not None:
                result = await connection.execute(
                    insert(UnknownInterval).values(start=at, end=None, reason=reason, detail=None)
                )
                self._blind_interval_id = inserted_id(result)
                self.metrics.unknown_intervals.labels(reason).inc()
        log.warning(
            "monitor blind" if reason else "monitor can see again",
            extra={"reason": reason or previous, "at": at.isoformat()},
        )

    # --- server coverage (R-M4) ----------------------------------------------------------------

    async def _covered_by_server(self, target: Target, confirm: bool) -> bool:
        if target.kind != "project":
            return False
        server = self.topology.services[target.id].server
        if server is None:
            return False
        if server in self.open_incidents:
            return True
        if not confirm or server not in self.probes:
            return False
        result = await self.probes[server].check()
        await self.handle(result)
        return result.state == "down"

    # --- incidents -----------------------------------------------------------------------------

    async def _apply(self, target: Target, event: Event) -> None:
        now = self.clock.now()
        async with self.engine.begin() as connection:
            if isinstance(event, Opened):
                result = await connection.execute(
                    insert(Incident).values(
                        service_id=target.id,
                        start=event.start,
                        start_bound=event.start_bound,
                        detected_at=event.detected_at,
                        source="probe",
                        cause="provider",
                        created_at=now,
                    )
                )
                incident_id: int = inserted_id(result)
            elif isinstance(event, Reopened) and target.id in self.last_incident:
                incident_id = self.last_incident[target.id]
                await connection.execute(
                    update(Incident)
                    .where(Incident.id == incident_id)
                    .values(end=None, end_bound=None)
                )
            elif isinstance(event, Closed) and target.id in self.open_incidents:
                incident_id = self.open_incidents[target.id]
                await connection.execute(
                    update(Incident)
                    .where(Incident.id == incident_id)
                    .values(end=event.end, end_bound=event.end_bound)
                )
            else:
                return
        if isinstance(event, Closed):
            del self.open_incidents[target.id]
            log.warning(
                "incident closed",
                extra={"incident": incident_id, "target": target.id, "end": event.end.isoformat()},
            )
            self._update_open_metric()
            if self.listener is not None:
                await self._notify(self.listener.on_incident_closed, incident_id)
            return
        self.open_incidents[target.id] = incident_id
        self.last_incident[target.id] = incident_id
        self._update_open_metric()
        if isinstance(event, Opened):
            latency = (event.detected_at - event.start).total_seconds()
            self.metrics.detection_latency.observe(latency)
            if target.carries_d1 and latency > self.deadline:
                self.metrics.detection_breaches.inc()
            log.warning(
                "incident opened",
                extra={
                    "incident": incident_id,
                    "target": target.id,
                    "kind": target.kind,
                    "start": event.start.isoformat(),
                    "detection_seconds": round(latency, 3),
                },
            )
            if self.listener is not None:
                await self._notify(self.listener.on_incident_opened, incident_id)
        else:
            log.warning(
                "incident reopened (flap)", extra={"incident": incident_id, "target": target.id}
            )

    async def _notify(self, call: Callable[[int], Awaitable[None]], incident_id: int) -> None:
        # The alert is queued in the database; a failure here must not stop probing.
        try:
            await call(incident_id)
        except Exception:
            log.exception("could not queue incident notifications", extra={"incident": incident_id})

    def _update_open_metric(self) -> None:
        counts: dict[str, int] = {}
        for target_id in self.open_incidents:
            target = self.targets.get(target_id)
            kind = target.kind if target is not None else "removed"
            counts[kind] = counts.get(kind, 0) + 1
        for kind in ("server", "web_panel", "project", "mobile_api", "removed"):
            self.metrics.open_incidents.labels(kind).set(counts.get(kind, 0))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_blind_interval(self, at: dt.datetime) -> None:
        """On shutdown, the unknown interval ends with us (the heartbeat gap takes over)."""
        if self.blind_reason is not None:
            await self._set_blind(None, at)
