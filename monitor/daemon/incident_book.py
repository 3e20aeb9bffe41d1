"""Where the detector's events become incidents: written in order, then announced.

The :class:`IncidentBook` hands each event to the
:class:`~monitor.daemon.journal.IncidentJournal` (retried until written), writes it as the
probe ownership strategy says (:mod:`monitor.daemon.ownership`: the incident itself,
:meth:`IncidentBook.write`, or in a cluster our vantage's vote), tells the listener (the
notifier), and keeps the bookkeeping: which incident is open per target, the last one
(flap reopening), the metrics and the log line.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol

from monitor.clock import Clock
from monitor.config.topology import Target
from monitor.daemon.detector import Blinded, Closed, Event, Opened, Reopened
from monitor.daemon.journal import IncidentJournal, Intent
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.ownership import Alone
from monitor.sla import within
from monitor.store import history, incidents

if TYPE_CHECKING:
    from monitor.daemon.ownership import Ownership
    from monitor.store import Database, Tx

__all__ = ["IncidentBook", "IncidentListener"]

log = logging.getLogger(__name__)


class IncidentListener(Protocol):
    async def on_incident_opened(self, incident_id: int) -> None: ...

    async def on_incident_closed(self, incident_id: int) -> None: ...

    async def on_incident_reopened(self, incident_id: int) -> None: ...


class IncidentBook:
    def __init__(
        self,
        db: Database,
        metrics: DaemonMetrics,
        clock: Clock,
        target: Callable[[str], Target | None],
        listener: IncidentListener | None = None,
        ownership: Ownership | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.clock = clock
        self.target = target  # the target of an id, None once a reload removed it
        self.listener = listener
        self.ownership = ownership or Alone()  # who writes a change: the incident, or a vote
        self.deadline = 0.0  # D-1, seconds (set by Watch.apply)
        # Target id -> our vantage's word, as written (only where changes are votes).
        self.views: dict[str, str] = {}
        # Target id -> incident id (written); in a cluster, of the targets held here only
        # (follow_leases): what sla_monitor_open_incidents counts.
        self.open_incidents: dict[str, int] = {}
        self.writes = 0  # incident changes written so far (follow_leases)
        self.last_incident: dict[str, int] = {}  # for flap reopening
        self.journal = IncidentJournal(self._perform, pending_gauge=metrics.incident_writes_pending)

    def add(self, target_id: str, event: Event) -> None:
        """Hand a change to the journal: written and announced in order, retried until it is;
        with the lease epoch it is decided under (in a cluster: its vote is fenced at it)."""
        self.journal.add(Intent(target_id, event, self.ownership.epoch(target_id)))

    async def load(self) -> dict[str, int]:
        """Open incidents continue after a restart (R-M3): state lives in the database."""
        async with self.db.reading() as tx:
            found = await incidents.open_by_probe(tx)
        for target_id, incident_id in found.items():
            self.open_incidents[target_id] = incident_id
            self.last_incident[target_id] = incident_id
        self.update_open_metric()
        return found

    async def end_unconfigured(self, configured: Collection[str], at: dt.datetime) -> None:
        """End the open incidents of targets no longer configured (a reload removed them, or
        the configuration the daemon starts with has them no more): their detectors went
        with them, so no probe can end them, and counted under ``kind="removed"`` they kept
        ServiceDown firing. Ended at ``at``, the removal, said in the log; no e-mail: the
        target was not seen to recover. The customers it served depend on it no more (the
        configuration's topology), so no report counts it further. On a wall clock set back
        behind the incident's records, one second after its last failure seen instead
        (:meth:`_after_records`)."""
        async with self.db.transaction() as tx:
            found = await incidents.open_unconfigured(tx, configured)
            ends = {incident_id: (await self._after_records(
                        tx, incident_id, target_id, start, at, None, 1.0,
                        "one second after its last failure seen, not at its target's "
                        "removal"))[0]
                    for target_id, (incident_id, start) in found.items()}
            await incidents.end_removed(tx, ends)
        ended = {target_id: incident_id for target_id, (incident_id, _) in found.items()}
        for target_id, incident_id in ended.items():
            self.open_incidents.pop(target_id, None)
            self.last_incident.pop(target_id, None)
            log.warning("incident ended: its target is no longer in the configuration",
                        extra={"incident": incident_id, "target": target_id})
        self.update_open_metric()

    async def _perform(self, intent: Intent) -> None:
        """The next step of an intent: the write, then the listener. Raises to be retried."""
        event = intent.event
        if not intent.written:
            incident_id = await self.ownership.write_incident(
                self, intent.target_id, event, self.clock.now(), intent.epoch)
            intent.incident_id, intent.written = incident_id, True
            if incident_id is None or self.listener is None:
                intent.notified = True
            self._written(intent.target_id, event, incident_id)
        if not intent.notified:
            assert intent.incident_id is not None and self.listener is not None
            call = (
                self.listener.on_incident_opened if isinstance(event, Opened)
                else self.listener.on_incident_reopened if isinstance(event, Reopened)
                else self.listener.on_incident_closed
            )
            await call(intent.incident_id)  # the alert is queued in the database
            intent.notified = True

    async def write(self, target_id: str, event: Event, now: dt.datetime) -> int | None:
        """The change as this process's own incident (no vote)."""
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
                await incidents.reopen(tx, incident_id, at=now)
                return incident_id
            if isinstance(event, Closed) and target_id in self.open_incidents:
                incident_id = self.open_incidents[target_id]
                end, end_bound = await self._end(tx, incident_id, target_id, event)
                await incidents.close(tx, incident_id, end=end, end_bound=end_bound)
                return incident_id
        return None

    async def _end(self, tx: Tx, incident_id: int, target_id: str, event: Closed
                   ) -> tuple[dt.datetime, dt.datetime | None]:
        """The end and its bound to write: the first good probe and the last failure before
        it (R-M1), unless the wall clock is behind what was recorded of the incident.

        The daemon's clock never steps while it runs, but a restart takes the wall clock as
        it finds it (:mod:`monitor.daemon.clocksteps`): set back meanwhile (NTP correcting a
        clock that ran ahead), the first good probe reads earlier than the incident's start
        or its failures. Written so, the end came before the start, the customer read
        "available again after 0 s" and every report of the month failed. On the records'
        own timeline the first good probe came no earlier than one probe interval after the
        last failure seen (stored, or this run's); the end is put there, and said, so that
        an operator checks the clock and corrects the incident."""
        record = await incidents.get(tx, incident_id)
        if record is None:
            return event.end, event.end_bound
        target = self.target(target_id)
        return await self._after_records(
            tx, incident_id, target_id, record.start, event.end, event.end_bound,
            target.probe.interval if target is not None else 1.0,
            "one probe interval after its last failure seen, not at the first good "
            "probe's time")

    async def _after_records(self, tx: Tx, incident_id: int, target_id: str,
                             start: dt.datetime, end: dt.datetime,
                             end_bound: dt.datetime | None, step: float, how: str
                             ) -> tuple[dt.datetime, dt.datetime | None]:
        """``end`` (and ``end_bound``), or, when the wall clock reads it no later than the
        incident's last failure seen (its start, ``end_bound``, its stored failures),
        ``step`` seconds after that failure (and that failure as the bound), said in the
        log (``how`` it ends instead) so that an operator checks the clock."""
        # Probe times only (detected_at is when a result was handled, which may come
        # after the next probe began).
        seen = [start]
        for failed in (end_bound, await history.last_failure_at(tx, target_id, start)):
            if failed is not None:
                seen.append(failed)
        last_seen_down = max(seen)
        if end > last_seen_down:
            return end, end_bound
        moved = last_seen_down + dt.timedelta(seconds=step)
        log.error(
            "the wall clock is behind this incident's records: it was set back since they "
            f"were written; the incident ends {how}; check the clock (timedatectl) and the "
            "incident's times",
            extra={"incident": incident_id, "target": target_id, "clock": end.isoformat(),
                   "last_failure": last_seen_down.isoformat(), "end": moved.isoformat(),
                   "behind_seconds": round((last_seen_down - end).total_seconds(), 3)},
        )
        return moved, last_seen_down

    def _written(self, target_id: str, event: Event, incident_id: int | None) -> None:
        """Bookkeeping, metrics and the log line once a change is in the database."""
        if incident_id is None:
            return
        self.writes += 1
        target = self.target(target_id)
        kind = target.kind if target is not None else "removed"
        if isinstance(event, Closed | Blinded):  # a blind vantage may end a quorum's (R-M8)
            self.open_incidents.pop(target_id, None)
            end = event.end if isinstance(event, Closed) else event.at
            log.warning(
                "incident closed",
                extra={"incident": incident_id, "target": target_id, "end": end.isoformat()},
            )
            self.update_open_metric()
            return
        self.open_incidents[target_id] = incident_id
        self.last_incident[target_id] = incident_id
        self.update_open_metric()
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

    def follow_leases(self, lost: Collection[str], held_open: dict[str, int] | None,
                      writes: int) -> None:
        """In a cluster, a node counts the open incidents of the targets it holds, so that
        the nodes' ``sla_monitor_open_incidents`` add up to the cluster's (the ServiceDown
        alert sums them). Those of targets it lost go at once; then the set is what the
        lease cycle read in the database (``held_open``): an incident of a target taken
        here opened by another node, or one closed elsewhere (by another vantage's vote, or
        by the node that took the target from us) is counted as it is, within one cycle.
        Before, a node kept an incident it had opened, or loaded at its start, after another
        node closed it: ServiceDown fired with every target up.

        *Decision:* the database's word, read by the cycle that runs anyway (one query every
        quarter lease timeout), not messages between nodes. A change this node wrote after
        the cycle began (``writes``: :attr:`writes` before it) may be newer than the cycle's
        read: then only the lost go, and the next cycle reads again."""
        for target_id in lost:
            self.open_incidents.pop(target_id, None)
        if held_open is not None and writes == self.writes:
            self.open_incidents.clear()
            self.open_incidents.update(held_open)
        self.update_open_metric()

    def update_open_metric(self) -> None:
        counts: dict[str, int] = {}
        for target_id in self.open_incidents:
            target = self.target(target_id)
            kind = target.kind if target is not None else "removed"
            counts[kind] = counts.get(kind, 0) + 1
        for kind in ("server", "web_panel", "project", "mobile_api", "removed"):
            self.metrics.open_incidents.labels(kind).set(counts.get(kind, 0))

    async def close(self) -> None:
        """On shutdown: incident changes get a last chance to be written."""
        await self.journal.close()
