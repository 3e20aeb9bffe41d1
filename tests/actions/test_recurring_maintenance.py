"""Recurring maintenance windows (``maintenance.recurring``): each occurrence is recorded
``maintenance.announce`` ahead as a window of its own, once, whichever node or run gets there
first; never one whose notice could no longer be in time (D-3, R-EX1); one called off stays
so. The daemon then notices it as any window. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from monitor import actions
from monitor.actions.maintenance import occurrences
from monitor.config import Settings, parse_config
from monitor.config.schema import RecurringWindow
from monitor.store import Database, create_engine
from monitor.store.models import AuditEvent, MaintenanceWindow, RecurringOccurrence
from tests.support import rows

TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
# A Wednesday, 12:00 UTC (15:30 in Tehran).
NOW = dt.datetime(2026, 12, 9, 12, 0, tzinfo=dt.UTC)


def settings(recurring: str, announce: str = "7d") -> Settings:
    return Settings.from_config(parse_config(f"""
provider: {{timezone: Asia/Tehran, calendar: jalali}}
servers: [{{id: srv-1, probe: {TCP}}}]
services:
  - {{id: panel, kind: web_panel, probe: {TCP}}}
  - {{id: shop, kind: project, server: srv-1, probe: {TCP}}}
customers:
  - {{id: acme, name: ACME, contacts: {{technical: {{email: it@acme.example}}}},
     fee: {{amount: 3650, currency: EUR}}, services: [shop], sites: [{{domain: acme.example}}]}}
maintenance:
  announce: {announce}
  recurring:
{recurring}
"""))


WEEKLY = ("    - {id: backup, services: [srv-1], every: [sunday], at: '02:00', duration: 1h,"
          " reason: Weekly backup}")
# Thursday 10:00 Tehran: the next one is 22 h away, inside the 48 h notice period.
TOMORROW = ("    - {id: soon, services: [panel], every: [thursday], at: '10:00', duration: 30m,"
            " reason: Panel upgrade}")


def test_a_time_of_day_written_unquoted_is_the_time_it_says() -> None:
    # YAML 1.1 reads an unquoted 23:00 as the number 1380 (minutes); 3:00 as 180.
    for written, read in (("23:00", "23:00"), ("3:00", "03:00"), ("'7:05'", "07:05")):
        chosen = settings(WEEKLY.replace("at: '02:00'", f"at: {written}"))
        assert chosen.config.maintenance.recurring[0].at == read, written


def test_occurrences_are_the_weekdays_at_the_local_time_even_across_a_clock_change() -> None:
    weekly = RecurringWindow(id="w", services=["panel"], every=["sunday", "wednesday"],
                             at="02:30", duration=3600, reason="r")
    # Tehran keeps UTC+03:30 all year: 02:30 there is 23:00 UTC the day before.
    assert occurrences(weekly, "Asia/Tehran", NOW, NOW + dt.timedelta(days=7)) == [
        dt.datetime(2026, 12, 12, 23, 0, tzinfo=dt.UTC),  # Sunday 13 December, 02:30
        dt.datetime(2026, 12, 15, 23, 0, tzinfo=dt.UTC),  # Wednesday 16 December, 02:30
    ]
    # Berlin skips 02:00-03:00 on Sunday 28 March 2027: 02:30 is read with the offset
    # before the change (+01:00), 01:30 UTC; a week later it is CEST (+02:00), 00:30 UTC.
    spring = dt.datetime(2027, 3, 25, tzinfo=dt.UTC)
    assert occurrences(weekly, "Europe/Berlin", spring, spring + dt.timedelta(days=11)) == [
        dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 31, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 4, 4, 0, 30, tzinfo=dt.UTC),
    ]
    # [since, until): an occurrence at the bound's instant is the next range's.
    sunday = dt.datetime(2026, 12, 12, 23, 0, tzinfo=dt.UTC)
    assert occurrences(weekly, "Asia/Tehran", sunday, sunday + dt.timedelta(days=3)) == [
        sunday]
    assert occurrences(weekly, "Asia/Tehran", NOW, sunday) == []


def test_monthly_occurrences_are_days_of_the_providers_months() -> None:
    monthly = RecurringWindow(id="m", services=["panel"], days_of_month=[1, "last"],
                              at="02:00", duration=3600, reason="r")
    # The Jalali months of 1405 by hand: 1 Farvardin is 21 March 2026; months 1-6 have 31
    # days, 7-11 have 30, Esfand 29 (1405 is no leap year). So 1 Dey is 22 December 2026,
    # 1 Bahman 21 January 2027, 1 Esfand 20 February 2027, and the last of Azar, Dey and
    # Bahman are the days before. 02:00 in Tehran (UTC+03:30) is 22:30 UTC the day before.
    assert occurrences(monthly, "Asia/Tehran", NOW, dt.datetime(2027, 2, 25, tzinfo=dt.UTC),
                       "jalali") == [
        dt.datetime(2026, 12, 20, 22, 30, tzinfo=dt.UTC),  # 30 Azar, its last
        dt.datetime(2026, 12, 21, 22, 30, tzinfo=dt.UTC),  # 1 Dey
        dt.datetime(2027, 1, 19, 22, 30, tzinfo=dt.UTC),  # 30 Dey, its last
        dt.datetime(2027, 1, 20, 22, 30, tzinfo=dt.UTC),  # 1 Bahman
        dt.datetime(2027, 2, 18, 22, 30, tzinfo=dt.UTC),  # 30 Bahman, its last
        dt.datetime(2027, 2, 19, 22, 30, tzinfo=dt.UTC),  # 1 Esfand
    ]
    # A day a month lacks is not moved: the 30th is in Bahman (30 days), not in Esfand 1405
    # (29 days; 29 Esfand is 20 March 2027, 1 Farvardin 1406 the 21st).
    thirtieth = RecurringWindow(id="t", services=["panel"], days_of_month=[30], at="02:00",
                                duration=3600, reason="r")
    assert occurrences(thirtieth, "Asia/Tehran", dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
                       dt.datetime(2027, 4, 1, tzinfo=dt.UTC), "jalali") == [
        dt.datetime(2027, 2, 18, 22, 30, tzinfo=dt.UTC)]
    # The Gregorian calendar: the 31st of March and of May, none in April; Berlin is on
    # CEST (+02:00) from 28 March 2027, so 02:30 is 00:30 UTC.
    last_days = RecurringWindow(id="g", services=["panel"], days_of_month=[31], at="02:30",
                                duration=3600, reason="r")
    assert occurrences(last_days, "Europe/Berlin", dt.datetime(2027, 3, 25, tzinfo=dt.UTC),
                       dt.datetime(2027, 6, 5, tzinfo=dt.UTC)) == [
        dt.datetime(2027, 3, 31, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 5, 31, 0, 30, tzinfo=dt.UTC),
    ]


def test_the_nth_weekday_of_each_month() -> None:
    # The first and the last Friday of each Jalali month, 09:00 in Tehran (05:30 UTC). By
    # hand: Azar 1405 runs 22 November to 21 December 2026, its Fridays 27 November, 4,
    # 11, 18 December; Dey 22 December to 20 January (Fridays 25 December, 1, 8, 15
    # January); Bahman 21 January to 19 February (22, 29 January, 5, 12, 19 February: five,
    # the fifth its last); Esfand begins on Saturday 20 February, its first Friday the 26th.
    fridays = RecurringWindow(id="f", services=["panel"], every=["friday"],
                              weeks_of_month=[1, "last"], at="09:00", duration=3600,
                              reason="r")
    assert occurrences(fridays, "Asia/Tehran", NOW, dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
                       "jalali") == [
        dt.datetime(2026, 12, 18, 5, 30, tzinfo=dt.UTC),  # the last of Azar
        dt.datetime(2026, 12, 25, 5, 30, tzinfo=dt.UTC),  # the first of Dey
        dt.datetime(2027, 1, 15, 5, 30, tzinfo=dt.UTC),  # the last of Dey
        dt.datetime(2027, 1, 22, 5, 30, tzinfo=dt.UTC),  # the first of Bahman
        dt.datetime(2027, 2, 19, 5, 30, tzinfo=dt.UTC),  # the last (fifth) of Bahman
        dt.datetime(2027, 2, 26, 5, 30, tzinfo=dt.UTC),  # the first of Esfand
    ]
    # The second Tuesday of each Gregorian month, 22:00 in Berlin (CET, 21:00 UTC):
    # 1 January 2027 is a Friday, 1 February and 1 March Mondays.
    second = RecurringWindow(id="s", services=["panel"], every=["tuesday"],
                             weeks_of_month=[2], at="22:00", duration=3600, reason="r")
    assert occurrences(second, "Europe/Berlin", dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                       dt.datetime(2027, 3, 20, tzinfo=dt.UTC)) == [
        dt.datetime(2027, 1, 12, 21, 0, tzinfo=dt.UTC),
        dt.datetime(2027, 2, 9, 21, 0, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 9, 21, 0, tzinfo=dt.UTC),
    ]


async def test_a_monthly_window_is_recorded_on_the_providers_calendar(db: Database) -> None:
    # 14 days announced from Wednesday 9 December 2026: the last day of Azar 1405 (Monday
    # 21 December, 02:00 Tehran = 20 December 22:30 UTC) is within them; 1 Dey is 12.4
    # days ahead too; the last of Dey (20 January) is not.
    chosen = settings("    - {id: patch, services: [srv-1], days_of_month: [1, last],"
                      " at: '02:00', duration: 2h, reason: Monthly patches}", announce="14d")
    made = await actions.record_recurring(db, chosen, now=NOW)
    first = dt.datetime(2026, 12, 20, 22, 30, tzinfo=dt.UTC)
    assert [(w.start, w.end, w.reason) for w in made] == [
        (first, first + dt.timedelta(hours=2), "Monthly patches"),
        (first + dt.timedelta(days=1), first + dt.timedelta(days=1, hours=2),
         "Monthly patches"),
    ]


async def test_each_occurrence_is_recorded_once_ahead_and_never_late(db: Database) -> None:
    chosen = settings(WEEKLY + "\n" + TOMORROW)
    made = await actions.record_recurring(db, chosen, now=NOW)
    # Sunday 13 December 02:00 Tehran = Saturday 22:30 UTC, 82.5 h ahead: recorded. The
    # panel's Thursday 10:00 is 22 h ahead: its notice could not be 48 h ahead (R-EX1),
    # it is not recorded; next Thursday's is beyond the 7 days announced.
    sunday = dt.datetime(2026, 12, 12, 22, 30, tzinfo=dt.UTC)
    assert [(w.service_ids, w.start, w.end, w.reason) for w in made] == [
        (("srv-1",), sunday, sunday + dt.timedelta(hours=1), "Weekly backup")]
    assert await actions.record_recurring(db, chosen, now=NOW + dt.timedelta(minutes=1)) == []
    [audit] = await rows(db, AuditEvent)
    assert (audit.actor, audit.action, audit.object_id) == (
        "recurring:backup", "maintenance.add", str(made[0].id))

    # Called off: not recorded again. A day later, the panel's next Thursday (8 days after
    # NOW) is within the 7 days: recorded, 6 days ahead.
    await actions.cancel_maintenance(db, window_id=made[0].id, actor="ops", now=NOW)
    later = await actions.record_recurring(db, chosen, now=NOW + dt.timedelta(days=1))
    thursday = dt.datetime(2026, 12, 17, 6, 30, tzinfo=dt.UTC)  # 10:00 Tehran
    assert [(w.service_ids, w.start) for w in later] == [(("panel",), thursday)]
    # A week on, the next Sunday's.
    week = await actions.record_recurring(db, chosen, now=NOW + dt.timedelta(days=7))
    assert [w.start for w in week] == [sunday + dt.timedelta(days=7)]
    assert sorted((o.recurring_id, o.start) for o in await rows(db, RecurringOccurrence)) == [
        ("backup", sunday), ("backup", sunday + dt.timedelta(days=7)), ("soon", thursday)]


async def test_a_window_already_recorded_alike_is_not_recorded_again(db: Database) -> None:
    # The schedule renamed (its id is how occurrences are known): the windows it recorded
    # under the old id, one since cancelled, are not recorded again under the new one; nor
    # is one an operator recorded by hand with the same services and times.
    made = await actions.record_recurring(db, settings(WEEKLY), now=NOW)
    await actions.cancel_maintenance(db, window_id=made[0].id, actor="ops", now=NOW)
    renamed = settings(WEEKLY.replace("id: backup", "id: weekly-backup"))
    assert await actions.record_recurring(db, renamed, now=NOW) == []
    week = made[0].start + dt.timedelta(days=7)
    await actions.add_maintenance(db, renamed, services=["srv-1"], start=week,
                                  end=week + dt.timedelta(hours=1), reason="by hand",
                                  actor="ops", now=NOW + dt.timedelta(days=2))
    assert await actions.record_recurring(db, renamed, now=NOW + dt.timedelta(days=7)) == []
    # Another time (a changed schedule) is another window.
    moved = settings(WEEKLY.replace("at: '02:00'", "at: '03:00'"))
    assert [w.start for w in await actions.record_recurring(db, moved, now=NOW)] == [
        made[0].start + dt.timedelta(hours=1)]
    assert len(await rows(db, MaintenanceWindow)) == 3


async def test_two_nodes_at_once_record_one_window(db_url: str, db: Database) -> None:
    # Two daemons of a cluster run their duty job at the same moment: the database's unique
    # key decides, and the other records nothing (its window is rolled back with it).
    chosen = settings(WEEKLY)
    other = create_engine(db_url)
    try:
        made = await asyncio.gather(
            actions.record_recurring(db, chosen, now=NOW),
            actions.record_recurring(Database(other), chosen, now=NOW))
    finally:
        await other.dispose()
    assert sorted(len(windows) for windows in made) == [0, 1]
    assert len(await rows(db, MaintenanceWindow)) == 1
    assert len(await rows(db, RecurringOccurrence)) == 1


async def test_without_recurring_windows_nothing_is_read(db: Database) -> None:
    plain = Settings.from_config(parse_config(f"services: [{{id: panel, kind: web_panel, "
                                              f"probe: {TCP}}}]"))
    assert await actions.record_recurring(db, plain, now=NOW) == []


@pytest.mark.parametrize(("announce", "recorded"), [("49h", 0), ("82h", 0), ("83h", 1)])
async def test_announce_bounds_how_far_ahead(db: Database, announce: str,
                                             recorded: int) -> None:
    # Sunday's occurrence is 82.5 h after NOW: within 83 h, not within 82 h.
    made = await actions.record_recurring(db, settings(WEEKLY, announce), now=NOW)
    assert len(made) == recorded
