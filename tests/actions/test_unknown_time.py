"""R-M3 in every report, not only after a restart (trap 2): the service layer derives
the daemon's coverage from its sessions in the store, and the month's report shows the rest
as unknown time. SQLite and PostgreSQL; numbers worked out by hand on March 2026 (UTC)."""

from __future__ import annotations

import datetime as dt

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.store import Database, unknown

DAY, HOUR = 86400, 3600
TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
SETTINGS = Settings.from_config(parse_config(f"""
monitor: {{unknown_after: 1 min}}
services: [{{id: panel, kind: web_panel, probe: {TCP}}}]
customers:
  - {{id: acme, name: ACME, contacts: {{technical: {{email: it@acme.example}}}},
     fee: {{amount: 3650, currency: EUR}}, sites: [{{domain: acme.example}}]}}
"""))


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=dt.UTC)


async def ran(db: Database, start: dt.datetime, last_beat: dt.datetime, *,
              stopped: bool = True) -> None:
    """A run of the daemon as its heartbeat writes it: a session, beats, maybe a stop."""
    async with db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=start, hostname="h", pid=1,
                                            version="test")
        await unknown.beat(tx, session, last_beat, stopped=stopped)


async def acme(db: Database, now: dt.datetime, month: str = "2026-03") -> dict[str, object]:
    report = await actions.month_report(db, SETTINGS, month=month, customer="acme", now=now)
    return report.customers[0].to_json()


async def test_r_m3_days_before_the_first_run_and_hours_since_the_stop_are_unknown(
    db: Database,
) -> None:
    # The daemon first ran on March 10 at 00:00 and stopped at 10:00 on the 20th; no daemon
    # runs now, at 12:00: days 1-9 (9 d) and the last 2 h are unknown.
    await ran(db, at(10), at(20, 10))
    report = await acme(db, now=at(20, 12))
    assert report["unknown_seconds"] == 9 * DAY + 2 * HOUR
    assert report["downtime_seconds"] == 0
    # An operator covers part of it with a phoned-in outage: that part is downtime now.
    await actions.add_incident(db, SETTINGS, service="panel", start=at(5, 8), end=at(5, 11),
                               actor="ops", now=at(20, 12))
    report = await acme(db, now=at(20, 12))
    assert report["unknown_seconds"] == 9 * DAY + 2 * HOUR - 3 * HOUR
    assert report["downtime_seconds"] == 3 * HOUR


async def test_r_m3_a_running_daemon_and_a_quick_restart_leave_nothing_unknown(
    db: Database,
) -> None:
    await ran(db, at(1, month=2), at(15))  # since February, stopped on March 15 at 00:00
    await ran(db, at(15, 0, 0, 40), at(20, 11, 59, 55), stopped=False)  # restarted in 40 s
    report = await acme(db, now=at(20, 12))  # its last heartbeat is 5 s old: it runs
    assert report["unknown_seconds"] == 0


async def test_r_m3_a_month_before_the_daemon_ever_ran_is_unknown_whole(db: Database) -> None:
    await ran(db, at(10), at(20, 11, 59, 55), stopped=False)
    february = await acme(db, now=at(20, 12), month="2026-02")
    assert february["unknown_seconds"] == 28 * DAY
    # A month it never ran in, ended: unknown whole, even after the daemon runs again.
    assert (await acme(db, now=at(20, 12)))["unknown_seconds"] == 9 * DAY


async def test_r_m3_a_clean_stop_is_unknown_at_once(db: Database) -> None:
    # Stopped cleanly at 11:59:30: at 12:00 the 30 s since are unknown already (R-M3's
    # decision), not only once unknown_after (1 min) has passed.
    await ran(db, at(1), at(20, 11, 59, 30), stopped=True)
    assert (await acme(db, now=at(20, 12)))["unknown_seconds"] == 30


async def test_r_m3_a_killed_daemon_is_not_running_after_unknown_after(db: Database) -> None:
    # Killed (no stop recorded) at 11:00: at 12:00 the last heartbeat is 1 h old.
    await ran(db, at(1), at(20, 11), stopped=False)
    assert (await acme(db, now=at(20, 12)))["unknown_seconds"] == HOUR


async def test_r_m3_a_target_a_daemon_alone_left_unprobed_is_its_customers_unknown_time(
    db: Database,
) -> None:
    # The daemon ran all month; its probe worker died and 'panel' went unprobed from 10:00:02
    # (its last probe at 10:00:00 plus its 2 s interval) to 10:01:32: 90 s of panel's
    # unknown time (R-M3 per target), which the daemon wrote scoped to the target alone.
    await ran(db, at(1, month=2), at(20, 11, 59, 55), stopped=False)
    async with db.transaction() as tx:
        await unknown.add_unknown(tx, start=at(5, 10, 0, 2), end=at(5, 10, 1, 32),
                                  reason="not_probed", detail="not probed", target_id="panel")
    assert (await acme(db, now=at(20, 12)))["unknown_seconds"] == 90
