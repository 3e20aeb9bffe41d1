"""The persistent outbox (D-2): queued messages, their leases and outcomes, per-recipient
results. The only writer of ``outbox`` and ``outbox_recipients``; what the rows mean is
:mod:`monitor.notify.outbox`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from monitor.errors import StoreError
from monitor.store import evidence
from monitor.store.db import Tx, dialect_insert, in_chunks
from monitor.store.models import (
    OperatorDelivery,
    OutboxAttachment,
    OutboxListUnsubscribe,
    OutboxMessage,
    OutboxRecipient,
)

__all__ = [
    "ACTIVE",
    "Attachment",
    "MessageLine",
    "MessageState",
    "NewMessage",
    "QueuedMessage",
    "add_recipients",
    "claim",
    "claim_delivery",
    "delivered",
    "depth",
    "enqueue",
    "find",
    "give_up",
    "lease_holders",
    "lines",
    "lock_sending",
    "mark_relayed",
    "message_ids",
    "oldest_waiting",
    "outage_messages",
    "outage_queued",
    "queued_keys",
    "readdress",
    "record_acceptance",
    "release",
    "release_delayed",
    "release_orphans",
    "renew",
    "requeue",
    "retry_at",
    "states",
    "to_deliver",
    "to_relay",
    "withdraw",
]

ACTIVE = ("pending", "sending")  # not yet accepted nor given up
_CHUNK = 500  # rows per INSERT, well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (a statement's PDF or CSV)."""

    filename: str
    content_type: str  # "application/pdf", "text/csv"
    content: bytes


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to write; ``dedupe_key`` names the duty it fulfils (queued at most once)."""

    dedupe_key: str
    message_id: str
    kind: str
    recipients: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    customer_id: str | None = None
    incident_id: int | None = None
    window_id: int | None = None
    claim_id: int | None = None
    ticket_id: int | None = None
    in_reply_to: str | None = None  # the Message-ID it follows up (threading)
    attachments: tuple[Attachment, ...] = ()
    list_unsubscribe: str | None = None  # a subscriber's one-click unsubscribe (RFC 8058)


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """An outbox row as stored."""

    id: int
    dedupe_key: str
    message_id: str
    kind: str
    customer_id: str | None
    incident_id: int | None
    window_id: int | None
    claim_id: int | None
    ticket_id: int | None
    recipients: list[str]
    subject: str
    body_text: str
    body_html: str | None
    created_at: dt.datetime
    status: str  # pending | sending | sent | failed
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    accepted_at: dt.datetime | None
    smtp_response: str | None
    in_reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    list_unsubscribe: str | None = None
    requeued_at: dt.datetime | None = None  # when an operator last sent it again


@dataclass(frozen=True, slots=True)
class MessageLine:
    """An outbox row as operators list it: what it is, to whom and where it stands, without
    its bodies and files."""

    id: int
    dedupe_key: str
    kind: str
    customer_id: str | None
    incident_id: int | None
    recipients: list[str]
    subject: str
    created_at: dt.datetime
    status: str  # pending | sending | sent | failed
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    accepted_at: dt.datetime | None
    requeued_at: dt.datetime | None


_LINE_COLUMNS = (OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.kind,
                 OutboxMessage.customer_id, OutboxMessage.incident_id, OutboxMessage.recipients,
                 OutboxMessage.subject,
                 OutboxMessage.created_at, OutboxMessage.status, OutboxMessage.attempts,
                 OutboxMessage.next_attempt_at, OutboxMessage.last_error,
                 OutboxMessage.accepted_at, OutboxMessage.requeued_at)


def _record(row: OutboxMessage, attachments: tuple[Attachment, ...] = (),
            list_unsubscribe: str | None = None) -> QueuedMessage:
    return QueuedMessage(
        row.id,
        row.dedupe_key,
        row.message_id,
        row.kind,
        row.customer_id,
        row.incident_id,
        row.window_id,
        row.claim_id,
        row.ticket_id,
        list(row.recipients),
        row.subject,
        row.body_text,
        row.body_html,
        row.created_at,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.accepted_at,
        row.smtp_response,
        row.in_reply_to,
        attachments,
        list_unsubscribe,
        row.requeued_at,
    )


async def enqueue(tx: Tx, messages: Sequence[NewMessage]) -> int:
    """Insert the messages not queued before (by ``dedupe_key``); returns how many are new.
    A message's attachments are written with it (and not again for a duplicate)."""
    # One statement with the rows as parameters (SQLAlchemy's "insertmanyvalues": compiled
    # once and cached, sent as multi-row INSERTs), each row returning its id and dedupe key
    # (a duplicate returns nothing); then the files and unsubscribe addresses, which need
    # the ids, in one statement each. One INSERT a message, each through aiosqlite's
    # thread, was most of the cost of queueing a month's statements; a multi-row VALUES
    # built for each call was compiled anew each time: 3.4 s of the event loop for an
    # outage told to 10,000 customers.
    unique = list({message.dedupe_key: message for message in reversed(messages)}.values())
    unique.reverse()  # each key's first message, in their order
    connection = await tx.connection()
    many = (
        dialect_insert(tx)(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id, OutboxMessage.dedupe_key)
    )
    ids: dict[str, int] = {}
    for start in range(0, len(unique), _CHUNK):
        returned = await connection.execute(
            many, [_row(message) for message in unique[start : start + _CHUNK]])
        ids.update({key: inserted for inserted, key in returned})
    unsubscribe = [{"outbox_id": ids[m.dedupe_key], "address": m.list_unsubscribe}
                   for m in unique if m.dedupe_key in ids and m.list_unsubscribe is not None]
    if unsubscribe:
        await connection.execute(insert(OutboxListUnsubscribe), unsubscribe)
    files = [
        {
            "outbox_id": ids[message.dedupe_key],
            "position": position,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "content": attachment.content,
        }
        for message in unique if message.dedupe_key in ids
        for position, attachment in enumerate(message.attachments)
    ]
    if files:
        await connection.execute(insert(OutboxAttachment), files)
    return len(ids)


def _row(message: NewMessage) -> dict[str, Any]:
    return {
        "dedupe_key": message.dedupe_key,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "kind": message.kind,
        "customer_id": message.customer_id,
        "incident_id": message.incident_id,
        "window_id": message.window_id,
        "claim_id": message.claim_id,
        "ticket_id": message.ticket_id,
        "recipients": list(dict.fromkeys(message.recipients)),
        "subject": message.subject,
        "body_text": message.body_text,
        "body_html": message.body_html,
        "created_at": message.created_at,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": message.next_attempt_at,
    }


async def depth(tx: Tx) -> int:
    """Messages not yet accepted nor given up."""
    count = await tx.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(ACTIVE))
    )
    return int(count or 0)


async def claim(
    tx: Tx,
    *,
    now: dt.datetime,
    lease: float,
    limit: int,
    owner: str,
    exclude: Iterable[int] = (),
    only: Iterable[str] | None = None,
    waiting_too: bool = False,
) -> list[QueuedMessage]:
    """Take up to ``limit`` due messages for ``owner``: ``status='sending'`` until
    ``now + lease`` (a row whose lease ran out is due again); with ``only``, among the
    messages of those dedupe keys. A message that follows another (``in_reply_to``: a
    recovery and its outage e-mail) is not taken while that one is still pending or being
    sent: the customer reads them in order, and the follow-up is due the moment the first
    is accepted (or given up), not at a time fixed when it was queued. With
    ``waiting_too`` (an operator's "send now"), a pending message waiting out a retry delay
    is taken too; one being sent under a live lease never is.

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two workers never take the same row);
    SQLite's write transaction (``BEGIN IMMEDIATE``) serialises claims."""
    parent = aliased(OutboxMessage)
    first_still_active = (
        select(parent.id)
        .where(parent.message_id == OutboxMessage.in_reply_to, parent.status.in_(ACTIVE))
        .exists()
    )
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(ACTIVE),
            or_(OutboxMessage.next_attempt_at <= now, OutboxMessage.status == "pending")
            if waiting_too
            else OutboxMessage.next_attempt_at <= now,
            ~first_still_active,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    excluded = list(exclude)
    if excluded:
        query = query.where(OutboxMessage.id.not_in(excluded))
    if only is not None:
        query = query.where(OutboxMessage.dedupe_key.in_(sorted(only)))
    rows = list((await tx.scalars(query)).all())
    until = now + dt.timedelta(seconds=lease)
    for row in rows:
        row.status = "sending"
        row.next_attempt_at = until
        row.claimed_by = owner
    files = await _attachments(tx, [row.id for row in rows])
    unsubscribe = await _list_unsubscribe(tx, [row.id for row in rows])
    return [_record(row, files.get(row.id, ()), unsubscribe.get(row.id)) for row in rows]


async def _list_unsubscribe(tx: Tx, outbox_ids: Sequence[int]) -> dict[int, str]:
    if not outbox_ids:
        return {}
    rows = await tx.execute(select(OutboxListUnsubscribe.outbox_id, OutboxListUnsubscribe.address)
                            .where(OutboxListUnsubscribe.outbox_id.in_(list(outbox_ids))))
    return {outbox_id: address for outbox_id, address in rows}


async def _attachments(tx: Tx, outbox_ids: Sequence[int]) -> dict[int, tuple[Attachment, ...]]:
    if not outbox_ids:
        return {}
    found: dict[int, list[Attachment]] = {}
    rows = await tx.execute(
        select(OutboxAttachment)
        .where(OutboxAttachment.outbox_id.in_(list(outbox_ids)))
        .order_by(OutboxAttachment.outbox_id, OutboxAttachment.position)
    )
    for (row,) in rows:
        found.setdefault(row.outbox_id, []).append(
            Attachment(row.filename, row.content_type, bytes(row.content))
        )
    return {outbox_id: tuple(files) for outbox_id, files in found.items()}


@dataclass(frozen=True, slots=True)
class MessageState:
    """Where a queued message stands, without its content (``statement send`` lists those
    of a month's thousands of statements: their bodies were 28 KB each)."""

    dedupe_key: str
    message_id: str
    recipients: list[str]
    status: str  # pending | sending | sent | failed
    accepted_at: dt.datetime | None
    last_error: str | None


#: Dedupe keys one query names at most (each a parameter: PostgreSQL allows 32,767).
_KEYS_PER_QUERY = 5000


def _key_chunks(dedupe_keys: Iterable[str]) -> Iterator[list[str]]:
    """``dedupe_keys`` once each, in sorted chunks of :data:`_KEYS_PER_QUERY`."""
    return in_chunks(dedupe_keys, _KEYS_PER_QUERY)


async def states(tx: Tx, dedupe_keys: Iterable[str]) -> list[MessageState]:
    """Where the messages queued under ``dedupe_keys`` stand (their content not read)."""
    found: list[MessageState] = []
    for keys in _key_chunks(dedupe_keys):
        rows = await tx.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.message_id, OutboxMessage.recipients,
                   OutboxMessage.status, OutboxMessage.accepted_at, OutboxMessage.last_error)
            .where(OutboxMessage.dedupe_key.in_(keys))
            .order_by(OutboxMessage.id)
        )
        found.extend(MessageState(key, message_id, list(recipients), status, accepted, error)
                     for key, message_id, recipients, status, accepted, error in rows)
    return found


async def find(tx: Tx, dedupe_keys: Iterable[str]) -> list[QueuedMessage]:
    """The messages queued under ``dedupe_keys``, as they stand (without their files; where
    they stand alone: :func:`states`)."""
    found: list[QueuedMessage] = []
    for keys in _key_chunks(dedupe_keys):
        rows = await tx.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.in_(keys))
            .order_by(OutboxMessage.id)
        )
        found.extend(_record(row) for row in rows)
    return found


def _owned(ids: Sequence[int], owner: str) -> Any:
    return (
        OutboxMessage.id.in_(list(ids)),
        OutboxMessage.status == "sending",
        OutboxMessage.claimed_by == owner,
    )


async def renew(tx: Tx, ids: Sequence[int], *, owner: str, until: dt.datetime) -> set[int]:
    """Extend ``owner``'s lease on ``ids`` to ``until``; returns the ids still ``owner``'s (a
    row whose lease ran out may have been claimed by another worker)."""
    if not ids:
        return set()
    await tx.execute(update(OutboxMessage).where(*_owned(ids, owner)).values(next_attempt_at=until))
    return set((await tx.scalars(select(OutboxMessage.id).where(*_owned(ids, owner)))).all())


async def release(
    tx: Tx, ids: Sequence[int], at: dt.datetime, reason: str | None = None, *, owner: str
) -> None:
    """Hand claimed rows that were not attempted back, due at ``at`` (attempts unchanged)."""
    values: dict[str, Any] = {"status": "pending", "next_attempt_at": at, "claimed_by": None}
    if reason is not None:
        values["last_error"] = reason
    await tx.execute(update(OutboxMessage).where(*_owned(ids, owner)).values(**values))


def _delayed() -> Any:
    """Attempted, or handed back behind a failed attempt (``last_error`` says why): waiting
    because of a failure, not because it is scheduled for later."""
    return or_(OutboxMessage.attempts > 0, OutboxMessage.last_error.is_not(None))


async def release_delayed(tx: Tx, now: dt.datetime) -> int:
    """Make every message waiting out a retry delay due now (the SMTP server answers
    again, D-2); messages scheduled for later that were never attempted keep their time.
    Returns how many."""
    result: Any = await tx.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "pending", _delayed(), OutboxMessage.next_attempt_at > now
        )
        .values(next_attempt_at=now)
    )
    return max(int(result.rowcount or 0), 0)


async def oldest_waiting(tx: Tx, now: dt.datetime) -> dt.datetime | None:
    """Since when the longest-waiting message has waited: its creation, for one already
    attempted; its due time, for one due and never attempted. Messages scheduled for later
    (a notice not yet due) are not waiting."""
    attempted = await tx.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_(ACTIVE), _delayed()
        )
    )
    due = await tx.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "pending",
            ~_delayed(),
            OutboxMessage.next_attempt_at <= now,
        )
    )
    found = [at for at in (attempted, due) if at is not None]
    return min(found) if found else None


async def _mark_sent(
    tx: Tx,
    outbox_id: int,
    *,
    accepted_at: dt.datetime,
    response: str,
    error: str | None,
    owner: str,
) -> bool:
    """The server accepted it: ``accepted_at`` is the D-2 evidence. False when the row is no
    longer ``owner``'s (another worker recorded it)."""
    result: Any = await tx.execute(
        update(OutboxMessage)
        .where(*_owned([outbox_id], owner))
        .values(
            status="sent",
            attempts=OutboxMessage.attempts + 1,
            accepted_at=accepted_at,
            smtp_response=response,
            last_error=error,
            claimed_by=None,
        )
    )
    return bool(result.rowcount == 1)


async def lock_sending(tx: Tx, outbox_id: int, *, owner: str) -> QueuedMessage | None:
    """The row, locked for recording a failed attempt; None unless it is still ``owner``'s."""
    row = await tx.get(OutboxMessage, outbox_id, with_for_update=True, populate_existing=True)
    if row is None or row.status != "sending" or row.claimed_by != owner:
        return None
    return _record(row)


async def retry_at(
    tx: Tx, outbox_id: int, *, attempts: int, error: str, next_attempt_at: dt.datetime
) -> None:
    await tx.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(
            status="pending",
            attempts=attempts,
            last_error=error,
            next_attempt_at=next_attempt_at,
            claimed_by=None,
        )
    )


async def lines(tx: Tx, *, status: str | None = None, ids: Sequence[int] | None = None,
                limit: int | None = None) -> list[MessageLine]:
    """The messages (of ``status``, or of ``ids``), newest first, at most ``limit``."""
    query = select(*_LINE_COLUMNS).order_by(OutboxMessage.id.desc())
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if limit is not None:
        query = query.limit(limit)
    found: list[MessageLine] = []
    # Every message given up may be thousands: their ids a part at a time.
    for chunk in ([None] if ids is None else in_chunks(ids, _CHUNK)):
        chosen = query if chunk is None else query.where(OutboxMessage.id.in_(chunk))
        found += [MessageLine(id_, key, kind, customer, incident, list(recipients), subject,
                              created, status, attempts, next_at, error, accepted, requeued)
                  for (id_, key, kind, customer, incident, recipients, subject, created,
                       status, attempts, next_at, error, accepted, requeued)
                  in await tx.execute(chosen)]
    found.sort(key=lambda line: line.id, reverse=True)
    return found if limit is None else found[:limit]



async def withdraw(tx: Tx, *, kind: str, key_part: str = "", incident_id: int | None = None,
                   window_id: int | None = None) -> int:
    """Delete the messages of ``kind`` about ``incident_id`` (or ``window_id``: one of them)
    whose dedupe key holds ``key_part`` and that are still pending (none is being sent,
    none was sent, none an operators' channel delivered meanwhile): what they said is no
    longer so. Their rows are locked first, so a worker cannot claim one meanwhile.
    Returns how many."""
    if (incident_id is None) == (window_id is None):
        raise StoreError("withdraw: an incident or a maintenance window, one of them")
    about = (OutboxMessage.incident_id == incident_id if incident_id is not None
             else OutboxMessage.window_id == window_id)
    delivered = select(OperatorDelivery.outbox_id).where(
        OperatorDelivery.outbox_id == OutboxMessage.id)
    ids = list(await tx.scalars(
        select(OutboxMessage.id).where(
            about, OutboxMessage.kind == kind, OutboxMessage.status == "pending",
            OutboxMessage.dedupe_key.contains(key_part, autoescape=True),
            ~delivered.exists())
        .with_for_update()))
    for chosen in in_chunks(ids, _CHUNK):
        for part in (OutboxListUnsubscribe, OutboxAttachment, OutboxRecipient):
            await tx.execute(delete(part).where(part.outbox_id.in_(chosen)))
        await tx.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(chosen)))
    return len(ids)


async def requeue(tx: Tx, ids: Sequence[int], *, now: dt.datetime) -> None:
    """Given-up messages (``status='failed'``) due again at ``now``: their attempts counted
    anew from ``requeued_at``, the outcomes of their recipients at the attempt that gave up
    forgotten (the next attempt records its own); the last error is kept until then."""
    for chosen in in_chunks(ids, _CHUNK):
        await tx.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chosen), OutboxMessage.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=now, requeued_at=now,
                    claimed_by=None)
        )
        await tx.execute(delete(OutboxRecipient).where(OutboxRecipient.outbox_id.in_(chosen)))


async def readdress(tx: Tx, recipients: Mapping[int, Sequence[str]]) -> None:
    """Messages sent to other addresses than they were queued for (id -> the addresses),
    each once: their envelope and ``To`` are built from these at the next attempt."""
    for outbox_id, addresses in recipients.items():
        await tx.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id)
            .values(recipients=list(dict.fromkeys(addresses))))


async def give_up(tx: Tx, outbox_id: int, *, attempts: int, error: str) -> None:
    await tx.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="failed", attempts=attempts, last_error=error, claimed_by=None)
    )


async def record_acceptance(
    tx: Tx, outbox_id: int, *, accepted_at: dt.datetime, response: str, error: str | None,
    owner: str, recipients: Sequence[str], refused: Mapping[str, tuple[int, str]],
) -> bool:
    """The server accepted the message (``accepted_at`` is the D-2 evidence), with each
    recipient's outcome, chained as one fact. False when the row is no longer ``owner``'s
    (another worker recorded it): nothing written."""
    if not await _mark_sent(tx, outbox_id, accepted_at=accepted_at, response=response,
                           error=error, owner=owner):
        return False
    await add_recipients(tx, outbox_id, recipients, refused)
    await evidence.append(tx, "smtp.accepted", "outbox", [outbox_id])
    return True


async def add_recipients(
    tx: Tx, outbox_id: int, recipients: Sequence[str], refused: Mapping[str, tuple[int, str]]
) -> None:
    """Each recipient's outcome: accepted, or refused with the server's code and text."""
    outcomes = []
    for address in dict.fromkeys(recipients):
        code, text = refused.get(address, (None, None))
        outcomes.append(
            {
                "outbox_id": outbox_id,
                "address": address,
                "status": "accepted" if code is None else "refused",
                "code": code,
                "message": text,
            }
        )
    if outcomes:
        await tx.execute(insert(OutboxRecipient), outcomes)


async def message_ids(tx: Tx, dedupe_keys: Iterable[str]) -> dict[str, str]:
    """The Message-ID of each queued message among ``dedupe_keys`` (to thread a follow-up)."""
    keys = sorted(set(dedupe_keys))
    found: dict[str, str] = {}
    for index in range(0, len(keys), 5000):
        rows = await tx.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.message_id).where(
                OutboxMessage.dedupe_key.in_(keys[index : index + 5000])
            )
        )
        found.update({key: message_id for key, message_id in rows})
    return found


async def outage_messages(
    tx: Tx, incident_id: int
) -> list[tuple[str | None, str, dt.datetime]]:
    """(customer id, status, next attempt) of an incident's outage e-mails, by customer."""
    rows = await tx.execute(
        select(OutboxMessage.customer_id, OutboxMessage.status, OutboxMessage.next_attempt_at)
        .where(OutboxMessage.incident_id == incident_id, OutboxMessage.kind == "outage")
        .order_by(OutboxMessage.customer_id)
    )
    return [(customer_id, status, next_at) for customer_id, status, next_at in rows]


async def outage_queued(tx: Tx, incident_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(incident id, customer id) of every outage e-mail queued for these incidents."""
    ids = sorted(set(incident_ids))
    found: set[tuple[int, str]] = set()
    for index in range(0, len(ids), 5000):
        rows = await tx.execute(
            select(OutboxMessage.incident_id, OutboxMessage.customer_id).where(
                OutboxMessage.incident_id.in_(ids[index : index + 5000]),
                OutboxMessage.kind == "outage",
            )
        )
        found.update(
            (incident_id, customer_id)
            for incident_id, customer_id in rows
            if incident_id is not None and customer_id is not None
        )
    return found


async def to_relay(
    tx: Tx, *, since: dt.datetime, kind_prefix: str, limit: int = 50
) -> list[QueuedMessage]:
    """Operator messages written since ``since`` that the webhook has not taken yet, oldest
    first (the operators' path that does not need SMTP)."""
    rows = await tx.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind.startswith(kind_prefix, autoescape=True),
            OutboxMessage.webhook_at.is_(None),
            OutboxMessage.created_at >= since,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [_record(row) for row in rows]


async def mark_relayed(tx: Tx, outbox_id: int, at: dt.datetime) -> None:
    await tx.execute(
        update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(webhook_at=at)
    )


async def to_deliver(
    tx: Tx, channel: str, *, since: dt.datetime, now: dt.datetime, kind_prefix: str,
    limit: int = 50,
) -> list[QueuedMessage]:
    """Operator messages written since ``since`` that ``channel`` has not taken and nobody
    holds a live claim on, oldest first."""
    held = (
        select(OperatorDelivery.outbox_id)
        .where(OperatorDelivery.channel == channel,
               or_(OperatorDelivery.delivered_at.is_not(None),
                   OperatorDelivery.claimed_until > now))
    )
    rows = await tx.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind.startswith(kind_prefix, autoescape=True),
            OutboxMessage.created_at >= since,
            OutboxMessage.id.not_in(held),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [_record(row) for row in rows]


async def claim_delivery(tx: Tx, outbox_id: int, channel: str, *, owner: str,
                         now: dt.datetime, until: dt.datetime) -> bool:
    """Take message ``outbox_id`` for ``channel`` until ``until``: True when this process
    may hand it over (no claim yet, or only one that ran out and was never delivered)."""
    result: Any = await tx.execute(
        update(OperatorDelivery)
        .where(OperatorDelivery.outbox_id == outbox_id, OperatorDelivery.channel == channel,
               OperatorDelivery.delivered_at.is_(None), OperatorDelivery.claimed_until <= now)
        .values(claimed_by=owner, claimed_until=until,
                attempts=OperatorDelivery.attempts + 1)
    )
    if result.rowcount:
        return True
    inserted: Any = await tx.execute(
        dialect_insert(tx)(OperatorDelivery)
        .values(outbox_id=outbox_id, channel=channel, claimed_by=owner, claimed_until=until,
                attempts=1)
        .on_conflict_do_nothing()
    )
    return bool(inserted.rowcount)


async def delivered(tx: Tx, outbox_id: int, channel: str, *, owner: str,
                    at: dt.datetime | None) -> None:
    """The channel took the message (``at``), or did not (None: the claim ends now, so
    the next round tries again)."""
    values: dict[str, Any] = {"delivered_at": at} if at is not None else {}
    if at is None:
        values["claimed_until"] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    await tx.execute(
        update(OperatorDelivery)
        .where(OperatorDelivery.outbox_id == outbox_id, OperatorDelivery.channel == channel,
               OperatorDelivery.claimed_by == owner)
        .values(**values)
    )


async def release_orphans(tx: Tx, owner_prefix: str, dead: Iterable[str], at: dt.datetime) -> int:
    """Hand back rows whose lease holder (a ``claimed_by`` starting with ``owner_prefix``)
    is one of ``dead``: due at ``at``, attempts unchanged. Returns how many."""
    owners = [owner for owner in dead if owner.startswith(owner_prefix)]
    if not owners:
        return 0
    result: Any = await tx.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by.in_(owners))
        .values(status="pending", next_attempt_at=at, claimed_by=None)
    )
    return max(int(result.rowcount or 0), 0)


async def lease_holders(tx: Tx, owner_prefix: str) -> set[str]:
    """The ``claimed_by`` of every row being sent whose holder starts with ``owner_prefix``."""
    rows = await tx.scalars(
        select(OutboxMessage.claimed_by)
        .where(
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by.startswith(owner_prefix, autoescape=True),
        )
        .distinct()
    )
    return {owner for owner in rows if owner is not None}


async def queued_keys(tx: Tx, dedupe_keys: Iterable[str]) -> set[str]:
    """Which of ``dedupe_keys`` are queued (in any state): a duty sweep renders only the
    others."""
    keys = sorted(set(dedupe_keys))
    found: set[str] = set()
    for index in range(0, len(keys), 5000):
        found.update(await tx.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_(keys[index : index + 5000]))))
    return found
