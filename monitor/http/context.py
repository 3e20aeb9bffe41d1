"""What every request handler reaches: the database, the settings in force (swapped on
reload), the clock, the tokens and the link keys, in one object on the application."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from monitor.actions.evidence_keys import SigningKey
from monitor.actions.links import LinkKeys
from monitor.actions.push_book import PushBook
from monitor.actions.subscriptions import RateLimits
from monitor.clock import Clock
from monitor.config import Settings
from monitor.http.auth import TokenSet
from monitor.http.cache import PageCache
from monitor.store import Database

__all__ = ["WEB", "Web"]


@dataclass
class Web:
    db: Database
    settings: Settings
    clock: Clock
    tokens: TokenSet = field(default_factory=TokenSet)
    links: LinkKeys | None = None
    evidence_key: SigningKey | None = None  # signs the evidence chain (evidence.signing_key)
    bound_url: str | None = None  # where the server listens, once bound (port 0 resolved)
    # The routes answered one at a time (routing.Route.one_at_a_time), by operation id.
    running: dict[str, asyncio.Lock] = field(default_factory=dict)
    # The running configuration's check, with the settings it was made for (api.py).
    running_check: tuple[Settings, Any] | None = None
    # The public pages and customers' pages as rendered, until what they show changes.
    pages: PageCache = field(default_factory=PageCache)
    # The status page's subscription requests per address and per client (429 beyond).
    subscriptions: RateLimits = field(default_factory=RateLimits)
    # Push targets' last pushes: the daemon's probes' own book (monitor.probes.push).
    pushes: PushBook = field(default_factory=PushBook)

    @property
    def public_url(self) -> str:
        """The pages' address as customers reach it (``http.public_url``)."""
        configured = self.settings.http.public_url
        if configured:
            return configured
        if self.bound_url is not None:
            return self.bound_url
        host, _, port = self.settings.http.listen.rpartition(":")
        return f"http://{host}:{port}"

    @property
    def secure(self) -> bool:
        return self.public_url.startswith("https://")


WEB = web.AppKey("web", Web)
