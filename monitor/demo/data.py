"""The demo's only access to the records and reports: the service functions the CLI uses,
one small function each, never SQL. (Kept in one file so that a move of the service layer
changes the imports here and nothing else.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from monitor import records
from monitor.config.topology import Topology
from monitor.reports import month_inputs, policy_from_config
from monitor.sla import month_containing
from monitor.sla.credits import tier_for

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

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


async def incidents_since(engine: AsyncEngine, since: dt.datetime) -> list[IncidentView]:
    """Incidents open at or after ``since``, as ``sla-monitor incident list`` reads them."""
    found = await records.list_incidents(engine, since=since)
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
    engine: AsyncEngine,
    topology: Topology,
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
    added = await records.add_incident(
        engine,
        topology,
        service=service,
        start=start,
        end=end,
        cause="provider",
        note="reported by the customer by phone; recorded by the demo's operator",
        actor=ACTOR,
        now=now,
    )
    await records.log_notification(
        engine,
        topology,
        incident_id=added.id,
        at=called_at,
        channel="phone",
        customers=[],
        note="operator phoned the customer back",
        actor=ACTOR,
        now=now,
    )
    return added.id


async def month_report(engine: AsyncEngine, topology: Topology, now: dt.datetime) -> Any:
    """The SPEC section 7 JSON report of the month containing ``now`` in the configured
    calendar and zone, as ``sla-monitor report --format json`` computes it."""
    provider = topology.config.provider
    period = month_containing(now, provider.calendar, provider.timezone)
    inputs = await month_inputs(engine, topology, period, now)
    return inputs.compute(now).to_json()


def tier_reached(topology: Topology, counted_seconds: int, period_seconds: int) -> str | None:
    """The R-T1 tier that ``counted_seconds`` of downtime in a month of ``period_seconds``
    would reach under the configured policy (the engine's rule), or None."""
    tier = tier_for(counted_seconds, period_seconds, policy_from_config(topology.config))
    return tier.name if tier is not None else None
