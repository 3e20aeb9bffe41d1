"""Answers to the HTTP API's retried writes (``Idempotency-Key``): the only writer of
``idempotent_requests``.

A write that carries a key is answered once; its status and body are stored in the
same transaction as the write itself (:meth:`monitor.store.Database.transaction` joins
an enclosing one), so either both are committed or neither is. A retry with the same
key and the same request gets the stored answer; the same key with a different request
is refused. Keys are per client (the token's name) and kept for :data:`KEPT`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from monitor.errors import StoreError
from monitor.store.db import Tx
from monitor.store.models import IdempotentRequest

__all__ = ["KEPT", "KeyInUse", "StoredAnswer", "find", "purge", "store"]

KEPT = dt.timedelta(hours=24)


class KeyInUse(StoreError):
    """Another request with the same key committed its answer first (its twin's write is
    rolled back with the transaction)."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    method: str
    path: str
    request_hash: str
    status: int
    response: dict[str, Any]
    created_at: dt.datetime


async def find(tx: Tx, actor: str, key: str) -> StoredAnswer | None:
    row = (
        await tx.scalars(
            select(IdempotentRequest).where(
                IdempotentRequest.actor == actor, IdempotentRequest.key == key
            )
        )
    ).first()
    if row is None:
        return None
    return StoredAnswer(
        row.method, row.path, row.request_hash, row.status, row.response, row.created_at
    )


async def store(
    tx: Tx,
    *,
    actor: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    status: int,
    response: dict[str, Any],
    at: dt.datetime,
) -> None:
    """The answer to a keyed write; a concurrent twin with the same key fails here on the
    unique constraint, and its whole transaction (the write too) is rolled back."""
    try:
        await tx.execute(
            insert(IdempotentRequest).values(
                actor=actor,
                key=key,
                method=method,
                path=path,
                request_hash=request_hash,
                status=status,
                response=response,
                created_at=at,
            )
        )
    except IntegrityError as exc:
        raise KeyInUse(f"Idempotency-Key {key!r} of {actor} is already answered") from exc


async def purge(tx: Tx, now: dt.datetime) -> None:
    """Forget answers older than :data:`KEPT`."""
    await tx.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now - KEPT))
