"""A provider lived in day by day on a fake clock: the world of the month-in-the-life test.

A :class:`Life` is one provider (one of a few zones and calendars: UTC, Europe/Berlin
over a DST change, Asia/Tehran in the Jalali calendar), its own SQLite database, the
daemon's real aiohttp application on 127.0.0.1 port 0 whose clock is a
:class:`~monitor.clock.FakeClock`, and the notifier's duties over the same clock. History
is written as operators, customers and the daemon write it: the actions
(:mod:`monitor.actions`), the claim form over HTTP, and the daemon's own writers for what
only it writes (its run sessions and heartbeats, probe incidents opened and closed).

Customers:

* ``acme`` (ACME Research, 3,650 EUR a year): its shop on ``srv-1``, the design panel
  and the mobile API;
* ``bita`` (a Persian name, 120,000,000 IRR a year): its poll on ``srv-1``, the mobile
  API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry

from monitor.actions.links import LinkKeys
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.http import Web
from monitor.http.auth import TokenSet, hash_line
from monitor.notify.notifier import Notifier
from monitor.store import Database, create_engine, unknown
from monitor.store.migrate import upgrade
from tests.http.site import served

PERSIAN_NAME = "شرکت بیتا نظرسنجی"
TOKENS = {
    "write": "life-write-token-0123456789abcdef",
    "acme": "life-acme-token-0123456789abcdef",
    "bita": "life-bita-token-0123456789abcdef",
}
LINK_KEY = b"life-link-key-0123456789abcdefghijklmnopqrstuvwxyz"
TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
CUSTOMERS = ("acme", "bita")
PUBLIC_SERVICES = ("panel", "mobile")
TARGETS = ("panel", "mobile", "srv-1", "acme-shop", "bita-poll")
#: The services each customer may open a ticket about (web panel, mobile API).
TICKET_SERVICES = {"acme": ("panel", "mobile"), "bita": ("mobile",)}


@dataclass(frozen=True)
class Place:
    """Where and when a provider lives: its zone and calendar, and a month boundary (local
    midnight) that the simulated days cross."""

    timezone: str
    calendar: str
    boundary: dt.datetime  # UTC, the first instant of a month in that calendar and zone
    why: str


# Month boundaries, each the local midnight that starts a month.
PLACES = (
    Place("UTC", "gregorian", dt.datetime(2026, 7, 1, tzinfo=dt.UTC), "a Gregorian month in UTC"),
    # DST starts on the last Sunday of March (03-29): 1 April 00:00 CEST is 03-31 22:00 UTC.
    Place("Europe/Berlin", "gregorian", dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC),
          "Berlin over the spring DST change"),
    # DST ends on the last Sunday of October (10-25): 1 November 00:00 CET is 10-31 23:00 UTC.
    Place("Europe/Berlin", "gregorian", dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC),
          "Berlin over the autumn DST change"),
    # Nowruz: 1405-01-01 is 2026-03-21; Tehran keeps +03:30 all year.
    Place("Asia/Tehran", "jalali", dt.datetime(2026, 3, 20, 20, 30, tzinfo=dt.UTC),
          "the Jalali new year in Tehran"),
    # 1405-07-01 is 2026-09-23: the first 31-day half of the Jalali year ends.
    Place("Asia/Tehran", "jalali", dt.datetime(2026, 9, 22, 20, 30, tzinfo=dt.UTC),
          "a Jalali month boundary in Tehran"),
)


def config_text(place: Place, claim_deadline: str) -> str:
    return f"""
provider:
  name: Rabit Hosting
  timezone: {place.timezone}
  calendar: {place.calendar}
  sender: sla@rabit.example
  operators: [noc@rabit.example]
policy: {{claim_deadline: {claim_deadline}}}
servers:
  - {{id: srv-1, name: Host one, probe: {TCP}}}
services:
  - {{id: panel, kind: web_panel, name: Design panel, probe: {TCP}}}
  - {{id: mobile, kind: mobile_api, name: Mobile API, probe: {TCP}}}
  - {{id: acme-shop, kind: project, server: srv-1, name: ACME shop, probe: {TCP}}}
  - {{id: bita-poll, kind: project, server: srv-1, name: "نظرسنجی بیتا", probe: {TCP}}}
customers:
  - id: acme
    name: ACME Research
    contacts: {{technical: {{email: tech@acme.example}}, executive: {{email: ceo@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [acme-shop, panel, mobile]
    sites: [{{domain: acme.example, paid_until: 2027-12-31}}]
  - id: bita
    name: {json.dumps(PERSIAN_NAME)}
    contacts: {{technical: {{email: it@bita.example}}}}
    fee: {{amount: 120000000, currency: IRR}}
    services: [bita-poll, mobile]
    sites: [{{domain: bita.example, paid_until: 2027-12-31}}]
http:
  listen: "127.0.0.1:0"
"""


def tokens() -> TokenSet:
    return TokenSet.parse("\n".join([
        hash_line("write", TOKENS["write"], "noc"),
        hash_line("customer:acme", TOKENS["acme"], "acme-portal"),
        hash_line("customer:bita", TOKENS["bita"], "bita-portal"),
    ]) + "\n", "tokens")


@dataclass
class Life:
    """One provider's running world (see the module)."""

    settings: Settings
    clock: FakeClock
    db: Database
    web: Web
    notifier: Notifier
    url: str
    session: aiohttp.ClientSession  # no cookies: tokens and public faces
    browsers: dict[str, aiohttp.ClientSession]  # one cookie jar per customer (its link)
    daemon_session: int
    links: LinkKeys = field(default_factory=lambda: LinkKeys((LINK_KEY,)))

    def now(self) -> dt.datetime:
        return self.clock.now()

    def move_to(self, at: dt.datetime) -> None:
        seconds = (at - self.clock.now()).total_seconds()
        if seconds > 0:
            self.clock.advance(seconds)

    async def heartbeat(self) -> None:
        """The daemon is alive now (its heartbeat, R-M3: monitored time)."""
        async with self.db.transaction() as tx:
            await unknown.beat(tx, self.daemon_session, self.clock.now())


@asynccontextmanager
async def living(place: Place, claim_deadline: str, start: dt.datetime,
                 folder: Path) -> AsyncIterator[Life]:
    """A provider at ``place`` from ``start`` (its daemon has run for 40 days), its
    database in ``folder``, its application served on 127.0.0.1:0; all stopped after."""
    settings = Settings.from_config(parse_config(config_text(place, claim_deadline)))
    clock = FakeClock(start)
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'life.db'}")
    await upgrade(engine)
    db = Database(engine)
    async with db.transaction() as tx:
        session = await unknown.add_session(tx, started_at=start - dt.timedelta(days=40),
                                            hostname="life", pid=1, version="test")
        await unknown.beat(tx, session, start)
    context = Web(db, settings, clock, tokens(), LinkKeys((LINK_KEY,)))

    notifier = Notifier(settings, db, clock, CollectorRegistry())
    async with AsyncExitStack() as opened:  # closed in reverse: clients, server, engine
        opened.push_async_callback(engine.dispose)
        await opened.enter_async_context(served(context, targets=5))
        plain = await opened.enter_async_context(
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()))
        browsers = {customer: await opened.enter_async_context(
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
            for customer in CUSTOMERS}
        yield Life(settings, clock, db, context, notifier, context.bound_url, plain,
                   browsers, session)
