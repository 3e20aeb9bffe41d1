"""What the engine is given: plain, frozen records built by the store or tests.

All instants are timezone-aware datetimes (any zone; the engine works in UTC).
Constructors check only what would make a record meaningless (naive times, an
end before its start, an unknown cause); the CLI and config validate user input
first and report it with :class:`monitor.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args

__all__ = [
    "CAUSES",
    "EXCLUDED_CAUSES",
    "SOURCES",
    "TICKET_KINDS",
    "Cause",
    "CustomerInput",
    "IncidentInput",
    "MaintenanceInput",
    "SessionInput",
    "Source",
    "TicketInput",
    "TicketKind",
]

Cause = Literal["provider", "customer_request", "customer_action", "external"]
#: Valid incident causes: ``provider`` is counted; the others are excluded by
#: R-EX2 (customer_request), R-EX3 (customer_action) and R-EX4 (external).
CAUSES: tuple[Cause, ...] = get_args(Cause)
EXCLUDED_CAUSES: tuple[Cause, ...] = CAUSES[1:]

Source = Literal["probe", "manual", "imported"]
SOURCES: tuple[Source, ...] = get_args(Source)

TicketKind = Literal["web_panel", "mobile"]
TICKET_KINDS: tuple[TicketKind, ...] = get_args(TicketKind)


def _require_aware(owner: str, name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{owner}.{name}: {value!r} is naive; an aware datetime is required")


@dataclass(frozen=True, slots=True)
class IncidentInput:
    """A full outage of one service (SPEC section 2); ``end`` is None while open."""

    id: int
    service_id: str
    start: datetime
    end: datetime | None
    cause: Cause = "provider"
    detected_at: datetime | None = None
    source: Source = "probe"

    def __post_init__(self) -> None:
        for name in ("start", "end", "detected_at"):
            _require_aware(f"incident {self.id}", name, getattr(self, name))
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"incident {self.id}: end {self.end.isoformat()} must be after "
                             f"start {self.start.isoformat()}")
        if self.cause not in CAUSES:
            raise ValueError(f"incident {self.id}: cause {self.cause!r} is not one of {CAUSES}")
        if self.source not in SOURCES:
            raise ValueError(f"incident {self.id}: source {self.source!r} is not one of {SOURCES}")


@dataclass(frozen=True, slots=True)
class MaintenanceInput:
    """A scheduled maintenance window (R-EX1).

    ``notices`` maps a customer id to ``notice_sent_at``: when the notice reached
    that customer's technical contact (D-3).
    """

    id: int
    service_ids: frozenset[str]
    start: datetime
    end: datetime
    reason: str = ""
    notices: Mapping[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = f"maintenance {self.id}"
        _require_aware(owner, "start", self.start)
        _require_aware(owner, "end", self.end)
        for customer_id, notice_sent_at in self.notices.items():
            _require_aware(owner, f"notices[{customer_id!r}]", notice_sent_at)
        if self.end <= self.start:
            raise ValueError(f"{owner}: end {self.end.isoformat()} must be after "
                             f"start {self.start.isoformat()}")


@dataclass(frozen=True, slots=True)
class CustomerInput:
    """A customer site as the SLA sees it.

    ``services`` is the resolved dependency set (R-M4: the web panel, the
    customer's projects, the servers they run on, the mobile API if subscribed).
    ``paid_until``: time after it is excluded as non-payment (R-EX5); None means
    no lapse. ``clone`` (R-EX6) and ``unsupported_version`` (R-EX7) void credits.
    """

    id: str
    name: str
    fee_per_year: Decimal
    currency: str
    services: frozenset[str]
    paid_until: datetime | None = None
    clone: bool = False
    unsupported_version: bool = False

    def __post_init__(self) -> None:
        _require_aware(f"customer {self.id!r}", "paid_until", self.paid_until)
        if self.fee_per_year < 0:
            raise ValueError(f"customer {self.id!r}: fee_per_year {self.fee_per_year} "
                             "must not be negative")


@dataclass(frozen=True, slots=True)
class TicketInput:
    """A partial problem (SPEC section 5): a web-panel (R-P1) or mobile (R-P2) defect.

    ``next_release`` marks an R-P3 exemption (fixed in the next release: no
    R-P2 refund).
    """

    id: int
    customer_id: str
    kind: TicketKind
    reported_at: datetime
    diagnosed_at: datetime | None = None
    provider_fault: bool = False
    fixed_at: datetime | None = None
    next_release: bool = False

    def __post_init__(self) -> None:
        for name in ("reported_at", "diagnosed_at", "fixed_at"):
            _require_aware(f"ticket {self.id}", name, getattr(self, name))
        if self.kind not in TICKET_KINDS:
            raise ValueError(f"ticket {self.id}: kind {self.kind!r} is not one of {TICKET_KINDS}")


@dataclass(frozen=True, slots=True)
class SessionInput:
    """One run of the daemon (R-M3): when it started and its last heartbeat, the span it
    watched (:mod:`monitor.sla.coverage`); ``stopped``: it stopped cleanly then."""

    started_at: datetime
    last_beat_at: datetime
    stopped: bool = False

    def __post_init__(self) -> None:
        _require_aware("session", "started_at", self.started_at)
        _require_aware("session", "last_beat_at", self.last_beat_at)
