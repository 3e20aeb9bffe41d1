"""A provider for the HTTP tests: a configuration with a web panel, a mobile API, a server
with three customers' projects, customers with awkward names (Persian; HTML, quotes and
CRLF), API tokens and a link key in files; and the real aiohttp application of the
daemon served on 127.0.0.1, port 0.

Customers:

* ``acme`` (ACME Research): project ``acme-shop`` on ``srv-1``, mobile API;
* ``bita`` (شرکت بیتا نظرسنجی): project ``bita-survey`` on ``srv-1``;
* ``evil``: a name with markup, quotes and a header-injection attempt, project
  ``evil-site`` on ``srv-2``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.actions.links import load_link_keys
from monitor.clock import Clock, SystemClock
from monitor.config import Settings, parse_config
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import hash_line, load_tokens
from monitor.store import Database

EVIL_NAME = '<script>alert("pwned")</script> & \'Quotes\' "Inc"\r\nSet-Cookie: stolen=1'
PERSIAN_NAME = "شرکت بیتا نظرسنجی"
TOKENS = {
    "write": "write-token-0123456789abcdef",
    "read": "read-token-0123456789abcdef",
    "acme": "acme-token-0123456789abcdef",
    "bita": "bita-token-0123456789abcdef",
    "revoked": "revoked-token-0123456789abcdef",
}
LINK_KEY = "link-key-0123456789abcdefghijklmnopqrstuvwxyz"
OLD_LINK_KEY = "old-link-key-0123456789abcdefghijklmnopqrstu"


def config_text(tmp: Path, provider: str = "Demo Hosting", calendar: str = "gregorian",
                timezone: str = "UTC", extra_http: str = "", language: str = "en",
                customer_languages: dict[str, str] | None = None) -> str:
    """The provider's configuration; ``language`` the provider's (``provider.language``),
    ``customer_languages`` the customers' own (``customers[].language``)."""
    tcp = "{type: tcp, host: 127.0.0.1, port: 9}"
    chosen = customer_languages or {}

    def spoken(customer: str) -> str:
        return f"\n    language: {chosen[customer]}" if customer in chosen else ""

    return f"""
provider: {{name: {json.dumps(provider)}, timezone: {timezone}, calendar: {calendar}, language: {language}}}
# R-C1 with 40 days: last month is always still open to claims, three months ago never.
policy: {{claim_deadline: 40d}}
servers:
  - {{id: srv-1, name: "Server one", probe: {tcp}}}
  - {{id: srv-2, probe: {tcp}}}
services:
  - {{id: panel, kind: web_panel, name: "Web panel", probe: {tcp}}}
  - {{id: mobile, kind: mobile_api, name: "Mobile app API", probe: {tcp}}}
  - {{id: acme-shop, kind: project, server: srv-1, name: "ACME shop", probe: {tcp}}}
  - {{id: bita-survey, kind: project, server: srv-1, name: "نظرسنجی بیتا", probe: {tcp}}}
  - {{id: evil-site, kind: project, server: srv-2, probe: {tcp}}}
customers:
  - id: acme
    name: ACME Research
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [acme-shop, mobile]
    sites: [{{domain: acme.example}}]{spoken("acme")}
  - id: bita
    name: "{PERSIAN_NAME}"
    contacts: {{technical: {{email: it@bita.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [bita-survey]
    sites: [{{domain: bita.example}}]{spoken("bita")}
  - id: evil
    name: {json.dumps(EVIL_NAME)}
    contacts: {{technical: {{email: ops@evil.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [evil-site]
    sites: [{{domain: evil.example}}]{spoken("evil")}
http:
  listen: "127.0.0.1:0"
  tokens_file: {tmp / "api-tokens"}
  link_key_file: {tmp / "link-key"}
{extra_http}
"""


def write_secrets(tmp: Path, revoked: bool = False) -> None:
    lines = [
        hash_line("write", TOKENS["write"], "noc"),
        f"read {TOKENS['read']} grafana",  # a plain token is accepted too
        hash_line("customer:acme", TOKENS["acme"], "acme-portal"),
        hash_line("customer:bita", TOKENS["bita"], "bita-portal"),
    ]
    if not revoked:
        lines.append(hash_line("write", TOKENS["revoked"], "leaving"))
    (tmp / "api-tokens").write_text("# test tokens\n" + "\n".join(lines) + "\n")
    (tmp / "link-key").write_text(f"{LINK_KEY}\n{OLD_LINK_KEY}\n")


@dataclass
class Site:
    url: str
    web: Web
    db: Database
    session: aiohttp.ClientSession
    tmp: Path
    web_app: web.Application

    @property
    def settings(self) -> Settings:
        return self.web.settings

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}"}

    async def get(self, path: str, who: str | None = None, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {**(self.auth(who) if who else {}), **kwargs.pop("headers", {})}
        return await self.session.get(self.url + path, headers=headers,
                                      allow_redirects=False, **kwargs)

    async def post(self, path: str, who: str | None = None, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {**(self.auth(who) if who else {}), **kwargs.pop("headers", {})}
        return await self.session.post(self.url + path, headers=headers,
                                       allow_redirects=False, **kwargs)

    def reload_secrets(self, revoked: bool) -> None:
        """What SIGHUP does to the tokens and keys (prepare, then swap)."""
        write_secrets(self.tmp, revoked=revoked)
        self.web.tokens = load_tokens(self.settings.http, frozenset(self.settings.topology.customers))
        self.web.links = load_link_keys(self.settings.http)


@asynccontextmanager
async def served(context: Web, targets: int) -> AsyncIterator[web.Application]:
    """The daemon's application over ``context`` on 127.0.0.1, port 0 (its URL set as
    ``context.bound_url``, read from aiohttp's public ``runner.addresses``); cleaned up
    after."""

    async def ready() -> Readiness:
        return Readiness({"database": await context.db.ping(), "scheduler": True},
                         targets=targets)

    app = make_app(CollectorRegistry(), ready, context)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        context.bound_url = f"http://{host}:{port}"
        yield app
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(db: Database, tmp: Path, clock: Clock | None = None,
                **config: Any) -> AsyncIterator[Site]:
    """The daemon's HTTP application over ``db``, on 127.0.0.1:0 (``clock``: the daemon's
    clock, the system's by default)."""
    write_secrets(tmp)
    settings = Settings.from_config(parse_config(config_text(tmp, **config)))
    context = Web(db, settings, clock or SystemClock(),
                  load_tokens(settings.http, frozenset(settings.topology.customers)),
                  load_link_keys(settings.http))

    async with served(context, targets=7) as app, aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Site(context.bound_url, context, db, session, tmp, app)


class StoppedClock:
    """A daemon's clock stopped at ``at`` (a page seen on a given day); monotonic time runs."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)
