"""The store's reads by a list of ids take any number of them: a statement binds at most
about 32,000 values (asyncpg 32,767, SQLite 32,766), and a cluster's month of 10,000
customers has 50,000 incidents, a node taking over a dead one's share tens of thousands
of targets. Each is read a few hundred ids a statement, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from monitor.store import Database, incidents
from monitor.store import cluster as cluster_store
from monitor.store.models import IncidentVantage, VantageView

AT = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
MANY = 40_000


async def test_confirmations_and_views_of_more_ids_than_a_statement_binds(db: Database) -> None:
    async with db.transaction() as tx:
        incident = await incidents.open_probe_incident(
            tx, service_id="panel", start=AT, start_bound=None, detected_at=AT, created_at=AT)
        await tx.execute(insert(IncidentVantage).values(
            incident_id=incident, vantage="tehran", start=AT, start_bound=None,
            detected_at=AT, node="n1"))
        await tx.execute(insert(VantageView).values(
            target_id="panel", vantage="tehran", state="down", since=AT, bound=None,
            detected_at=AT, node="n1", epoch=1))
    asked_incidents = [incident, *range(10**6, 10**6 + MANY)]
    asked_targets = [f"p{n:05}" for n in range(MANY)] + ["panel"]
    async with db.reading() as tx:
        assert await cluster_store.confirmations(tx, asked_incidents) == {incident: ["tehran"]}
        assert await cluster_store.views_of(tx, "tehran", asked_targets) == {"panel": "down"}


async def test_a_notification_of_more_customers_than_a_statement_binds(db: Database) -> None:
    # An incident of the web panel is every customer's: a phone call logged for all of
    # them asks which were told before, about each of them.
    async with db.transaction() as tx:
        incident = await incidents.open_probe_incident(
            tx, service_id="panel", start=AT, start_bound=None, detected_at=AT, created_at=AT)
        await incidents.record_notifications(tx, incident, ["c00000"], channel="email", at=AT,
                                             recorded_at=AT)
    everyone = [f"c{n:05}" for n in range(MANY)]
    async with db.transaction() as tx:
        recorded = await incidents.record_notifications(
            tx, incident, everyone, channel="phone", at=AT, recorded_at=AT, note="all of them")
    assert recorded.first_for == tuple(everyone[1:])  # c00000 was told before (R-N1)
