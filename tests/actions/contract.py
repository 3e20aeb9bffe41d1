"""The scenario of the claim, ticket and ledger tests: a provider in UTC whose
weekend is Friday, with one configured holiday (Monday 2026-11-09), and:

* ``acme`` (fee 12,000,000 IRR a year): its project on ``srv-1`` and the mobile API; sites
  ``acme.example`` and ``shop.acme.example`` (paid until 2099-06-30: the command line's
  tests run on the wall clock, and a site lapsed is refused support, L-2) and
  ``old.acme.example`` (lapsed: paid until 2026-09-30);
* ``bita`` (a Persian name, 3,650 EUR a year: 10 EUR a day): ``bita.example``, paid until
  2026-12-15;
* ``gone`` (3,650 EUR): its only site lapsed on 2026-06-30 (R-EX5: no credit at all).

Ticket types: ``reinstall`` at 2,500,000 and ``receipt`` at 500,000 (in the site's currency).
``NOW`` is 2026-11-30 12:00 UTC, after October's claims closed (2026-11-15) and before
November ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from monitor.config import Settings, parse_config
from monitor.errors import InputError
from monitor.notify.contract import ContractMailer
from monitor.store import Database
from monitor.store.models import (
    AuditEvent,
    Claim,
    LedgerEntry,
    OutboxMessage,
    Ticket,
    TicketEvent,
)
from tests.support import row_counts, rows

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
TCP = "{type: tcp, host: 127.0.0.1, port: 9}"

YAML = """
provider:
  name: Rabit Hosting
  timezone: __TZ__
  calendar: __CALENDAR__
  holidays: [2026-11-09]
  operators: [noc@rabit.example]
servers: [{id: srv-1, probe: __TCP__}]
services:
  - {id: panel, kind: web_panel, name: Design panel, probe: __TCP__}
  - {id: mobile-api, kind: mobile_api, name: Mobile API, probe: __TCP__}
  - {id: acme-survey, kind: project, server: srv-1, probe: __TCP__}
customers:
  - id: acme
    name: ACME Research
    contacts: {technical: {email: tech@acme.example}, executive: {email: ceo@acme.example}}
    fee: {amount: 12000000, currency: IRR}
    services: [acme-survey, mobile-api]
    sites:
      - {domain: acme.example, paid_until: 2099-06-30}
      - {domain: shop.acme.example, paid_until: 2099-06-30}
      - {domain: old.acme.example, paid_until: 2026-09-30}
  - id: bita
    name: شرکت بیتا نظرسنجی
    contacts: {technical: {email: it@bita.example}}
    fee: {amount: 3650, currency: EUR}
    sites: [{domain: bita.example, paid_until: 2026-12-15}]
  - id: gone
    name: Gone Ltd
    contacts: {technical: {email: it@gone.example}}
    fee: {amount: 3650, currency: EUR}
    sites: [{domain: gone.example, paid_until: 2026-06-30}]
ticket_types:
  - {id: reinstall, name: Reinstallation, price: 2500000}
  - {id: receipt, name: Registering a payment receipt, price: 500000}
"""


def yaml(timezone: str = "UTC", calendar: str = "gregorian") -> str:
    return (YAML.replace("__TZ__", timezone).replace("__CALENDAR__", calendar)
            .replace("__TCP__", TCP))


def settings(timezone: str = "UTC", calendar: str = "gregorian") -> Settings:
    return Settings.from_config(parse_config(yaml(timezone, calendar)))


SETTINGS = settings()
MAIL = ContractMailer(SETTINGS, NOW)
MODELS = (Claim, Ticket, TicketEvent, LedgerEntry, OutboxMessage, AuditEvent)


async def counts(db: Database) -> dict[str, int]:
    return await row_counts(db, MODELS)


async def refused(db: Database, call: Callable[[], Awaitable[Any]], field: str, value: object,
                  allowed: str) -> InputError:
    """The call is refused naming ``field`` and ``value`` (never a --flag), with ``allowed``
    in the message, and no row of any table changed (SPEC section 8)."""
    before = await counts(db)
    snapshot = [(e.id, e.days, e.amount) for e in await rows(db, LedgerEntry)]
    with pytest.raises(InputError) as error:
        await call()
    assert (error.value.field, error.value.value) == (field, value), str(error.value)
    assert allowed in str(error.value), str(error.value)
    assert "--" not in str(error.value)
    assert await counts(db) == before
    assert [(e.id, e.days, e.amount) for e in await rows(db, LedgerEntry)] == snapshot
    return error.value


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> dt.datetime:
    """An instant of 2026 in UTC (November by default)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)
