"""The daemon's periodic jobs: the table (:mod:`monitor.daemon.jobs`) and what each runs.

=================  ============================  ===========  ===================================
id                 every                         leader only  what
=================  ============================  ===========  ===================================
heartbeat          ``monitor.heartbeat_interval``  no         the daemon's own life (R-M3)
cluster-leases     a quarter of the lease timeout  no         leases renewed (in a cluster)
flush              ``flush_interval``            no           probe history written (R-M7)
pushes             1 s, and at start             no           push targets' pushes shared
duties             30 s                          yes          D-2 to D-5 notices, L-5/L-6 settled
month-terms        60 s, and at start            yes          the month that ended: its terms kept
statements         60 s, and at start            yes          ``statements.auto``: close, send
retention          ``storage.retention``         yes          old probe history out (R-M7)
backup             ``storage.backup.every``/10   no           a copy of the database, if due
resolver-canary    ``canary_interval``, at once  no           the resolver canary's lookup (R-M2)
sla-metrics        ``sla_metrics_interval``      no           per-customer SLA metrics
evidence-check     ``evidence.check_interval``   no           the chain's new links checked
evidence-sign      ``evidence.sign_interval``    yes          the chain's head signed (with a key)
=================  ============================  ===========  ===================================

A job body never raises: a failure is logged and the next run tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from monitor import actions
from monitor.config import Settings
from monitor.daemon.backups import look_interval
from monitor.daemon.jobs import Job
from monitor.logs import ProgressLog
from monitor.notify.contract import ContractMailer
from monitor.store import error_line, unavailable_error

if TYPE_CHECKING:
    from monitor.daemon.runtime import Runtime

__all__ = ["DUTY_CHECK_INTERVAL", "PUSH_SHARE_INTERVAL", "STATEMENT_CHECK_INTERVAL", "flush",
           "step", "table"]

log = logging.getLogger(__name__)

DUTY_CHECK_INTERVAL = 30.0  # seconds; the D-2 warning comes 30 min before a 2 h deadline
STATEMENT_CHECK_INTERVAL = 60.0  # seconds; statements are due a day after the month ends
PUSH_SHARE_INTERVAL = 1.0  # seconds; a push another node took is known here this late


def table(rt: Runtime) -> Callable[[Settings], list[Job]]:
    """The job table of a runtime, for any settings (at start and at each reload)."""

    def jobs(settings: Settings) -> list[Job]:
        found = [Job("heartbeat", settings.monitor.heartbeat_interval, False, partial(beat, rt))]
        found += rt.ownership.jobs(settings)
        found += [
            Job("flush", rt.flush_interval, False, partial(flush, rt)),
            Job("duties", DUTY_CHECK_INTERVAL, True, partial(check_duties, rt),
                skipped=rt.notifier.metrics.forget_duties),
        ]
        if actions.push_targets(settings):
            found.append(Job("pushes", PUSH_SHARE_INTERVAL, False, partial(share_pushes, rt),
                             at_start=True))
        found.append(Job("month-terms", STATEMENT_CHECK_INTERVAL, True,
                         partial(keep_month_terms, rt), at_start=True))
        if settings.statements.auto:
            found.append(Job("statements", STATEMENT_CHECK_INTERVAL, True,
                             partial(check_statements, rt), at_start=True))
        found.append(Job("retention", settings.storage.retention.interval, True,
                         partial(prune, rt)))
        if settings.storage.backup.directory is not None:
            found.append(Job("backup", look_interval(settings.storage.backup), False,
                             rt.backups.run, at_start=True))
        resolver = settings.monitor.resolver
        if resolver.canary is not None:
            found.append(Job("resolver-canary", resolver.canary_interval, False,
                             partial(check_resolver, rt), at_start=True, after_reload=True))
        found.append(Job("sla-metrics", settings.monitor.sla_metrics_interval, False,
                         rt.sla_metrics.refresh, after_reload=True))
        found.append(Job("evidence-check", settings.evidence.check_interval, False,
                         partial(check_evidence, rt), at_start=True))
        if rt.evidence.key is not None:
            found.append(Job("evidence-sign", settings.evidence.sign_interval, True,
                             rt.evidence.sign))
        return found

    return jobs


async def step(what: str, stop: Callable[[], Awaitable[None]]) -> None:
    """A step of stopping: a failure is logged and the next step runs anyway. The database
    (or another server) not answering is said in one line, as the loops say it: no bug, no
    traceback."""
    try:
        await stop()
    except Exception as exc:
        if unavailable_error(exc):
            log.error(f"stopping: {what} could not be completed", extra={"error": error_line(exc)})
        else:
            log.exception(f"stopping: {what} could not be completed")


async def beat(rt: Runtime) -> None:
    rt.metrics.event_loop_tasks.set(len(asyncio.all_tasks()))
    try:
        at = await rt.heartbeat.beat()
        rt.metrics.heartbeat.set(at.timestamp())
        if rt.removals:  # a reload's, while the database was away: it answers again
            await rt.end_pending_removals()
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("heartbeat failed")


async def flush(rt: Runtime, everything: bool = False) -> None:
    """Write the probe history that is due (at stop: ``everything``)."""
    started = time.monotonic()
    try:
        # Shielded: whoever cancels the job, a flush that began writes to its end (or fails
        # and keeps everything for the next one); the recorder flushes one at a time.
        written = await asyncio.shield(rt.recorder.flush(everything))
        rt.metrics.flush_rows.inc(written)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        rt.metrics.flush_errors.inc()
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("probe history flush failed; kept for the next one")
    finally:
        rt.metrics.flush_duration.observe(time.monotonic() - started)


async def share_pushes(rt: Runtime) -> None:
    """The pushes this node took written to the store, the others' read (README "Push
    targets"); what could not be written waits for the next run."""
    try:
        await actions.share_pushes(rt.db, rt.sessions.pushes, now=rt.clock.now())
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("sharing the pushes failed; tried again at the next run")


async def check_evidence(rt: Runtime) -> None:
    """The evidence chain's new entries checked (``sla_monitor_evidence_chain_ok``)."""
    await rt.evidence.check()


async def prune(rt: Runtime) -> None:
    """R-M7: old probe history out, in small batches (monitor.daemon.retention)."""
    try:
        await rt.retention.run()
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("probe history retention failed; tried again at the next run")


async def check_duties(rt: Runtime) -> None:
    """D-2 to D-5: the recurring windows' next occurrences recorded, notices for new (and
    cancellations of) maintenance windows, at-risk alerts, breaches; what
    time decides in the ledger (L-5 price requests, L-6 expiries); and subscription
    requests whose confirmation link has expired, forgotten."""
    try:
        recurring = await actions.record_recurring(rt.db, rt.settings, now=rt.clock.now())
        if recurring:
            log.info("recurring maintenance windows recorded", extra={"windows": [
                {"id": w.id, "start": w.start.isoformat()} for w in recurring]})
        await rt.notifier.queue_new_windows()
        await rt.notifier.check_duties()
        settled = await actions.settle(rt.db, rt.settings, now=rt.clock.now())
        if settled.expiries or settled.closed:
            log.info("ledger settled", extra={"expiries": len(settled.expiries),
                                              "tickets_closed": list(settled.closed)})
        forgotten = await actions.forget_expired_requests(rt.db, rt.settings,
                                                          now=rt.clock.now())
        if forgotten:
            log.info("unconfirmed subscription requests forgotten",
                     extra={"addresses": forgotten})
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("duty check failed; tried again at the next one")


#: How many customers a log line names (a month-end at 10,000 is one line, not 200 KB).
LOGGED_CUSTOMERS = 20


def _first(customers: list[str]) -> list[str]:
    """The first :data:`LOGGED_CUSTOMERS` of ``customers``, then ``"… and N more"``.

    >>> _first([f"c{n}" for n in range(10_000)])[-2:]
    ['c19', '… and 9980 more']
    >>> _first(["acme", "globex"])
    ['acme', 'globex']
    """
    if len(customers) <= LOGGED_CUSTOMERS:
        return customers
    return [*customers[:LOGGED_CUSTOMERS], f"… and {len(customers) - LOGGED_CUSTOMERS} more"]


async def keep_month_terms(rt: Runtime) -> str | None:
    """The month that ended last keeps the configuration's terms as they are now, unless it
    has some (:func:`monitor.actions.keep_month_terms`): before the configuration changes
    for the next month."""
    try:
        kept = await actions.keep_month_terms(rt.db, rt.settings, now=rt.clock.now())
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("keeping the month's terms failed; tried again at the next check")
        return None
    if kept is not None:
        log.info("month terms kept", extra={"month": kept,
                                            "customers": len(rt.settings.topology.customers)})
    return kept


async def check_statements(rt: Runtime) -> actions.AutoStatements | None:
    """``statements.auto``: close each month the configured delay after it ends and queue
    its statements, then the claim reminders that are due. A stop request is honoured
    between customers; the next run (after a restart too) resumes."""
    try:
        now = rt.clock.now()
        done = await actions.auto_statements(
            rt.db, rt.settings, mail=ContractMailer(rt.settings, now), now=now,
            stopping=rt.stopping.is_set,
            progress=lambda month: ProgressLog(log, "statements progress", {"month": month}))
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("statement check failed; tried again at the next one")
        return None
    for sent in done.sent:
        if sent.queued:
            rt.notifier.worker.wake()
        queued = [item.customer for item in sent.queued]
        log.info("statements queued", extra={
            "month": sent.month, "revision": sent.revision, "frozen": sent.frozen,
            "queued": len(queued), "customers": _first(queued)})
    for month, customers in done.reminded.items():
        rt.notifier.worker.wake()
        log.info("claim reminders queued", extra={"month": month, "queued": len(customers),
                                                  "customers": _first(customers)})
    return done


async def check_resolver(rt: Runtime) -> None:
    try:
        await rt.watch.check_resolver()
    except Exception as exc:
        if not rt.db.outage(exc):  # the database away: said once, no traceback
            log.exception("resolver canary check failed; tried again at the next one")
