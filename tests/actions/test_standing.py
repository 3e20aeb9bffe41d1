"""RunningMonth: the daemon's running month read by deltas equals the month read
whole, after every kind of change the store records (a new incident, one closed, a cause
changed, a notification, a maintenance window and its notices, unknown time, a renewal), on SQLite
and PostgreSQL; and its refreshes after the first read only what changed."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor import actions
from monitor.actions.standing import RunningMonth
from monitor.config import Settings, parse_config
from monitor.store import Database, incidents, maintenance, unknown

TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
CONFIG = f"""
servers: [{{id: srv, probe: {TCP}}}]
services:
  - {{id: panel, kind: web_panel, probe: {TCP}}}
  - {{id: p1, kind: project, server: srv, probe: {TCP}}}
  - {{id: p2, kind: project, server: srv, probe: {TCP}}}
customers:
  - {{id: c1, name: One, contacts: {{technical: {{email: a@one.example}}}},
     fee: {{amount: 3650, currency: EUR}}, services: [p1],
     sites: [{{domain: one.example, paid_until: 2026-02-28}}]}}
  - {{id: c2, name: Two, contacts: {{technical: {{email: a@two.example}}}},
     fee: {{amount: 3650, currency: EUR}}, services: [p2], sites: [{{domain: two.example}}]}}
"""


async def same_as_whole(db: Database, settings: Settings, running: RunningMonth,
                        now: dt.datetime) -> int:
    refreshed = await running.refresh(now)
    assert not running.last_full  # read by deltas
    assert running.period is not None
    whole = await actions.month_report(db, settings, month=running.period.label, now=now)
    assert refreshed.report == whole
    return refreshed.recomputed


@pytest.mark.slow
async def test_deltas_equal_a_whole_read_after_every_kind_of_change(db: Database) -> None:
    settings = Settings.from_config(parse_config(CONFIG))
    # The running month is the one containing `now`, which every action is given.
    now = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)
    base = now - dt.timedelta(hours=20)
    async with db.transaction() as tx:  # the daemon has watched the whole month (R-M3)
        session = await unknown.add_session(tx, started_at=now - dt.timedelta(days=40),
                                            hostname="t", pid=1, version="t")
        await unknown.beat(tx, session, now)
    running = RunningMonth(db, settings)
    first = await running.refresh(now)
    assert running.last_full and first.recomputed == 2
    await running.refresh(now)  # a second whole read fills the deltas' look-back

    tick = iter(range(1, 100))

    def later() -> dt.datetime:
        return now + dt.timedelta(seconds=next(tick))

    # A probe incident opens on p1, then closes; a manual one on srv (both customers).
    async with db.transaction() as tx:
        opened = await incidents.open_probe_incident(
            tx, service_id="p1", start=base + dt.timedelta(hours=1), start_bound=None,
            detected_at=base + dt.timedelta(hours=1, minutes=1), created_at=now)
    assert await same_as_whole(db, settings, running, later()) == 1
    assert await same_as_whole(db, settings, running, later()) == 1  # open: it grows
    async with db.transaction() as tx:
        await incidents.close(tx, opened, end=base + dt.timedelta(hours=3), end_bound=None)
    assert await same_as_whole(db, settings, running, later()) == 1
    assert await same_as_whole(db, settings, running, later()) == 0  # nothing moved
    manual = await actions.add_incident(
        db, settings, service="srv", start=base + dt.timedelta(hours=4),
        end=base + dt.timedelta(hours=6), actor="t", now=now)
    assert await same_as_whole(db, settings, running, later()) == 2
    await actions.change_cause(db, incident_id=manual.id, cause="external", reason="cut",
                               actor="t", now=now)
    assert await same_as_whole(db, settings, running, later()) == 2
    await actions.log_notification(db, settings, incident_id=opened,
                                   at=base + dt.timedelta(hours=1, minutes=5), channel="phone",
                                   actor="t", now=now)
    assert await same_as_whole(db, settings, running, later()) == 1
    # A window on the server announced long ago for c2 only, then c1's notice arrives.
    window = await actions.add_maintenance(
        db, settings, services=["srv"], start=base + dt.timedelta(hours=4),
        end=base + dt.timedelta(hours=5), reason="kernel", actor="t", now=now)
    await same_as_whole(db, settings, running, later())
    async with db.transaction() as tx:
        await maintenance.add_notices(tx, window.window.id, ["c2"],
                                      sent_at=base - dt.timedelta(days=3), channel="email")
    assert await same_as_whole(db, settings, running, later()) == 1
    async with db.transaction() as tx:
        await maintenance.add_notices(tx, window.window.id, ["c1"],
                                      sent_at=base - dt.timedelta(days=3), channel="email")
    assert await same_as_whole(db, settings, running, later()) == 1
    # Unknown time (R-M3) is everyone's.
    async with db.transaction() as tx:
        await unknown.add_unknown(tx, start=base + dt.timedelta(hours=8),
                                  end=base + dt.timedelta(hours=9), reason="daemon_down",
                                  detail=None)
    assert await same_as_whole(db, settings, running, later()) == 2
    assert await same_as_whole(db, settings, running, later()) == 0
    # c1 has been lapsed since February (R-EX5); a renewal recorded before the month's end
    # revives it (L-2). Read once when recorded, then not again.
    lapsed = await running.refresh(later())
    assert [c.ineligible_reason for c in lapsed.report.customers] == ["R-EX5 non-payment", None]
    await actions.renew(db, settings, site="one.example", until=dt.date(2027, 2, 28),
                        actor="t", now=now)
    assert await same_as_whole(db, settings, running, later()) == 1
    renewed = await running.refresh(later())
    assert [c.ineligible_reason for c in renewed.report.customers] == [None, None]
    assert renewed.recomputed == 0
