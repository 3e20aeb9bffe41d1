"""The operators' channels besides e-mail: Slack, Telegram, Microsoft Teams, Matrix, ntfy,
Discord and the rest, through Apprise (``operators.notify``, ``operators.notify_file``).

Every operator message the duties write to the outbox (``ops_*``: an outage with its
failure class, redacted detail and URL, its recovery, a duty at risk, a message given up,
a late maintenance notice) is also handed to each channel. Delivery is as durable as the
e-mail's and happens once per channel, also with several nodes: a row of
``operator_deliveries`` per message and channel is claimed by one process for
``timeout`` + 30 s before it sends, and records when the channel took it; a failed
delivery ends the claim, so the next round (5 s later, or at once when something new is
written) tries again, for an hour after the message was written. A process that dies
holding a claim loses it when the claim runs out.

**Decisions.** The URLs hold tokens: they are read from the configuration or, better, a
file (a systemd credential), never stored (a channel is a digest of its URL) and never
shown (a delivery is logged by its service name and the URL's digest). Each URL is checked
by Apprise when the daemon starts or reloads: a URL no Apprise plugin takes stops the
start (exit 2) or refuses the reload, naming the setting. Apprise's own log lines are
kept out of the daemon's log (they, and urllib3's under them, may quote a URL); the daemon logs each failure once,
naming the channel by its service and digest (``tgram://… (channel 1f2e3d4c)``), and counts it in ``sla_monitor_operator_channel_deliveries_total``.

>>> channel_of("ntfy://ntfy.example/ops", "operators.notify[0]").service
'ntfy'
>>> channel_of("nope://x", "operators.notify[0]")
Traceback (most recent call last):
...
monitor.errors.ConfigError: operators: 1 configuration error(s)
  operators.notify[0]: nope://… is not valid: no Apprise service takes this URL (Slack, Telegram, Teams, Matrix, ntfy, Discord, json://, form://, ...; the URL is not shown: it may hold a token)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from monitor.actions.mail import OPERATOR_KINDS_PREFIX
from monitor.clock import Clock
from monitor.config.credentials import read_secret_file
from monitor.config.schema import Operators
from monitor.errors import ConfigError, ConfigIssue
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.relay import Relay
from monitor.redact import redact
from monitor.store import outbox as stored
from monitor.store.outbox import QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["Channel", "OperatorChannels", "channel_of", "channels_of"]

log = logging.getLogger(__name__)

MAX_BODY = 4000  # what every chat service takes in one message


@dataclass(frozen=True)
class Channel:
    """One Apprise URL: ``key`` (a digest of it) is what the database keeps."""

    url: str
    key: str
    service: str  # the URL's scheme, e.g. "tgram"
    shown: str  # the URL redacted, for logs

    def __repr__(self) -> str:  # never the URL: it holds tokens
        return f"Channel({self.service}, {self.shown})"


def channel_of(url: str, setting: str) -> Channel:
    """A channel for ``url``, checked by Apprise (ConfigError naming ``setting``)."""
    import apprise  # imported by the daemon's notifier only: the commands do not need it

    service = url.split("://", 1)[0].lower()
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    # Apprise puts tokens anywhere in a URL (tgram://BOT-TOKEN/CHAT): only the service and
    # the URL's digest are ever shown.
    shown = f"{service}://… (channel {key[:8]})"
    if apprise.Apprise.instantiate(url) is None:
        raise ConfigError("operators", [ConfigIssue(
            setting, None, f"{service}://… is not valid: no Apprise service takes this URL "
            "(Slack, Telegram, Teams, Matrix, ntfy, Discord, json://, form://, ...; the URL "
            "is not shown: it may hold a token)")])
    return Channel(url, key, service, shown)


def channels_of(settings: Operators) -> tuple[Channel, ...]:
    """Every configured channel, the file's read now (at start and on reload)."""
    found = [channel_of(url, f"operators.notify[{i}]") for i, url in enumerate(settings.notify)]
    if settings.notify_file is not None:
        text = read_secret_file("operators.notify_file", settings.notify_file,
                                "Apprise URLs, one per line")
        for number, line in enumerate(text.splitlines(), 1):
            url = line.strip()  # a comment is a whole line: Slack's URLs hold "#channel"
            if url and not url.startswith("#"):
                found.append(channel_of(url, f"operators.notify_file line {number}"))
    unique = {channel.key: channel for channel in found}
    return tuple(unique.values())


class OperatorChannels(Relay):
    """Hands operator messages to every channel, in the background (see the module)."""

    name = "operator-channels"

    def __init__(self, db: Database, clock: Clock, metrics: NotifyMetrics,
                 channels: tuple[Channel, ...] = (), *, timeout: float = 10.0,
                 interval: float = 5.0, lookback: float = 3600.0) -> None:
        super().__init__(db, interval)
        self.clock = clock
        self.metrics = metrics
        self.channels = channels
        self.timeout = timeout
        self.lookback = dt.timedelta(seconds=lookback)
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._senders: dict[str, Any] = {}
        # Apprise's lines and those of the HTTP library under it (requests' urllib3, used
        # by nothing else here) may quote a URL with its token: see the module.
        for library in ("apprise", "urllib3"):
            logging.getLogger(library).setLevel(logging.CRITICAL)

    def use(self, channels: tuple[Channel, ...], timeout: float) -> None:
        """A reload's channels (prepared by :func:`channels_of`)."""
        self.channels, self.timeout = channels, timeout
        self._senders = {k: v for k, v in self._senders.items()
                         if k in {c.key for c in channels}}

    async def relay_once(self) -> int:
        """One round over every channel; returns how many deliveries were taken."""
        taken = 0
        for channel in self.channels:
            taken += await self._channel_round(channel)
        return taken

    async def _channel_round(self, channel: Channel) -> int:
        now = self.clock.now()
        messages = await self.db.run(
            lambda tx: stored.to_deliver(tx, channel.key, since=now - self.lookback, now=now,
                                         kind_prefix=OPERATOR_KINDS_PREFIX),
            readonly=True,
        )
        taken = 0
        for message in messages:
            if not await self._claim(channel, message.id):
                continue  # another process holds it
            ok = await self._send(channel, message)
            await self._delivered(channel, message.id, self.clock.now() if ok else None)
            if not ok:
                break  # the channel is down: the rest waits for the next round, in order
            taken += 1
        return taken

    async def _claim(self, channel: Channel, outbox_id: int) -> bool:
        now = self.clock.now()
        until = now + dt.timedelta(seconds=self.timeout + 30)
        return await self.db.run(lambda tx: stored.claim_delivery(
            tx, outbox_id, channel.key, owner=self.owner, now=now, until=until))

    async def _delivered(self, channel: Channel, outbox_id: int, at: dt.datetime | None
                         ) -> None:
        await self.db.run(lambda tx: stored.delivered(
            tx, outbox_id, channel.key, owner=self.owner, at=at), retry_for=30.0)

    async def _send(self, channel: Channel, message: QueuedMessage) -> bool:
        import apprise

        sender = self._senders.get(channel.key)
        if sender is None:
            sender = self._senders[channel.key] = apprise.Apprise()
            sender.add(channel.url)
        body = message.body_text
        if len(body) > MAX_BODY:
            body = body[: MAX_BODY - 1] + "…"
        try:
            async with asyncio.timeout(self.timeout):
                ok = await asyncio.to_thread(
                    sender.notify, title=message.subject, body=body,
                    body_format=apprise.NotifyFormat.TEXT,
                    notify_type=_type_of(message.kind))
        except TimeoutError:
            ok, reason = False, f"no answer within {self.timeout:g} s"
        except Exception as exc:  # a plugin's own failure: tried again, never a crash
            ok, reason = False, redact(str(exc) or type(exc).__name__)[:300]
        else:
            reason = "the service refused or could not be reached"
        self.metrics.operator_channel_deliveries.labels(
            channel.service, "ok" if ok else "failed").inc()
        if not ok:
            log.warning("operator channel did not take an alert; tried again", extra={
                "channel": channel.service, "url": channel.shown, "kind": message.kind,
                "outbox_id": message.id, "error": reason})
        return bool(ok)


def _type_of(kind: str) -> Any:
    import apprise

    if kind == "ops_recovery":
        return apprise.NotifyType.SUCCESS
    if kind in ("ops_outage", "ops_duty_warning"):
        return apprise.NotifyType.FAILURE
    return apprise.NotifyType.WARNING
