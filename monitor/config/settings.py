"""One configuration, turned once into what the code reads: :class:`Settings`.

The daemon builds a ``Settings`` at start and one per reload (SIGHUP), the CLI
one per command; everything else receives it whole instead of a
(configuration, topology) pair. It holds:

* ``topology``: who depends on what, the probed targets, each customer as the
  engine sees it (:class:`monitor.config.topology.Topology`);
* ``policy``: the contract's numbers as the engine's :class:`monitor.sla.Policy`
  (the one conversion from the YAML ``policy`` section);
* the sections the edges need as they are (``provider``, ``monitor``, ``smtp``,
  ``storage``, ``http``), and the validated file itself as ``config``.

>>> settings = Settings.from_config(Config())
>>> settings.policy.notification_deadline_seconds, settings.month("2026-03").seconds // 86400
(7200, 31)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from monitor import collector
from monitor.config.schema import (
    SMTP,
    Config,
    EvidenceSettings,
    HTTPServer,
    MonitorSettings,
    Provider,
    Statements,
    StatusPage,
    Storage,
    TicketType,
)
from monitor.config.topology import Topology
from monitor.present.language import Language, language
from monitor.sla import MonthPeriod, Policy, Tier, calendar_day, month_period

__all__ = ["LOCAL_SENDER", "SHARED_SECTIONS", "WEEKDAY_NUMBERS", "Settings", "engine_policy",
           "shared_digest"]

#: The From of e-mail written to the local Maildir when no sender is configured.
LOCAL_SENDER = "sla-monitor@localhost"

WEEKDAY_NUMBERS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}


#: The sections every node of a cluster must have alike: the contract and what is probed
#: for whom. The rest may differ by node (its name and vantage, its HTTP address, its
#: resolver, mail transport, workers) and is not compared.
SHARED_SECTIONS = ("provider", "policy", "servers", "services", "customers", "ticket_types")


def shared_digest(config: Config) -> str:
    """A short digest of ``config``'s :data:`SHARED_SECTIONS` (included files merged in),
    which each node of a cluster writes and compares with the others' (README "Several
    daemons"): two nodes with different targets or customers divide leases and decide
    incidents on different grounds. Secrets take no part (they are masked in the dump).

    >>> shared_digest(Config()) == shared_digest(Config(monitor={"event_loop": "asyncio"}))
    True
    >>> shared_digest(Config()) == shared_digest(Config(policy={"target_percent": 99.9}))
    False
    """
    document = config.model_dump(mode="json", include=set(SHARED_SECTIONS))
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def engine_policy(config: Config) -> Policy:
    """The one conversion from the YAML policy to the engine's :class:`Policy`."""
    p = config.policy
    return Policy(
        target_percent=p.target_percent,
        tiers=tuple(Tier(t.name, int(t.min_downtime), t.credit_days) for t in p.tiers),
        notification_deadline_seconds=int(p.notification_deadline),
        notification_credit_days=p.notification_credit_days,
        maintenance_notice_seconds=int(p.maintenance_notice),
        detection_deadline_seconds=int(p.detection_deadline),
        diagnosis_deadline_seconds=int(p.diagnosis_deadline),
        web_panel_fix_deadline_seconds=int(p.panel_fix_deadline),
        partial_penalty_fraction=p.partial_penalty_fraction,
        mobile_fix_deadline_seconds=int(p.mobile_fix_deadline),
        mobile_refund_percent_per_day=p.mobile_refund_percent_per_day,
        claim_deadline_seconds=int(p.claim_deadline),
        decision_deadline_seconds=int(p.decision_deadline),
        credit_delay_seconds=int(p.credit_delay),
        price_approval_seconds=int(p.price_approval_deadline),
        weekend_days=frozenset(WEEKDAY_NUMBERS[d] for d in config.provider.weekend_days),
        holidays=frozenset(config.provider.holidays),
    )


@dataclass(frozen=True)
class Settings:
    config: Config
    topology: Topology
    policy: Policy
    # D-2: operators are alerted this long before a notification deadline (not a contract
    # number, so not part of the engine's Policy).
    notification_warning_seconds: float
    # D-4 / D-5: the same for claim and ticket deadlines.
    deadline_warning_seconds: float
    # The file it was read from; None: the embedded defaults (messages say which).
    source: Path | None = None

    @classmethod
    def from_config(cls, config: Config, source: Path | None = None) -> Settings:
        """The settings of ``config`` (the garbage collector paused meanwhile, as while it
        is read: :func:`monitor.config.loader.parse_config`)."""
        with collector.paused():
            return cls(
                config=config,
                topology=Topology.from_config(config),
                policy=engine_policy(config),
                notification_warning_seconds=config.policy.notification_warning,
                deadline_warning_seconds=config.policy.deadline_warning,
                source=source,
            )

    @property
    def ticket_types(self) -> dict[str, TicketType]:
        """L-5: the priced ticket types by id."""
        return {t.id: t for t in self.config.ticket_types}

    @property
    def provider(self) -> Provider:
        return self.config.provider

    @property
    def monitor(self) -> MonitorSettings:
        return self.config.monitor

    @property
    def smtp(self) -> SMTP | None:
        return self.config.smtp

    @property
    def storage(self) -> Storage:
        return self.config.storage

    @property
    def http(self) -> HTTPServer:
        return self.config.http

    @property
    def evidence(self) -> EvidenceSettings:
        return self.config.evidence

    @property
    def sender(self) -> str:
        """The From address of every e-mail: ``smtp.sender`` or ``provider.sender`` (the
        configuration refuses two different ones), else, without SMTP, :data:`LOCAL_SENDER`."""
        if self.smtp is not None and self.smtp.sender is not None:
            return self.smtp.sender
        return self.provider.sender or LOCAL_SENDER

    @property
    def status_page(self) -> StatusPage:
        return self.config.status_page

    @property
    def statements(self) -> Statements:
        return self.config.statements

    @property
    def timezone(self) -> str:
        return self.config.provider.timezone

    @property
    def calendar(self) -> str:
        return self.config.provider.calendar

    def reader(self, customer: str | None = None) -> Language:
        """The language ``customer`` reads (its ``language``, else the provider's); without
        a customer, the provider's (the status page, the feed, the badges)."""
        code = self.config.provider.language
        if customer is not None:
            # By id (a month's statements ask once each: a scan of the list cost a quarter
            # of ``statement send``'s own CPU at 10,000 customers).
            configured = self.topology.customers.get(customer)
            code = (configured.language if configured is not None else None) or code
        return language(code, self.config.provider.digits)

    def month(self, label: str) -> MonthPeriod:
        """The month ``label`` (YYYY-MM) of the provider's calendar in its zone (R-M5)."""
        return month_period(label, self.config.provider.calendar, self.config.provider.timezone)

    def day(self, text: str, field: str) -> dt.date:
        """The day ``text`` (YYYY-MM-DD) of the provider's calendar, as a date (R-M5; a day
        of the other calendar is refused and named, as a month is)."""
        return calendar_day(text, self.config.provider.calendar, field)
