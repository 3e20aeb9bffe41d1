"""A history for the HTTP tests, written through the actions and the store's writers (as
the daemon and operators write it): the monitor has run for 40 days, the web panel is down
now, the mobile API had an outage three days ago, a window is announced for tomorrow,
the monitor was blind for an hour a week ago, and ACME's project had an outage yesterday
(the past ones each inside one calendar day)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from monitor import actions
from monitor.config import Settings
from monitor.store import Database, incidents, unknown


@dataclass
class World:
    now: dt.datetime
    panel_open: int  # the web panel's open incident
    mobile_closed: int
    acme_closed: int
    window: int


async def build(db: Database, settings: Settings, now: dt.datetime | None = None) -> World:
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)  # past outages sit inside one day each
    async with db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=now - dt.timedelta(days=40),
                                            hostname="test", pid=1, version="test")
        await unknown.beat(tx, session, now)  # it runs now
        await unknown.add_unknown(tx, start=today - dt.timedelta(days=7) + dt.timedelta(hours=9),
                                  end=today - dt.timedelta(days=7) + dt.timedelta(hours=10),
                                  reason="canaries_failed", detail=None)
        panel = await incidents.open_probe_incident(
            tx, service_id="panel", start=now - dt.timedelta(minutes=25),
            start_bound=now - dt.timedelta(minutes=26),
            detected_at=now - dt.timedelta(minutes=24), created_at=now - dt.timedelta(minutes=24))
    mobile = await actions.add_incident(
        db, settings, service="mobile", start=today - dt.timedelta(days=3) + dt.timedelta(hours=10),
        end=today - dt.timedelta(days=3) + dt.timedelta(hours=12),
        note="ACME's staff called it in", actor="test", now=now)
    acme = await actions.add_incident(
        db, settings, service="acme-shop", start=today - dt.timedelta(days=1) + dt.timedelta(hours=9),
        end=today - dt.timedelta(days=1) + dt.timedelta(hours=12),
        note="acme-shop disk full", actor="test", now=now)
    window = await actions.add_maintenance(
        db, settings, services=["panel"], start=now + dt.timedelta(days=1),
        end=now + dt.timedelta(days=1, hours=2), reason="Database upgrade of the panel",
        actor="test", now=now)
    return World(now, panel, mobile.id, acme.id, window.window.id)
