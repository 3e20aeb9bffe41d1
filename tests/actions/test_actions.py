"""The service layer (monitor.actions), called the way the CLI and the HTTP API call it:
typed results, and bad input refused with the *field* named (never a --flag), the value and
what is allowed, changing nothing (rows counted before and after). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.errors import InputError
from monitor.sla.report import iso_utc
from monitor.store import Database, create_engine, incidents
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    Incident,
    MaintenanceNotice,
    MaintenanceWindow,
    Notification,
)
from tests.support import row_counts, rows

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
SETTINGS = Settings.from_config(parse_config(f"""
servers: [{{id: srv-1, probe: {TCP}}}]
services:
  - {{id: panel, kind: web_panel, probe: {TCP}}}
  - {{id: shop, kind: project, server: srv-1, probe: {TCP}}}
customers:
  - {{id: acme, name: ACME, contacts: {{technical: {{email: it@acme.example}}}},
     fee: {{amount: 3650, currency: EUR}}, services: [shop], sites: [{{domain: acme.example}}]}}
  - {{id: beta, name: Beta, contacts: {{technical: {{email: it@beta.example}}}},
     fee: {{amount: 365, currency: EUR}}, sites: [{{domain: beta.example}}]}}
"""))
MODELS = (Incident, CauseChange, Notification, MaintenanceWindow, MaintenanceNotice, AuditEvent)


async def counts(db: Database) -> dict[str, int]:
    return await row_counts(db, MODELS)


async def refused(db: Database, call: Callable[[], Awaitable[Any]], field: str,
                  value: object, allowed: str) -> None:
    before = await counts(db)
    with pytest.raises(InputError) as error:
        await call()
    assert (error.value.field, error.value.value) == (field, value)
    assert allowed in str(error.value)
    assert "--" not in str(error.value)  # each edge words it: --end, /end
    assert await counts(db) == before


async def add(db: Database, **changes: Any) -> actions.IncidentRecord:
    values: dict[str, Any] = {"service": "panel", "start": NOW - 3 * HOUR, "end": NOW - 2 * HOUR,
                              "actor": "ops", "now": NOW, **changes}
    return await actions.add_incident(db, SETTINGS, **values)


@pytest.mark.slow
async def test_incidents_recorded_changed_and_notified(db: Database) -> None:
    incident = await add(db, note="phoned in")
    assert (incident.service_id, incident.source, incident.cause, incident.note) == (
        "panel", "manual", "provider", "phoned in")
    changed = await actions.change_cause(db, incident_id=incident.id, cause="external",
                                         reason="country-wide cut-off", actor="ops", now=NOW)
    assert (changed.old_cause, changed.incident.cause) == ("provider", "external")
    logged = await actions.log_notification(db, SETTINGS, incident_id=incident.id,
                                            at=NOW - 150 * dt.timedelta(minutes=1),
                                            channel="phone", actor="ops", now=NOW)
    assert logged.customers == ("acme", "beta")  # every customer of the panel (R-M4)
    assert [i.id for i in await actions.list_incidents(db, SETTINGS, service="panel")] == [
        incident.id]
    assert await actions.list_incidents(db, SETTINGS, open_only=True) == []
    assert [e.action for e in await rows(db, AuditEvent)] == ["incident.add", "incident.notified"]
    assert [c.reason for c in await rows(db, CauseChange)] == ["country-wide cut-off"]


async def test_bad_incident_input_names_the_field_and_changes_nothing(db: Database) -> None:
    first = await add(db)
    await refused(db, lambda: add(db, service="panle"), "service", "panle",
                  "one of the configured services and servers: panel, shop, srv-1")
    await refused(db, lambda: add(db, end=NOW - 4 * HOUR), "end",
                  iso_utc(NOW - 4 * HOUR), f"a time after start ({iso_utc(NOW - 3 * HOUR)})")
    await refused(db, lambda: add(db, end=NOW + HOUR), "end", iso_utc(NOW + HOUR),
                  "a time not after now")
    await refused(db, lambda: add(db, cause="weather"), "cause", "weather", "one of: provider")
    await refused(db, lambda: add(db, start=NOW - 150 * dt.timedelta(minutes=1), end=NOW),
                  "start", iso_utc(NOW - 150 * dt.timedelta(minutes=1)),
                  f"not overlapping manual incident {first.id} on panel")
    await refused(db, lambda: actions.change_cause(db, incident_id=999, cause="external",
                                                   reason="x", actor="ops", now=NOW),
                  "incident_id", 999, "an existing incident id")
    await refused(db, lambda: actions.change_cause(db, incident_id=first.id, cause="external",
                                                   reason=" ", actor="ops", now=NOW),
                  "reason", " ", "a non-empty explanation")
    await refused(db, lambda: actions.log_notification(
        db, SETTINGS, incident_id=first.id, at=NOW, channel="pigeon", actor="ops", now=NOW),
        "channel", "pigeon", "one of: phone, email")
    await refused(db, lambda: actions.log_notification(
        db, SETTINGS, incident_id=first.id, at=NOW, channel="phone", customers=["nobody"],
        actor="ops", now=NOW), "customer", "nobody", "customers affected by panel: acme, beta")


@pytest.mark.parametrize(("ahead", "late"), [
    (dt.timedelta(hours=48), False),  # exactly 48 h ahead: in time (R-EX1)
    (dt.timedelta(hours=48) - dt.timedelta(seconds=1), True),
])
async def test_maintenance_notice_late_on_the_engines_boundary(
    db: Database, ahead: dt.timedelta, late: bool
) -> None:
    added = await actions.add_maintenance(db, SETTINGS, services=["srv-1"], start=NOW + ahead,
                                          end=NOW + ahead + HOUR, reason="kernel", actor="ops",
                                          now=NOW)
    assert (added.window.service_ids, added.noticed, added.notice_late) == (("srv-1",), (), late)


async def test_maintenance_noticed_by_other_means_and_listed(db: Database) -> None:
    added = await actions.add_maintenance(db, SETTINGS, services=["srv-1", "panel"],
                                          start=NOW + HOUR, end=NOW + 2 * HOUR, reason="kernel",
                                          notified_at=NOW - HOUR, actor="ops", now=NOW)
    assert added.noticed == ("acme", "beta") and not added.notice_late
    listed = await actions.list_maintenance(db)
    assert [(m.window.id, m.window.service_ids, m.notices) for m in listed] == [
        (added.window.id, ("panel", "srv-1"), 2)]
    await refused(db, lambda: actions.add_maintenance(
        db, SETTINGS, services=["srv-1", "nope"], start=NOW, end=NOW + HOUR, reason="x",
        actor="ops", now=NOW), "services", "nope", "one of the configured services")
    await refused(db, lambda: actions.add_maintenance(
        db, SETTINGS, services=["srv-1"], start=NOW, end=NOW + HOUR, reason="x",
        notified_at=NOW + HOUR, actor="ops", now=NOW), "notified_at", iso_utc(NOW + HOUR),
        "a time not after now")


async def test_reports_validate_month_and_customer_and_close_revisions(db: Database) -> None:
    await refused(db, lambda: actions.month_report(db, SETTINGS, month="2026-13", now=NOW),
                  "month", "2026-13", "a month YYYY-MM, MM 01 to 12")
    await refused(db, lambda: actions.month_report(db, SETTINGS, month="2026-04",
                                                   customer="nobody", now=NOW),
                  "customer", "nobody", "one of the configured customers: acme, beta")
    await refused(db, lambda: actions.close_month(db, SETTINGS, month="2026-05", now=NOW),
                  "month", "2026-05", "a month that has ended")
    # A month that has not begun has no report (not 100 % of nothing): refused, named.
    await refused(db, lambda: actions.month_report(db, SETTINGS, month="2026-06", now=NOW),
                  "month", "2026-06", "a month that has begun (this one begins 2026-06-01")
    await refused(db, lambda: actions.month_report(db, SETTINGS, month="2026-06",
                                                   customer="beta", now=NOW),
                  "month", "2026-06", "a month that has begun")
    running = await actions.month_report(db, SETTINGS, month="2026-05", now=NOW)
    assert running.period.label == "2026-05"  # the running month is a projection, as before
    await add(db, start=dt.datetime(2026, 4, 10, tzinfo=dt.UTC),
              end=dt.datetime(2026, 4, 10, 2, tzinfo=dt.UTC))
    report = await actions.month_report(db, SETTINGS, month="2026-04", customer="beta", now=NOW)
    assert [c.customer for c in report.customers] == ["beta"]
    # 2 h of the panel in a 30-day April: (2,592,000 - 7,200) / 2,592,000 → tier 1w (R-T1).
    assert (report.customers[0].downtime_seconds, report.customers[0].tier) == (7200, "1w")
    closed = await actions.close_month(db, SETTINGS, month="2026-04", now=NOW)
    again = await actions.close_month(db, SETTINGS, month="2026-04", now=NOW)
    assert (closed.revision, closed.created, again.revision, again.created) == (1, True, 1, False)


async def test_a_nul_in_a_note_is_refused_on_both_databases_not_a_database_error(
        db: Database) -> None:
    # PostgreSQL cannot store a NUL in text: it once answered the API with a 500 and the CLI
    # with a traceback; now it is refused before anything, on SQLite alike.
    await add(db)  # something recorded first
    await refused(db, lambda: add(db, note="phoned\x00in"), "note", "phoned\x00in",
                  "text without a NUL character")
    await refused(db, lambda: actions.open_ticket(
        db, SETTINGS, customer="acme", service="panel", channel="email",
        summary="slow \ud800", actor="ops", now=NOW), "summary", "slow \ud800",
        "or a lone surrogate")


async def test_an_incident_stored_ending_before_it_began_is_left_out_and_named(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    # A daemon of an earlier version, restarted on a wall clock set back while an incident
    # was open, wrote it ending before its start (no version writes that now: the incident
    # book ends it after its last failure seen). Every report of its month then failed
    # with a traceback ("end ... must be after start"), and the SLA metrics with it. Such
    # an incident has no duration: no counted time, no notification owed (R-M4, R-N1);
    # the reports leave it out and a warning names it.
    start = dt.datetime(2026, 4, 10, 10, 0, tzinfo=dt.UTC)
    async with db.transaction() as tx:
        broken = await incidents.open_probe_incident(
            tx, service_id="panel", start=start, start_bound=None, detected_at=start,
            created_at=start)
        await incidents.close(tx, broken, end=start - HOUR, end_bound=None)
    await add(db, start=dt.datetime(2026, 4, 12, tzinfo=dt.UTC),
              end=dt.datetime(2026, 4, 12, 1, tzinfo=dt.UTC))
    with caplog.at_level(logging.WARNING, logger="monitor.actions.inputs"):
        report = await actions.month_report(db, SETTINGS, month="2026-04", now=NOW)
    beta = report.customer("beta")
    # The manual hour alone, of the panel beta depends on: 3,600 s.
    assert beta.downtime_seconds == 3600
    assert [line.id for line in beta.incidents] != [] and broken not in [
        line.id for line in beta.incidents]
    said = [r for r in caplog.records if "ending before it began" in r.getMessage()]
    assert [r.incident for r in said] == [broken]  # type: ignore[attr-defined]


def test_an_unknown_id_among_thousands_is_answered_with_the_nearest_not_every_one() -> None:
    """With 10,000 customers configured, a mistyped customer id was answered with every
    id: one line of 80,000 characters (the command line's error, the API's 422 body). A
    short list is still given whole; a long one is counted, with the nearest ids when
    any is near (difflib's ratio of 0.6, as Python's own suggestions)."""
    from monitor.actions.common import known
    from monitor.errors import NotFound

    many = [f"customer-{number}" for number in range(10_000)]
    with pytest.raises(NotFound) as refused_id:
        known("custmer-4711", many, "customer", "customers")
    message = str(refused_id.value)
    assert message.startswith(
        "customer: 'custmer-4711' is not valid; allowed: one of the configured customers:"
        " 10,000 ids, the nearest customer-4711, ")  # the nearest first, two more at most
    assert len(message.split("the nearest ")[1].split(", ")) == 3 and len(message) < 160
    with pytest.raises(NotFound) as far:
        known("zzz", many, "customer", "customers")
    assert str(far.value) == ("customer: 'zzz' is not valid; allowed: one of the configured"
                              " customers: 10,000 ids, none near it")
    with pytest.raises(NotFound) as few:
        known("nobody", ["acme", "beta"], "customer", "customers")
    assert few.value.allowed == "one of the configured customers: acme, beta"


async def test_a_cancelled_window_excludes_nothing_and_a_refused_cancel_changes_nothing(
        db: Database) -> None:
    # Two windows on srv-1, each noticed by other means 71 h ahead (in time, R-EX1), each
    # with an hour's outage of srv-1 inside it; the first is called off before it begins.
    def window(day: int) -> dict[str, Any]:
        start = dt.datetime(2026, 5, day, 12, tzinfo=dt.UTC)
        return {"services": ["srv-1"], "start": start, "end": start + 2 * HOUR,
                "reason": "kernel", "notified_at": NOW - HOUR, "actor": "ops", "now": NOW}

    first = await actions.add_maintenance(db, SETTINGS, **window(4))
    second = await actions.add_maintenance(db, SETTINGS, **window(6))
    cancelled = await actions.cancel_maintenance(db, window_id=first.window.id,
                                                 actor="ops", now=NOW + HOUR)
    assert cancelled.window.cancelled_at == NOW + HOUR
    # Its notice was recorded for acme (its project is on srv-1): acme is told it is off.
    assert (cancelled.withdrawn, cancelled.told) == (0, ("acme",))
    later = dt.datetime(2026, 5, 7, tzinfo=dt.UTC)
    for day in (4, 6):
        outage = dt.datetime(2026, 5, day, 12, 30, tzinfo=dt.UTC)
        await add(db, service="srv-1", start=outage, end=outage + HOUR, now=later)
    report = await actions.month_report(db, SETTINGS, month="2026-05", customer="acme",
                                        now=later)
    acme = report.customers[0]
    # R-EX1: the hour inside the window that stood is excluded; the hour inside the one
    # called off counts: 3,600 s each.
    assert (acme.downtime_seconds, acme.excluded_seconds) == (3600, 3600)
    assert {k: v for k, v in acme.excluded_by_reason.items() if v} == {"maintenance": 3600}
    assert [m.window.cancelled_at for m in await actions.list_maintenance(db)] == [
        NOW + HOUR, None]
    assert [e.action for e in await rows(db, AuditEvent)][-3:] == [
        "maintenance.cancel", "incident.add", "incident.add"]

    # Refused, naming the window, and nothing written: cancelled already; begun; unknown.
    await refused(db, lambda: actions.cancel_maintenance(
        db, window_id=first.window.id, actor="ops", now=NOW + 2 * HOUR),
        "window_id", first.window.id, "a window not cancelled yet (this one was cancelled "
        "2026-05-01T13:00:00Z)")
    began = second.window.start + dt.timedelta(minutes=1)
    await refused(db, lambda: actions.cancel_maintenance(
        db, window_id=second.window.id, actor="ops", now=began),
        "window_id", second.window.id, "a window that has not begun (this one began "
        "2026-05-06T12:00:00Z")
    await refused(db, lambda: actions.cancel_maintenance(
        db, window_id=999, actor="ops", now=NOW), "window_id", 999,
        "an existing maintenance window id")
    # An update of the window called off is refused too: it is shown nowhere.
    await refused(db, lambda: actions.post_maintenance_update(
        db, window_id=first.window.id, status="in_progress", message="x", actor="ops",
        now=NOW + 2 * HOUR), "window_id", first.window.id, "a window not cancelled")


async def test_two_cancels_at_once_cancel_once(db_url: str, db: Database) -> None:
    # Two operators (or a retried request) cancel the same window at once: one cancels, the
    # other is refused and writes nothing (one audit row, one chain entry of the cancel).
    added = await actions.add_maintenance(db, SETTINGS, services=["srv-1"],
                                          start=NOW + 72 * HOUR, end=NOW + 73 * HOUR,
                                          reason="kernel", actor="ops", now=NOW)
    other = create_engine(db_url)
    try:
        results = await asyncio.gather(
            actions.cancel_maintenance(db, window_id=added.window.id, actor="a", now=NOW),
            actions.cancel_maintenance(Database(other), window_id=added.window.id, actor="b",
                                       now=NOW),
            return_exceptions=True)
    finally:
        await other.dispose()
    refused = [r for r in results if isinstance(r, InputError)]
    assert len(refused) == 1 and refused[0].field == "window_id"
    assert "a window not cancelled yet" in str(refused[0])
    assert [e.action for e in await rows(db, AuditEvent)].count("maintenance.cancel") == 1
