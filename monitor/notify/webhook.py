"""Operator alerts that do not need SMTP: an Alertmanager-compatible webhook (D-2).

The D-2 safety net ("phone the customer now") used to travel through the same SMTP
server whose failure it was about. With ``webhook:`` configured, every operator
message the duties write to the outbox (``ops_*``: an outage, its recovery, a duty
at risk, a message given up, a late maintenance notice) is also POSTed, as soon as
it is written, to ``webhook.url`` as **Alertmanager webhook JSON** (version 4, the
body Alertmanager's ``webhook_config`` sends), so that anything that takes
Alertmanager notifications (Grafana OnCall, PagerDuty or Opsgenie integrations, a
chat bridge) pages a person. The SMTP server's own state is an alert too:
``SlaMonitorSmtpUnreachable`` fires when a send cannot reach it and resolves when a
probe finds it back.

**Decision:** the webhook body rather than a POST to Alertmanager's ``/api/v2/alerts``:
a webhook is what on-call tools take directly; to go through an Alertmanager, use
the Prometheus rules in ``grafana/alerts.yml`` (the same facts, from the metrics).

Delivery is as durable as the e-mail's: the outbox row is the alert, and
``outbox.webhook_at`` records when the webhook took it (2xx), so a restart neither
loses nor repeats one. A failed POST (timeout ``webhook.timeout``, a non-2xx reply)
is counted in ``sla_monitor_webhook_deliveries_total{result="failed"}``, logged,
and tried again every ``interval`` seconds for an hour after the message was
written. The secret header's value comes from ``secret_file`` or ``secret_env``
(never the YAML), read at start and on reload.

>>> body = payload([alert_of_kind("ops_duty_warning", "k", "Phone ACME", "text",
...                 dt.datetime(2026, 5, 1, tzinfo=dt.UTC), {"incident": "7"})], "noc")
>>> body["version"], body["status"], body["alerts"][0]["labels"]["alertname"]
('4', 'firing', 'SlaMonitorNotificationDutyAtRisk')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from monitor.actions.mail import OPERATOR_KINDS_PREFIX
from monitor.clock import Clock
from monitor.config.credentials import read_secret_file
from monitor.config.schema import Webhook
from monitor.errors import ConfigError, ConfigIssue, TransientNotifyError
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.relay import Relay
from monitor.redact import redact
from monitor.store import outbox as stored
from monitor.store.outbox import QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["WebhookRelay", "WebhookTarget", "alert_of_kind", "payload"]

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"
MAX_DESCRIPTION = 4000

# What each operator message is, as an alert: (alertname, severity, status). A recovery
# resolves its outage: same alert name, same identity.
KINDS: dict[str, tuple[str, str, str]] = {
    "ops_outage": ("SlaMonitorIncident", "critical", "firing"),
    "ops_recovery": ("SlaMonitorIncident", "critical", "resolved"),
    "ops_duty_warning": ("SlaMonitorNotificationDutyAtRisk", "critical", "firing"),
    "ops_send_failure": ("SlaMonitorEmailGivenUp", "warning", "firing"),
    "ops_maintenance_late": ("SlaMonitorMaintenanceNoticeLate", "warning", "firing"),
}
OTHER = ("SlaMonitorOperatorAlert", "warning", "firing")


@dataclass(frozen=True)
class WebhookTarget:
    """Where alerts go: the URL, the timeout and the headers (the secret one included)."""

    url: str
    timeout: float
    headers: dict[str, str]

    @classmethod
    def from_config(cls, settings: Webhook) -> WebhookTarget:
        """Reads the secret (ConfigError naming the setting when it cannot be read)."""
        headers = {"Content-Type": "application/json", "User-Agent": "sla-monitor"}
        if settings.secret_header is not None:
            headers[settings.secret_header] = _secret(settings)
        return cls(settings.url, settings.timeout, headers)


def _secret(settings: Webhook) -> str:
    if settings.secret_file:
        return read_secret_file(
            "webhook.secret_file", settings.secret_file, "the webhook header's value"
        )
    variable = settings.secret_env or ""
    value = os.environ.get(variable) if variable else None
    if not value:
        raise ConfigError(
            "webhook",
            [
                ConfigIssue(
                    "webhook.secret_env",
                    None,
                    f"environment variable {variable!r} is not set or empty; it must hold "
                    "the webhook header's value",
                    variable,
                )
            ],
        )
    return value


def _time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alert_of_kind(
    kind: str,
    identity: str,
    summary: str,
    description: str,
    at: dt.datetime,
    labels: dict[str, str],
) -> dict[str, Any]:
    """One Alertmanager alert for an operator message of ``kind``; ``identity`` makes its
    fingerprint (an outage and its recovery share one)."""
    name, severity, status = KINDS.get(kind, OTHER)
    fingerprint = hashlib.sha256(f"{name}:{identity}".encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "kind": kind, **labels},
        "annotations": {"summary": summary, "description": description[:MAX_DESCRIPTION]},
        "startsAt": _time(at),
        "endsAt": _time(at) if status == "resolved" else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": fingerprint,
    }


def payload(alerts: list[dict[str, Any]], receiver: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) around ``alerts`` (all of one group)."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    labels = alerts[0]["labels"] if alerts else {}
    common = {"alertname": labels.get("alertname", ""), "severity": labels.get("severity", "")}
    return {
        "version": "4",
        "groupKey": "{}:" + "{" + f'alertname="{common["alertname"]}"' + "}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    }


def message_alert(message: QueuedMessage, instance: str) -> dict[str, Any]:
    labels = {"instance": instance}
    identity = message.dedupe_key
    if message.incident_id is not None:
        labels["incident"] = str(message.incident_id)
        if message.kind in ("ops_outage", "ops_recovery"):
            identity = f"incident:{message.incident_id}"
    if message.window_id is not None:
        labels["maintenance_window"] = str(message.window_id)
    if message.customer_id is not None:
        labels["customer"] = message.customer_id
    return alert_of_kind(
        message.kind, identity, message.subject, message.body_text, message.created_at, labels
    )


class WebhookRelay(Relay):
    """Posts operator messages and the SMTP server's state to the webhook, in the
    background: ``await start()``, ``wake()`` when something was written, ``await stop()``.

    ``smtp_unreachable_since`` tells the relay whether the SMTP server answers (the
    outbox worker knows); ``relay_once()`` does one round without the background task.
    """

    name = "operator-webhook"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        metrics: NotifyMetrics,
        target: WebhookTarget | None,
        *,
        smtp_unreachable_since: Callable[[], dt.datetime | None] = lambda: None,
        interval: float = 5.0,
        lookback: float = 3600.0,
        receiver: str = "sla-monitor",
    ) -> None:
        super().__init__(db, interval)
        self.clock = clock
        self.metrics = metrics
        self.target = target
        self.smtp_unreachable_since = smtp_unreachable_since
        self.lookback = dt.timedelta(seconds=lookback)
        self.receiver = receiver
        self.instance = socket.gethostname()
        self._smtp_alerted: dt.datetime | None = None  # the unreachable alert posted
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def relay_once(self) -> int:
        """Post what is due; returns how many alerts the webhook took."""
        if self.target is None:
            return 0
        taken = await self._smtp_state()
        now = self.clock.now()
        messages = await self.db.run(
            lambda tx: stored.to_relay(
                tx, since=now - self.lookback, kind_prefix=OPERATOR_KINDS_PREFIX
            ),
            readonly=True,
        )
        for message in messages:
            if not await self._post([message_alert(message, self.instance)]):
                break  # the webhook is down: the rest waits for the next round, in order
            await self._taken(message.id, self.clock.now())
            taken += 1
        return taken

    async def _taken(self, outbox_id: int, at: dt.datetime) -> None:
        await self.db.run(lambda tx: stored.mark_relayed(tx, outbox_id, at), retry_for=30.0)

    async def _smtp_state(self) -> int:
        """``SlaMonitorSmtpUnreachable``: firing while the worker finds the server away."""
        since = self.smtp_unreachable_since()
        if since is not None and self._smtp_alerted is None:
            alert = self._smtp_alert(since, "firing")
            if await self._post([alert]):
                self._smtp_alerted = since
                return 1
        elif since is None and self._smtp_alerted is not None:
            alert = self._smtp_alert(self._smtp_alerted, "resolved")
            if await self._post([alert]):
                self._smtp_alerted = None
                return 1
        return 0

    def _smtp_alert(self, since: dt.datetime, status: str) -> dict[str, Any]:
        alert = alert_of_kind(
            "ops_smtp_unreachable",
            f"smtp:{self.instance}",
            "sla-monitor cannot reach its SMTP server"
            if status == "firing"
            else "sla-monitor reaches its SMTP server again",
            "E-mails wait in the outbox and go out when the server answers again (probed "
            "every 15 s). Customers whose outage notice is waiting may need a phone call "
            "(R-N1, D-2).",
            since,
            {"instance": self.instance},
        )
        alert["labels"].update(alertname="SlaMonitorSmtpUnreachable", severity="critical")
        alert["status"] = status
        alert["endsAt"] = _time(self.clock.now()) if status == "resolved" else ZERO_TIME
        return alert

    async def _post(self, alerts: list[dict[str, Any]]) -> bool:
        target = self.target
        if target is None:
            return False
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                target.url,
                json=payload(alerts, self.receiver),
                headers=target.headers,
                timeout=aiohttp.ClientTimeout(total=target.timeout),
                allow_redirects=False,
            ) as response:
                await response.content.read(65536)  # bounded: only the status matters
                if not 200 <= response.status < 300:
                    raise TransientNotifyError(f"the webhook answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError, TransientNotifyError) as exc:
            self.metrics.webhook_deliveries.labels("failed").inc()
            log.warning(
                "operator webhook did not take an alert; tried again",
                extra={
                    "url": redact(target.url),
                    "alertname": alerts[0]["labels"]["alertname"],
                    "error": redact(str(exc) or type(exc).__name__)[:300],
                },
            )
            return False
        self.metrics.webhook_deliveries.labels("ok").inc()
        return True
