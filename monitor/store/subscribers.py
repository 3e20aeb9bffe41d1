"""The status page's subscribers: addresses, their confirmed services and pending
requests. The only writer of ``subscribers``; what the rows mean is
:mod:`monitor.actions.subscriptions`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from monitor.store.db import Tx, inserted_id
from monitor.store.models import Subscriber

__all__ = [
    "SubscriberRecord",
    "by_email",
    "by_token",
    "confirm",
    "confirmed",
    "count",
    "listed",
    "remove",
    "request",
]


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    id: int
    email: str
    token: str
    language: str
    services: tuple[str, ...]  # confirmed
    requested: tuple[str, ...] | None  # waiting for its confirmation link
    nonce: str | None
    requested_at: dt.datetime
    confirmed_at: dt.datetime | None
    created_at: dt.datetime


def _record(row: Subscriber) -> SubscriberRecord:
    return SubscriberRecord(
        row.id, row.email, row.token, row.language, tuple(row.services),
        None if row.requested is None else tuple(row.requested), row.nonce, row.requested_at,
        row.confirmed_at, row.created_at)


async def by_email(tx: Tx, email: str) -> SubscriberRecord | None:
    row = await tx.scalar(select(Subscriber).where(Subscriber.email == email))
    return None if row is None else _record(row)


async def by_token(tx: Tx, token: str) -> SubscriberRecord | None:
    row = await tx.scalar(select(Subscriber).where(Subscriber.token == token))
    return None if row is None else _record(row)


async def request(
    tx: Tx, *, email: str, token: str, language: str, services: Sequence[str], nonce: str,
    at: dt.datetime,
) -> SubscriberRecord:
    """A request for ``services``, waiting for confirmation under ``nonce``: a new row
    (``token`` names it), or the address's row with its request replaced (its token, its
    confirmed services and language kept until the confirmation)."""
    found = await by_email(tx, email)
    if found is None:
        result = await tx.execute(insert(Subscriber).values(
            email=email, token=token, language=language, services=[], requested=list(services),
            nonce=nonce, requested_at=at, confirmed_at=None, created_at=at))
        subscriber_id = inserted_id(result)
    else:
        subscriber_id = found.id
        await tx.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(
            requested=list(services), nonce=nonce, requested_at=at))
    row = await tx.get(Subscriber, subscriber_id, populate_existing=True)
    assert row is not None
    return _record(row)


async def confirm(tx: Tx, subscriber_id: int, *, language: str, at: dt.datetime) -> None:
    """The pending request becomes the subscription. Its ``nonce`` is kept: the same link
    followed again is known as the one already confirmed."""
    row = await tx.get(Subscriber, subscriber_id)
    assert row is not None and row.requested is not None
    await tx.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(
        services=list(row.requested), requested=None, language=language, confirmed_at=at))


async def forget_requests(tx: Tx, *, requested_before: dt.datetime) -> int:
    """Requests made before ``requested_before`` that were never confirmed: an address
    never confirmed is deleted (how many: the result); a subscriber's newer request is
    dropped, its confirmed services kept."""
    stale = Subscriber.requested_at < requested_before
    result: Any = await tx.execute(delete(Subscriber).where(
        stale, Subscriber.confirmed_at.is_(None)))
    await tx.execute(update(Subscriber).where(
        stale, Subscriber.confirmed_at.is_not(None), Subscriber.requested.is_not(None)
    ).values(requested=None))
    return int(result.rowcount or 0)


async def remove(tx: Tx, subscriber_id: int) -> bool:
    result: Any = await tx.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    return bool(result.rowcount)


async def confirmed(tx: Tx) -> list[SubscriberRecord]:
    """Every subscriber with a confirmed subscription, by id."""
    rows = await tx.scalars(
        select(Subscriber).where(Subscriber.confirmed_at.is_not(None)).order_by(Subscriber.id))
    return [_record(row) for row in rows]


async def listed(tx: Tx) -> list[SubscriberRecord]:
    """Every subscriber, confirmed or not, by id."""
    return [_record(row) for row in await tx.scalars(select(Subscriber).order_by(Subscriber.id))]


async def count(tx: Tx) -> int:
    return int(await tx.scalar(select(func.count()).select_from(Subscriber)) or 0)
