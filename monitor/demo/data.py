"""The demo's only access to the records and reports: the service functions the CLI uses,
one small function each, never SQL. (Kept in one file so that a move of the service layer
changes the imports here and nothing else.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor import actions
from monitor.config import Settings
from monitor.sla import MonthReport, month_containing
from monitor.sla.credits import tier_for

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = [
    "IncidentView",
    "incidents_since",
    "month_report",
    "record_phoned_outage",
    "tier_reached",
]

ACTOR = "sla-monitor demo"


@dataclass(frozen=True)
class IncidentView:
    """What the demo shows of an incident (plain values, no database object)."""

    id: int
    service: str
    source: str
    start: dt.datetime
    end: dt.datetime | None
    start_bound: dt.datetime | None  # R-M1: the last success before the start
    end_bound: dt.datetime | None  # R-M1: the last failure before the end
    detected_at: dt.datetime | None


async def incidents_since(db: Database, settings: Settings,
                          since: dt.datetime) -> list[IncidentView]:
    """Incidents open at or after ``since``, as ``sla-monitor incident list`` reads them."""
    found = await actions.list_incidents(db, settings, since=since)
    return [
        IncidentView(
            i.id,
            i.service_id,
            i.source,
            i.start,
            i.end,
            i.start_bound,
            i.end_bound,
            i.detected_at,
        )
        for i in found
    ]


async def record_phoned_outage(
    db: Database,
    settings: Settings,
    *,
    service: str,
    start: dt.datetime,
    end: dt.datetime,
    called_at: dt.datetime,
    now: dt.datetime,
) -> int:
    """What an operator does with ``incident add`` and ``incident notified --channel phone``:
    a manual incident the probes could not see, and the phone call that told the customer
    (R-N1). Returns the incident id."""
    added = await actions.add_incident(
        db,
        settings,
        service=service,
        start=start,
        end=end,
        cause="provider",
        note="reported by the customer by phone; recorded by the demo's operator",
        actor=ACTOR,
        now=now,
    )
    await actions.log_notification(
        db,
        settings,
        incident_id=added.id,
        at=called_at,
        channel="phone",
        customers=[],
        note="operator phoned the customer back",
        actor=ACTOR,
        now=now,
    )
    return added.id


async def month_report(db: Database, settings: Settings, now: dt.datetime) -> MonthReport:
    """The report of the month containing ``now`` in the configured calendar and zone, as
    ``sla-monitor report`` computes it."""
    provider = settings.provider
    period = month_containing(now, provider.calendar, provider.timezone)
    return (await actions.month_inputs(db, settings, period, now)).compute(now)


def tier_reached(settings: Settings, counted_seconds: int, period_seconds: int) -> str | None:
    """The R-T1 tier that ``counted_seconds`` of downtime in a month of ``period_seconds``
    would reach under the configured policy (the engine's rule), or None."""
    tier = tier_for(counted_seconds, period_seconds, settings.policy)
    return tier.name if tier is not None else None
