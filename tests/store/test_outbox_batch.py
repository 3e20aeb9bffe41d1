"""The outbox queues many messages with files in one call (a month's statements, a batch
per transaction): each new message gets its own files and unsubscribe address, and a key
queued before, or twice in the call, is queued once (D-2's outbox)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from monitor.store import Database
from monitor.store import outbox as stored
from monitor.store.models import OutboxAttachment, OutboxListUnsubscribe, OutboxMessage

NOW = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)


def _message(key: str, *files: str, unsubscribe: str | None = None) -> stored.NewMessage:
    return stored.NewMessage(
        dedupe_key=key, message_id=f"<{key}@bench.example>", kind="statement",
        recipients=(f"{key}@example.com",), subject=key, body_text=key, body_html=None,
        created_at=NOW, next_attempt_at=NOW, customer_id=key,
        attachments=tuple(stored.Attachment(f"{key}-{name}", "text/csv", name.encode())
                          for name in files),
        list_unsubscribe=unsubscribe)


async def test_a_batch_with_files_queues_each_new_message_with_its_own_files(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        assert await stored.enqueue(tx, [_message("early", "old.csv")]) == 1
    async with db.transaction() as tx:
        added = await stored.enqueue(tx, [
            _message("a", "a.pdf", "a.csv"),
            _message("early", "new.csv"),  # queued before: nothing new
            _message("b", "b.pdf", unsubscribe="mailto:out@example.com"),
            _message("a", "again.pdf"),  # twice in the call: the first one counts
            _message("c", unsubscribe="mailto:c@example.com"),
        ])
    assert added == 3
    async with db.reading() as tx:
        keys = dict((await tx.execute(select(OutboxMessage.id, OutboxMessage.dedupe_key))).all())
        files = sorted(f"{keys[row.outbox_id]}:{row.position}:{row.filename}:"
                       f"{row.content.decode()}"
                       for row in await tx.scalars(select(OutboxAttachment)))
        addresses = {keys[row.outbox_id]: row.address
                     for row in await tx.scalars(select(OutboxListUnsubscribe))}
    assert sorted(keys.values()) == ["a", "b", "c", "early"]
    assert files == ["a:0:a-a.pdf:a.pdf", "a:1:a-a.csv:a.csv", "b:0:b-b.pdf:b.pdf",
                     "early:0:early-old.csv:old.csv"]
    assert addresses == {"b": "mailto:out@example.com", "c": "mailto:c@example.com"}
