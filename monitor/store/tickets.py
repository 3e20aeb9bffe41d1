"""Tickets and their events (R-P1..R-P4, L-4, L-5): the only writer of ``tickets`` and
``ticket_events``. Every change of a ticket is written together with the event that
records it, with its time and actor (L-4: every timestamp is kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update

from monitor.store import evidence
from monitor.store.db import Tx, inserted_id, rows_by, selected_in
from monitor.store.models import Ticket, TicketEvent

__all__ = [
    "EventRecord",
    "TicketRecord",
    "add",
    "add_event",
    "change",
    "events",
    "events_of",
    "get",
    "listed",
    "number_sent",
    "open_duties",
    "price_requests",
    "provider_fault",
]


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    ticket_id: int
    at: dt.datetime
    kind: str
    channel: str | None
    note: str | None
    actor: str


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket as stored; ``fixed_at`` is the last fix (None again after a reopen)."""

    id: int
    customer_id: str
    site_domain: str | None
    service_id: str
    kind: str  # web_panel (R-P1) | mobile (R-P2)
    type_id: str | None  # L-5
    title: str
    channel: str  # email | phone
    opened_at: dt.datetime
    number_sent_at: dt.datetime | None
    level: int  # L-4: 2, or 3 when escalated
    diagnosed_at: dt.datetime | None
    provider_fault: bool | None
    finding: str | None
    fixed_at: dt.datetime | None
    next_release: bool  # R-P3
    next_release_reason: str | None
    price: Decimal | None  # L-5: what was charged
    currency: str | None
    price_requested: Decimal | None  # L-5: a raised price awaiting approval
    price_requested_at: dt.datetime | None
    status: str  # open | fixed | closed
    closed_at: dt.datetime | None


def _record(row: Ticket) -> TicketRecord:
    return TicketRecord(
        row.id, row.customer_id, row.site_domain, row.service_id, row.kind, row.type_id,
        row.title, row.channel, row.opened_at, row.number_sent_at, row.level, row.diagnosed_at,
        row.provider_fault, row.finding, row.fixed_at, row.next_release,
        row.next_release_reason, row.price, row.currency, row.price_requested,
        row.price_requested_at, row.status, row.closed_at,
    )


def _event(row: TicketEvent) -> EventRecord:
    return EventRecord(row.id, row.ticket_id, row.at, row.kind, row.channel, row.note, row.actor)


async def get(tx: Tx, ticket_id: int) -> TicketRecord | None:
    row = await tx.get(Ticket, ticket_id, populate_existing=True)
    return None if row is None else _record(row)


async def events(tx: Tx, ticket_id: int) -> list[EventRecord]:
    """The ticket's history in the order it was recorded."""
    return (await events_of(tx, [ticket_id])).get(ticket_id, [])


async def events_of(tx: Tx, ticket_ids: Iterable[int]) -> dict[int, list[EventRecord]]:
    """Each ticket's history, by id, in the order it was recorded (a ticket without an
    event is absent): a few hundred tickets a statement, for ``ticket list``."""
    return await rows_by(tx, TicketEvent.ticket_id, ticket_ids, _event)


async def add(
    tx: Tx,
    *,
    customer_id: str,
    site_domain: str | None,
    service_id: str,
    kind: str,
    type_id: str | None,
    title: str,
    channel: str,
    opened_at: dt.datetime,
    price: Decimal | None,
    currency: str | None,
    actor: str,
) -> int:
    """A new ticket in level 2's queue (L-4: level 1 records it), with its ``opened`` event."""
    result = await tx.execute(insert(Ticket).values(
        customer_id=customer_id, site_domain=site_domain, service_id=service_id, kind=kind,
        type_id=type_id, title=title, channel=channel, opened_at=opened_at, level=2,
        next_release=False, price=price, currency=currency, status="open",
    ))
    ticket_id = inserted_id(result)
    await evidence.append(tx, "ticket.open", "tickets", [ticket_id])
    await add_event(tx, ticket_id, at=opened_at, kind="opened", channel=channel, note=title,
                    actor=actor)
    return ticket_id


async def add_event(
    tx: Tx, ticket_id: int, *, at: dt.datetime, kind: str, actor: str,
    channel: str | None = None, note: str | None = None,
) -> None:
    result = await tx.execute(insert(TicketEvent).values(
        ticket_id=ticket_id, at=at, kind=kind, channel=channel, note=note, actor=actor))
    await evidence.append(tx, f"ticket.{kind}"[:40], "ticket_events", [inserted_id(result)])


async def change(tx: Tx, ticket_id: int, **values: Any) -> None:
    """Set columns of one ticket (the caller writes the event that explains the change)."""
    await tx.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
    await evidence.append(tx, "ticket.change", "tickets", [ticket_id])


async def number_sent(tx: Tx, ticket_id: int, at: dt.datetime) -> None:
    """L-4 evidence: the SMTP server accepted the ticket-number e-mail (the first counts)."""
    await tx.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.number_sent_at.is_(None))
                     .values(number_sent_at=at))
    await evidence.append(tx, "ticket.number_sent", "tickets", [ticket_id])


async def listed(tx: Tx, *, customer_id: str | None = None,
                 active_only: bool = False) -> list[TicketRecord]:
    """Tickets by id; ``active_only``: neither fixed nor closed."""
    query = select(Ticket).order_by(Ticket.id)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if active_only:
        query = query.where(Ticket.status == "open")
    return [_record(row) for row in await tx.scalars(query)]


async def provider_fault(tx: Tx, customers: Collection[str] | None = None
                         ) -> list[TicketRecord]:
    """Tickets diagnosed as the provider's fault: the only ones with a penalty (R-P1, R-P2);
    only ``customers``' when given, by id."""
    query = select(Ticket).where(Ticket.provider_fault.is_(True)).order_by(Ticket.id)
    return await selected_in(tx, query, _record, Ticket.customer_id, customers)


async def open_duties(tx: Tx) -> list[TicketRecord]:
    """Tickets with a D-5 duty still open: not diagnosed, or a provider fault not fixed."""
    query = select(Ticket).where(
        Ticket.status != "closed",
        or_(Ticket.diagnosed_at.is_(None),
            (Ticket.provider_fault.is_(True)) & Ticket.fixed_at.is_(None)),
    ).order_by(Ticket.id)
    return [_record(row) for row in await tx.scalars(query)]


async def price_requests(tx: Tx) -> list[TicketRecord]:
    """Tickets whose raised price awaits the customer's approval (L-5)."""
    query = select(Ticket).where(
        Ticket.price_requested.is_not(None), Ticket.status != "closed").order_by(Ticket.id)
    return [_record(row) for row in await tx.scalars(query)]
