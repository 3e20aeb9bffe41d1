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
into incident events, which go to the :class:`~monitor.daemon.incident_book.IncidentBook`:
written in order (:mod:`monitor.store.incidents`) and handed to the listener (the
notifier), retried until they are, so a database that is locked or away delays an
incident and its e-mails but never loses them. Every result goes to the probe
history (:class:`monitor.daemon.recorder.Recorder`) and the metrics.

Who probes which target is not Watch's question: the probe ownership strategy chosen at
start (:mod:`monitor.daemon.ownership`: alone, probe worker processes, cluster leases)
says which targets get a probe object here, which the probe tick runs, under which key
their history is kept, whether a flap reopens an incident and how an incident change is
written; when the targets probed here move (a cluster's leases), it calls
:meth:`Watch.probing_moved`. A result of a target another node holds is never handled
here: its history, its series and its R-M3 unknown time are that node's (README
"Fencing", "Metrics"). So a project's check of its server (R-M4) held elsewhere only asks
the server, and this node's detector of it, as old as its last lease on it, is not asked;
handled, that check wrote the time since this node last probed the server as the server's
unknown time and showed its ``probe_state`` beside its holder's.

Nearly every result is an ``up`` of a target that is no canary and not probed by a host
name the resolver is judged by: nothing in its handling can wait (R-M2 and R-M4 ask about
failures only, and an ``up`` opens no incident), so :meth:`Watch.handle_now` handles it at
once, without a task or an await; every other result goes through :meth:`Watch.handle`.

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
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

from monitor.clock import Clock
from monitor.config.schema import DNSProbe, HTTPProbe, PushProbe
from monitor.config.settings import Settings
from monitor.config.topology import Target, Topology
from monitor.daemon.blindness import Blindness, Lookup
from monitor.daemon.certificates import Certificates
from monitor.daemon.detector import (
    Blinded,
    Detector,
    Event,
    Opened,
    TargetState,
)
from monitor.daemon.incident_book import IncidentBook, IncidentListener
from monitor.daemon.metrics import PHASES, STATE_VALUE, DaemonMetrics
from monitor.daemon.ownership import Alone, Ownership
from monitor.daemon.recorder import Recorder
from monitor.probes import CertificateCheck, Probe, ProbeResult
from monitor.redact import redact
from monitor.sla import FLAP_WINDOW, unprobed

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["FLAP_WINDOW", "RESOLVER_CANARY_TIMEOUT", "IncidentListener", "Watch", "WatchPlan"]

log = logging.getLogger(__name__)

# R-M2: the resolver canary's lookup gives up after this (a resolver that does not answer).
RESOLVER_CANARY_TIMEOUT = 5.0


ProbeFactory = Callable[[Target], Probe]
CertificateCheckFactory = Callable[[Target], CertificateCheck | None]
# A name lookup through the probes' resolver, given up after some seconds:
# (answered, detail, seconds) (monitor.probes.ProbeSessions.lookup).
ResolverLookup = Callable[[str, float], Awaitable[tuple[bool, str, float]]]


def by_host_name(target: Target) -> bool:
    """Whether probing ``target`` asks the resolver: its host is a name, not an IP address."""
    probe = target.probe
    if isinstance(probe, DNSProbe | PushProbe):
        # A DNS probe's nameserver is an IP address (monitor.probes.dns); a push asks nothing.
        return False
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
    unknown_after: float  # R-M3: a longer stretch without a probe is the target's unknown


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
        ownership: Ownership | None = None,
    ) -> None:
        self.db = db
        # Who probes which target (monitor.daemon.ownership), chosen once at start.
        self.ownership = ownership = ownership or Alone()
        # Which targets get a probe object in this process (None: all); results of the
        # others come to handle().
        self.probes_here = ownership.probes_here()
        self.resolver_lookup = resolver_lookup
        self.recorder = recorder
        self.metrics = metrics
        self.clock = clock
        self.probe_factory = probe_factory
        self.certificate_check_factory = certificate_check_factory
        self.blindness = Blindness(db, metrics)
        self.certificates = Certificates(metrics, ownership.holds)
        self.targets: dict[str, Target] = {}
        self.canaries: list[Target] = []
        self.by_name: frozenset[str] = frozenset()  # watched targets probed by host name
        self.probes: dict[str, Probe] = {}
        self.detectors: dict[str, Detector] = {}
        self.book = IncidentBook(db, metrics, clock, self.targets.get, listener, ownership)
        # What tests and the runtime read: the journal, the open incidents, our votes.
        self.journal = self.book.journal
        self.open_incidents = self.book.open_incidents
        self.views = self.book.views
        # Target id -> when its latest result here was probed (R-M3 per target).
        self.last_probed: dict[str, dt.datetime] = {}
        self.unknown_after = settings.monitor.unknown_after
        self.apply(self.prepare(settings))

    @property
    def certificate_checks(self) -> dict[str, CertificateCheck]:
        return self.certificates.checks

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
        monitor = settings.monitor
        return WatchPlan(topology, wanted, probes, checks,
                         float(settings.policy.detection_deadline_seconds),
                         monitor.canary_quorum, monitor.resolver.canary, monitor.unknown_after)

    def apply(self, plan: WatchPlan) -> None:
        """Install (or, on SIGHUP, replace) the targets; detector state of kept targets stays."""
        self.topology = plan.topology
        self.book.deadline = plan.detection_deadline
        self.unknown_after = plan.unknown_after
        removed = set(self.targets) - set(plan.targets)
        self.metrics.forget_targets(removed)
        for target_id in removed:
            self.last_probed.pop(target_id, None)
            self.probes.pop(target_id, None)
            self.detectors.pop(target_id, None)
            self.recorder.forget(target_id)
        for target_id, target in plan.targets.items():
            if self.targets.get(target_id) != target and target_id not in plan.probes:
                self.probes.pop(target_id, None)  # changed, and probed elsewhere now
        self.probes.update(plan.probes)
        self.certificates.apply(removed, plan.certificate_checks)
        # Where an incident is a quorum's, not this detector's: no flap reopening.
        flap_window = FLAP_WINDOW if self.ownership.reopens_flaps else dt.timedelta(0)
        for target_id, target in plan.targets.items():
            old = self.detectors.get(target_id)
            self.detectors[target_id] = Detector(
                target.probe.fail_after,
                target.probe.recover_after,
                flap_window,
                state=old.state if old is not None else None,
            )
        self.targets.clear()  # the same dict: the incident book looks targets up in it
        self.targets.update(plan.targets)
        self.canaries = [t for t in self.targets.values() if t.kind == "canary"]
        self.by_name = frozenset(
            t.id for t in self.targets.values() if t.kind != "canary" and by_host_name(t)
        )
        self.resolver_canary = plan.resolver_canary
        self.blindness.configure(
            [c.id for c in self.canaries],
            plan.canary_quorum,
            self.by_name,
            self._lookup(plan.resolver_canary), plan.resolver_canary,
        )
        self.metrics.targets.set(len(self.targets))

    def probing_moved(self, lost: Iterable[str], gained: Mapping[str, str | None],
                      open_incidents: Collection[str], resumed: Collection[str] = ()) -> None:
        """The targets probed here changed (a cluster's leases): those now probed here start
        afresh (a new run of history, the detector at our vantage's last word, ``gained``:
        target id -> that word, if any; ``open_incidents``: those with an incident open);
        those lost are forgotten unwritten. When they were last probed here is kept for
        those ``resumed`` (held again at the same epoch: nobody probed them meanwhile, the
        stretch is ours to count, R-M3); another node's take-over counted its own."""
        history_key = self.ownership.history_key
        self.metrics.forget_targets(lost)
        for target_id in lost:
            self.recorder.discard(history_key(target_id))
            self.views.pop(target_id, None)
        for target_id, view in gained.items():
            if target_id not in resumed:
                self.last_probed.pop(target_id, None)
            self.recorder.discard(history_key(target_id))
            if view is not None:
                self.views[target_id] = view
            voting_down = view == "down" or (view is None and target_id in open_incidents)
            detector = self.detectors.get(target_id)
            if detector is not None:
                detector.state = TargetState(incident_open=voting_down)

    def _probed(self, target: Target, at: dt.datetime) -> None:
        """R-M3 per target: a stretch longer than ``unknown_after`` since the target's last
        probe here, whatever kept it (the database away, a lease renewed late, a dead probe
        worker), is its unknown time (:func:`monitor.sla.unprobed`), written with the history."""
        last = self.last_probed.get(target.id)
        if last is not None and at <= last:
            return  # a late result of an earlier probe
        self.last_probed[target.id] = at
        if last is None:
            return
        gap = unprobed(last, at, target.probe.interval, self.unknown_after)
        if gap is not None:
            self.recorder.unprobed(
                target.id, gap.start, gap.end,
                f"not probed for {int((gap.end - gap.start).total_seconds())} s after its "
                f"interval", self.blindness.scope, key=self.ownership.history_key(target.id))

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
        for target_id in await self.book.load():
            detector = self.detectors.get(target_id)
            if detector is not None:
                detector.state = TargetState(incident_open=True)

    # --- results -------------------------------------------------------------------------------

    async def run_probe(self, target_id: str) -> None:
        if (probe := self.probes.get(target_id)) is not None and self._ours(target_id):
            result = await probe.check()
            if self._ours(target_id) and not self.handle_now(result):
                await self.handle(result)

    def _ours(self, target_id: str) -> bool:  # held (before and after a probe), or a canary
        return self.ownership.holds(target_id) or self.targets.get(target_id) in self.canaries

    def handle_now(self, result: ProbeResult) -> bool:
        """:meth:`handle` without awaiting where nothing can wait (module docstring), or False."""
        target = self.targets.get(result.target_id)
        if target is None or result.state != "up" or target.kind == "canary" or (
                target.id in self.by_name):
            return target is None  # None: removed by a reload while it ran, nothing to do
        self._probed(target, result.at)
        self._record(target, result, "up")
        events = self.detectors[target.id].observe("up", result.at, self.clock.now())
        for event in events:
            self.book.add(target.id, event)  # as _apply does: an "up" never opens
        if not events and target.id in self.views:
            self._revote(target, "up")
        return True

    async def handle(self, result: ProbeResult) -> None:
        target = self.targets.get(result.target_id)
        if target is None or not self._ours(target.id):
            return  # removed by a reload while it ran, or another node's (module docstring)
        if result.state == "unknown":  # not judged: we stalled (probes.base.late_enough, R-M2)
            # Evidence only: no result for the detector (its streak goes on), the canaries
            # or the vote, and not a probe for R-M3 (a long stall is unknown time).
            return self._record(target, result, "unknown")
        blindness = self.blindness
        if target.kind != "canary":
            self._probed(target, result.at)
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
        if not events and target.id in self.views:  # our vantage's word: only where we vote
            self._revote(target, counted)

    def _revote(self, target: Target, counted: str) -> None:
        """A blind vantage's word becomes unknown (no vote, R-M2); when it sees
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
        self.book.add(target.id, event)

    async def _apply(self, target: Target, event: Event) -> None:
        """Hand a change to the journal: written and announced in order, retried until it is.
        An opening first stores the failures recorded so far: the one that opened it is
        what the operators' outage e-mail says (:mod:`monitor.notify.duties`)."""
        if isinstance(event, Opened):
            try:
                await asyncio.shield(self.recorder.flush())
            except asyncio.CancelledError:
                raise
            except Exception:  # kept for the next flush; the e-mail says it is not stored yet
                log.warning("probe failures not stored before an outage e-mail",
                            extra={"target": target.id})
        self.book.add(target.id, event)

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
                # A probe URL's user-info never reaches the evidence.
                "detail": redact(result.detail or ""),
                "http_status": result.http_status,
                "latency_ms": latency_ms,
                "timings": {
                    p: getattr(result, p) for p in PHASES if getattr(result, p) is not None
                },
            }
        self.recorder.record(self.ownership.history_key(target.id), state, result.at, latency_ms, failure)
        # Once per probe: plain dict stores and cached label children (monitor.daemon.metrics).
        metrics = self.metrics
        metrics.probe_state.set(target.id, STATE_VALUE[state])  # its kind: follow_targets
        metrics.result_counter(state, result.failure_class or "").inc()
        if total is not None:
            metrics.probe_last_duration.set(target.id, total)
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
            metrics.certificate_expiry.set(target.id, result.cert_not_after.timestamp())

    # --- certificates ----------------------------------------------------------------------------

    def certificate_targets(self) -> list[tuple[str, float]]:
        return self.certificates.targets(self.targets)

    async def run_certificate_check(self, target_id: str) -> None:
        await self.certificates.run(target_id)

    # --- server coverage (R-M4) ----------------------------------------------------------------

    async def _covered_by_server(self, target: Target, confirm: bool) -> bool:
        if target.kind != "project":
            return False
        server = self.topology.services[target.id].server
        if server is None:
            return False
        server_detector = self.detectors.get(server) if self._ours(server) else None
        if server_detector is not None and server_detector.state.incident_open:
            return True  # written, or waiting in the journal to be
        if not confirm or server not in self.probes:
            return False
        result = await self.probes[server].check()
        await self.handle(result)  # a server another node holds: asked, not handled
        return result.state == "down"

    async def close(self, at: dt.datetime) -> None:
        """On shutdown: incident changes get a last chance to be written; an unknown interval
        in progress ends with us."""
        await self.book.close()
        await self.blindness.close(at)
