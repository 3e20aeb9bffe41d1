"""The statement tests' month: Gregorian October 2026 in UTC, 31 days, recorded as
an operator would, and worked by hand:

* ``acme`` (3,650 EUR a year: 10 EUR a day) runs ``acme-survey`` on ``srv-1``:
  - incident 1, an outage of ``acme-survey`` 10-05 10:00-12:00 (7,200 s), phoned 30 min in
    (R-N1 in time);
  - maintenance window 1 on ``srv-1`` 10-12 00:00-02:00, noticed 10-09 00:00, 72 h ahead
    (R-EX1: excluded), and incident 2, ``srv-1`` down 10-12 00:30-01:30 inside it
    (3,600 s excluded);
  - incident 3, ``acme-survey`` 10-20 08:00-08:30 (1,800 s), phoned 2 h 30 min in: late
    (R-N1: one day of credit).
  Counted 7,200 + 1,800 = 9,000 s (2 h 30 min) >= 1 h 30 min: tier 1w, 7 days (R-T1);
  availability (2,678,400 - 9,000) / 2,678,400 = 99.66397...%, shown 99.663 (R-M6, rounded
  down), below 99.8 (R-T0). Credit 7 + 1 = 8 days, worth 8 x 3,650 / 365 = 80.00 EUR
  (R-T2). No daemon ever ran: the month less the outages (12,600 s) is unknown time,
  2,665,800 s (R-M3).
* ``bita``, a Persian name, only ``bita-poll`` on ``srv-2``: a clean month, 100 %.
* ``gone``: its only site lapsed on 2026-06-30 (R-EX5); ``dorna`` runs a clone (R-EX6).
"""

from __future__ import annotations

import datetime as dt

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.store import Database

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 3, 9, 0, tzinfo=UTC)  # October has ended; claims close 11-15
BITA = "شرکت بیتا نظرسنجی"
TCP = "{type: tcp, host: 127.0.0.1, port: 9}"


def yaml(extra: str = "", tcp: str = TCP) -> str:
    """The configuration; ``tcp`` is every probe (a live local port for a running daemon)."""
    return f"""
provider: {{name: Rabit Hosting, timezone: UTC, calendar: gregorian, sender: sla@rabit.example}}
servers:
  - {{id: srv-1, name: Tehran host 1, probe: {tcp}}}
  - {{id: srv-2, name: Tehran host 2, probe: {tcp}}}
services:
  - {{id: acme-survey, kind: project, server: srv-1, name: ACME survey, probe: {tcp}}}
  - {{id: bita-poll, kind: project, server: srv-2, probe: {tcp}}}
  - {{id: gone-site, kind: project, server: srv-2, probe: {tcp}}}
  - {{id: dorna-census, kind: project, server: srv-2, probe: {tcp}}}
customers:
  - id: acme
    name: ACME Research
    contacts: {{technical: {{email: tech@acme.example}}, executive: {{email: ceo@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [acme-survey]
    sites: [{{domain: acme.example, paid_until: 2099-06-30}}]
  - id: bita
    name: {BITA}
    contacts: {{technical: {{email: it@bita.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [bita-poll]
    sites: [{{domain: bita.example, paid_until: 2099-06-30}}]
  - id: gone
    name: Gone Ltd
    contacts: {{technical: {{email: it@gone.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [gone-site]
    sites: [{{domain: gone.example, paid_until: 2026-06-30}}]
  - id: dorna
    name: Dorna Statistics
    contacts: {{technical: {{email: ops@dorna.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [dorna-census]
    clone: true
    sites: [{{domain: dorna.example, paid_until: 2099-06-30}}]
{extra}"""


def settings(extra: str = "") -> Settings:
    return Settings.from_config(parse_config(yaml(extra)))


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def record_october(db: Database, settings: Settings) -> None:
    """The month above, through the same actions as the CLI."""
    now = at(25)
    first = await actions.add_incident(db, settings, service="acme-survey", start=at(5, 10),
                                       end=at(5, 12), actor="ops", now=now)
    await actions.log_notification(db, settings, incident_id=first.id, at=at(5, 10, 30),
                                   channel="phone", customers=("acme",), actor="ops", now=now)
    await actions.add_maintenance(db, settings, services=["srv-1"], start=at(12), end=at(12, 2),
                                  reason="kernel upgrade", notified_at=at(9), actor="ops",
                                  now=now)
    await actions.add_incident(db, settings, service="srv-1", start=at(12, 0, 30),
                               end=at(12, 1, 30), actor="ops", now=now)
    third = await actions.add_incident(db, settings, service="acme-survey", start=at(20, 8),
                                       end=at(20, 8, 30), actor="ops", now=now)
    await actions.log_notification(db, settings, incident_id=third.id, at=at(20, 10, 30),
                                   channel="phone", customers=("acme",), actor="ops", now=now)
