"""The outbox as operators see it (D-2): the messages and where each stands, and a
given-up message sent again once its cause is mended (``sla-monitor outbox list|retry``).

A message is given up at a permanent refusal (5xx, every recipient refused) or after
three days of transient failures, and the operators are alerted (``ops_send_failure``).
Sending it again is the operator's decision, after mending what refused it (the SMTP
server's relay rule or password, the customer's full mailbox, an address that does not
exist, corrected in the configuration): the same message (its Message-ID, subject and
bodies as queued), due at once, to whom the configuration now names for it
(:func:`~monitor.actions.mail.recipients_now`: a customer's contacts of that kind, the
operators; a subscriber's address as it was); the daemon's senders take it within their
poll interval. Its acceptance is what it proves, as
for any message (an outage e-mail's is the customer's notification, R-N1, however late).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor.actions.common import MAX_ID
from monitor.actions.mail import recipients_now
from monitor.config import Settings
from monitor.errors import InputError, time_mark
from monitor.store import audit
from monitor.store import outbox as stored
from monitor.store.outbox import MessageLine

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["MESSAGE_STATUSES", "MessageLine", "list_messages", "retry_messages"]

MAX_LISTED = 100_000  # messages listed at once

#: The operators' alert that a message was given up.
FAILURE_ALERT = "ops_send_failure"

#: Where a message stands: waiting, being sent, accepted by the server, given up.
MESSAGE_STATUSES = ("pending", "sending", "sent", "failed")


async def list_messages(db: Database, *, status: str | None = None,
                        limit: int | None = 100) -> list[MessageLine]:
    """The outbox's messages (of ``status``), newest first, at most ``limit``."""
    if status is not None and status not in MESSAGE_STATUSES:
        raise InputError("status", status, "one of " + ", ".join(MESSAGE_STATUSES))
    if limit is not None and not 1 <= limit <= MAX_LISTED:
        raise InputError("limit", limit, f"a whole number from 1 to {MAX_LISTED}")
    async with db.reading() as tx:
        return await stored.lines(tx, status=status, limit=limit)


async def retry_messages(db: Database, settings: Settings, *, ids: Sequence[int] = (),
                         all_failed: bool = False, actor: str,
                         now: dt.datetime) -> list[MessageLine]:
    """Send given-up messages again: those of ``ids``, or with ``all_failed`` every one
    given up but the operators' alerts of given-up messages (:func:`_without_moot_alerts`),
    each to whom ``settings`` now names for it (:func:`recipients_now`). Each is audited
    (``outbox.retry``: its attempts, kind and whether it was addressed anew, not its
    addresses). A message of ``ids`` that is not given up (unknown, accepted, still
    waiting or being sent) refuses the whole call: nothing changes. Returns the messages
    as they now stand (pending), newest first."""
    if not ids and not all_failed:
        raise InputError("outbox_id", None, "the ids of given-up messages, or every one given up")
    if ids and all_failed:
        raise InputError("all_failed", True, "every given-up message, or those of {outbox_id} "
                         "(not both)")
    async with db.transaction() as tx:
        if all_failed:
            chosen = _without_moot_alerts(await stored.lines(tx, status="failed"))
        else:
            # An id no database holds (2**63) is unknown, as any other (not a driver's error).
            chosen = await stored.lines(tx, ids=[i for i in ids if 1 <= i <= MAX_ID])
            _all_given_up(ids, {line.id: line for line in chosen})
        if not chosen:
            return []
        readdressed = {}
        for line in chosen:
            now_named = recipients_now(settings, line.kind, line.customer_id)
            if now_named is not None and list(now_named) != line.recipients:
                readdressed[line.id] = now_named
        await stored.readdress(tx, readdressed)
        await stored.requeue(tx, [line.id for line in chosen], now=now)
        await audit.record_many(tx, [
            {"at": now, "actor": actor, "action": "outbox.retry", "object_type": "outbox",
             "object_id": line.id, "detail": {"kind": line.kind, "attempts": line.attempts,
                                              "readdressed": line.id in readdressed}}
            for line in chosen])
        return await stored.lines(tx, ids=[line.id for line in chosen])


def _without_moot_alerts(failed: list[MessageLine]) -> list[MessageLine]:
    """``failed`` less the operators' alerts that a message was given up
    (``ops_send_failure``): each such message is sent again with them (or was by an
    earlier retry, or accepted since), and the alert, sent now, would tell of a failure
    being mended. An alert is sent again only when asked for by its id."""
    return [line for line in failed if line.kind != FAILURE_ALERT]


def _all_given_up(ids: Sequence[int], found: dict[int, MessageLine]) -> None:
    """Refuse the first of ``ids`` that is not a given-up message, saying where it stands."""
    for outbox_id in ids:
        line = found.get(outbox_id)
        if line is None:
            where = "no message has this id"
        elif line.status == "sent":
            where = (f"message {outbox_id} was accepted by the server "
                     f"{time_mark(line.accepted_at)}" if line.accepted_at is not None
                     else f"message {outbox_id} was accepted")
        elif line.status != "failed":
            where = f"message {outbox_id} is {_WHERE[line.status]}"
        else:
            continue
        raise InputError("outbox_id", outbox_id,
                         f"the id of a message given up (see: outbox list, its failed ones); "
                         f"{where}")


_WHERE = {"pending": "waiting to be sent", "sending": "being sent"}
