"""The evidence chain: an append-only, hash-chained record of every fact a statement's
figures derive from (probe runs and failures as R-M7 stores them, incidents and each
change to them, cause changes, notifications, SMTP acceptances, maintenance and its
notices, the monitor's runs and unknown intervals, tickets, claims and decisions, ledger
entries, report revisions). The only writer of ``evidence_chain`` and ``evidence_checkpoints``.

Every write of such a fact calls :func:`append` **in the same transaction**: the fact's
row is read back, written as canonical JSON (:func:`canonical`), and chained::

    hash = SHA-256(prev_hash, then SHA-256(the entry's canonical bytes)), both as 64 hex
           characters (ASCII)

An entry's canonical bytes are the JSON of ``{"fact": ROW, "id": ID, "kind": KIND,
"table": TABLE}`` with sorted keys, no spaces, UTF-8; times as ISO 8601 in UTC, decimals
without trailing zeros, dates as ISO dates. The chain stores them, except for a fact kept
whole in its own row that never changes (a frozen report revision, tens of megabytes):
there it stores ``sha256:`` and their digest (:data:`KEPT_IN_ROW`), the hash links the same
digest, and :func:`kept_text` rebuilds the bytes from the row. A fact that changes (an
incident that ends, a claim decided) gets a new entry with its new state: the latest entry
of a row is what the row must still say (:func:`check`).

Appends are serialised so that the chain stays one line: on SQLite by the write lock every
write transaction takes (``BEGIN IMMEDIATE``); on PostgreSQL by a transaction-scoped
advisory lock taken before the head is read, held to the commit. An append is part of the
fact's transaction, so a fenced write (a cluster node that lost its lease) writes neither.

The first append of a database writes a ``genesis`` entry: the highest id of every chained
table at that moment. Rows up to it were recorded before the chain existed and are not
covered; any later row of a chained table that is not in the chain is reported. A table
chained since a later version (not in the genesis entry) is covered from its first chained
row on, the rows before it as the genesis entry's are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    Table,
    Text,
    cast,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.errors import StoreError
from monitor.logs import Progress
from monitor.sla import IncidentLine, LineTexts
from monitor.sla.report import WRITTEN_APART, iso_utc, spliced
from monitor.store.db import Tx
from monitor.store.models import Base, EvidenceCheckpoint, EvidenceEntry, EvidenceKey

__all__ = [
    "CHAINED",
    "GENESIS",
    "KEPT_IN_ROW",
    "STATEMENTS",
    "ZERO_HASH",
    "Break",
    "CheckResult",
    "Checkpoint",
    "SignedRevision",
    "append",
    "append_inserted",
    "canonical",
    "check",
    "checkpoints",
    "content_digest",
    "encoded_customer",
    "encoded_document",
    "encoded_report",
    "entries",
    "entry_hash",
    "fact_of",
    "head",
    "kept_text",
    "keys",
    "line_texts",
    "link_hash",
    "record_checkpoint",
    "record_pruned",
    "record_statements",
    "signed_revisions",
    "statements_recorded",
]

ZERO_HASH = "0" * 64
GENESIS = "genesis"
PRUNED = "retention.prune"
STATEMENTS = "report.statements"

#: Chained tables and the columns of theirs that are evidence (None: every column). An
#: outbox message is chained when the SMTP server accepted it: what was sent, to whom,
#: the server's answer and each recipient's outcome (its retry bookkeeping is not
#: evidence).
CHAINED: dict[str, tuple[str, ...] | None] = {
    "probe_runs": None,
    "probe_failures": None,
    "incidents": None,
    "cause_changes": None,
    "incident_updates": None,
    "notifications": None,
    "maintenance_windows": None,
    "maintenance_notices": None,
    "outbox": ("id", "dedupe_key", "message_id", "kind", "customer_id", "incident_id",
               "window_id", "claim_id", "ticket_id", "recipients", "subject",
               "accepted_at", "smtp_response"),
    "unknown_intervals": None,
    "tickets": None,
    "ticket_events": None,
    "claims": None,
    "ledger_entries": None,
    "report_revisions": None,
    # The monitor's runs (R-M3: what nobody watched is unknown): chained when a run starts
    # and when it stops; its moving heartbeat is not evidence (a killed run's last beat
    # is, as the ``daemon_down`` unknown interval the next start records).
    "daemon_sessions": ("id", "started_at", "stopped_at", "hostname", "pid", "version"),
}

#: Chained tables whose fact holds rows of another table too (:func:`_extras`).
_WITH_EXTRAS = ("maintenance_windows", "outbox")

# Any constant: the key of PostgreSQL's advisory lock that serialises appends.
_PG_LOCK_KEY = 0x534C414556  # "SLAEV"
_BATCH = 2000


# --- canonical form ----------------------------------------------------------------------------


_SIMPLE = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, _SIMPLE):  # most columns: first, and cheap
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """The one canonical JSON of a value: sorted keys, no spaces, times in UTC ISO 8601,
    decimals without trailing zeros."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


#: Characters of a text encoded at a time for its digest (:func:`content_digest`).
_DIGEST_CHUNK = 1 << 20


def content_digest(canonical_text: str) -> str:
    """SHA-256 of an entry's canonical bytes (hex). A long text (a frozen report of 10,000
    customers is about 94 MB) is encoded a megabyte at a time, never copied whole as bytes:
    UTF-8 encodes a text piece by piece into the same bytes."""
    if len(canonical_text) <= _DIGEST_CHUNK:
        return hashlib.sha256(canonical_text.encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    for start in range(0, len(canonical_text), _DIGEST_CHUNK):
        digest.update(canonical_text[start:start + _DIGEST_CHUNK].encode("utf-8"))
    return digest.hexdigest()


def link_hash(prev_hash: str, digest: str) -> str:
    """SHA-256 over the predecessor's hash and the entry's content digest (both 64 hex
    characters, ASCII): an export may give another customer's entry by its digest alone,
    and its link is still recomputed."""
    return hashlib.sha256(prev_hash.encode("ascii") + digest.encode("ascii")).hexdigest()


def entry_hash(prev_hash: str, canonical_text: str) -> str:
    """An entry's hash: :func:`link_hash` of its predecessor's hash and its content digest."""
    return link_hash(prev_hash, content_digest(canonical_text))


def _envelope(kind: str, table: str | None, fact_id: str | None, fact: Any) -> str:
    """The canonical text of an entry; ``fact`` is already plain (:func:`_fact`)."""
    return json.dumps({"kind": kind, "table": table, "id": fact_id, "fact": fact},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


#: The canonical encoder (:func:`canonical`'s settings) for a value that is already plain JSON.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode


def encoded_document(document: Any) -> str:
    """A JSON document (str keys, JSON values: what a ``to_json`` gives) in the canonical
    form, in one pass of the C encoder: :func:`canonical` of it, without its walk."""
    return _ENCODE(document)


#: What an entry stores, before its content digest, for a fact kept whole in its own row:
#: a frozen report revision never changes and is tens of megabytes (93 MB at 10,000
#: customers), which the chain stored a second time. Its hash links the same digest as ever
#: (of the same canonical text); :func:`kept_text` rebuilds that text from the row.
KEPT_IN_ROW = "sha256:"
_KEPT_IN_ROWS = frozenset({"report_revisions"})


def line_texts() -> LineTexts:
    """Incident lines' canonical texts (:func:`encoded_document` of their ``to_json``), for
    one report's encoding (:func:`encoded_customer`): key by key in sorted order
    (``cause``, ``counted_seconds``, ``detection_seconds``, ``end``, ``id``,
    ``notified_after_seconds``, ``service``, ``start``), texts quoted as the encoder quotes
    them."""
    return LineTexts(_canonical_pieces)


def _canonical_pieces(line: IncidentLine) -> tuple[str, str, str]:
    detection = "null" if line.detection_seconds is None else line.detection_seconds
    end = "null" if line.end is None else _QUOTE(iso_utc(line.end))
    return (f'{{"cause":{_QUOTE(line.cause)},"counted_seconds":',
            f',"detection_seconds":{detection},"end":{end},"id":{line.id},'
            '"notified_after_seconds":',
            f',"service":{_QUOTE(line.service)},"start":{_QUOTE(iso_utc(line.start))}}}')


#: A text as the canonical encoder quotes it (``ensure_ascii=False``).
_QUOTE: Callable[[str], str] = json.encoder.encode_basestring


def encoded_customer(part: dict[str, Any], lines: Sequence[IncidentLine],
                     texts: LineTexts) -> str:
    """A customer's part of a report in the canonical form (:func:`encoded_document` of
    it with its ``incidents``), from ``part`` without them (``CustomerReport.to_json(
    incidents=False)``) and its ``lines``, each line's text from ``texts``: the same text
    (a month's 411,682 lines at 10,000 customers encoded in 0.8 s instead of 1.25)."""
    return spliced(_ENCODE({**part, "incidents": WRITTEN_APART}),
                   "[" + ",".join(texts.texts(lines)) + "]")


def encoded_report(report: Mapping[str, Any],
                   customers: Iterable[Mapping[str, Any] | str] | None = None
                   ) -> tuple[str, list[str]]:
    """A report's canonical text (:func:`encoded_document`) and the digest of each of its
    customers' parts (:func:`content_digest`, what :func:`record_statements` chains), each
    part encoded once: the report's text is its keys in sorted order, each with its value's
    text, the customers' list made of their parts. The same text as
    ``encoded_document(report)``, joined once from the parts: at 10,000 customers the parts
    are as large as the report's text (~94 MB), and no third copy (the customers' list
    joined on its own, then again with its key) stands at the close's peak of memory.

    ``customers``: the customers' parts, given apart (``report``'s own ``customers`` stands
    for them and is not read): each is encoded as it comes, so that an iterator's parts are
    let go one by one (a month's close: the whole document as JSON values was ~150 MB more
    at its peak); a part given as text is taken as its canonical text
    (:func:`encoded_customer`)."""
    listed = customers is not None or isinstance(report.get("customers"), list)
    parts = [part if type(part) is str else _ENCODE(part) for part in (
        customers if customers is not None else report["customers"] if listed else ())]
    digests = [content_digest(part) for part in parts]
    pieces: list[str] = []
    for key in sorted(report):
        pieces.append(("," if pieces else "{") + _ENCODE(key) + ":")
        if key == "customers" and listed:
            pieces.append("[")
            for number, part in enumerate(parts):
                if number:
                    pieces.append(",")
                pieces.append(part)
            pieces.append("]")
        else:
            pieces.append(_ENCODE(report[key]))
    del parts
    pieces.append("}" if pieces else "{}")
    return "".join(pieces), digests


def _envelope_of_row(kind: str, table: str, fact_id: str, row: Mapping[str, Any],
                     encoded: Mapping[str, str]) -> str:
    """``_envelope(kind, table, fact_id, _fact(table, row))``, with the columns of
    ``encoded`` given as their canonical text (:func:`encoded_document`) instead of
    copied value by value: the same text, for a frozen report of 10,000 customers without
    a walk of millions of values. Each stands in the small envelope as a placeholder that
    is then replaced by its text."""
    fact = _fact(table, {k: (None if k in encoded else v) for k, v in row.items()})
    texts: dict[str, str] = {}
    for number, name in enumerate(sorted(encoded)):
        if row.get(name) is None:
            continue
        placeholder = f"\x00document {number}\x00"
        fact[name] = placeholder
        texts[json.dumps(placeholder, ensure_ascii=False)] = encoded[name]
    envelope = _envelope(kind, table, fact_id, fact)
    if not texts:
        return envelope
    return re.sub("|".join(re.escape(quoted) for quoted in texts),
                  lambda found: texts[found.group(0)], envelope)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _fact(table: str, row: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    columns = CHAINED[table]
    fact = {name: row[name] for name in (columns if columns is not None else row.keys())}
    if extra:
        fact.update(extra)
    return _plain(fact)


async def _extras(connection: AsyncConnection, table: str,
                  ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What a fact holds besides its own row: a maintenance window's services; an accepted
    message's outcome for each recipient (D-2: a partial refusal is evidence too)."""
    if table not in _WITH_EXTRAS or not ids:
        return {}
    if table == "outbox":
        recipients = _table("outbox_recipients")
        deliveries: dict[int, dict[str, Any]] = {i: {"recipients": []} for i in ids}
        outcomes = await connection.execute(
            select(recipients.c.outbox_id, recipients.c.address, recipients.c.status,
                   recipients.c.code, recipients.c.message)
            .where(recipients.c.outbox_id.in_(list(ids)))
            .order_by(recipients.c.outbox_id, recipients.c.address))
        for outbox_id, address, status, code, message in outcomes:
            deliveries[outbox_id]["recipients"].append(
                {"address": address, "status": status, "code": code, "message": message})
        return deliveries
    services = _table("maintenance_services")
    found: dict[int, dict[str, Any]] = {i: {"services": []} for i in ids}
    rows = await connection.execute(
        select(services.c.window_id, services.c.service_id)
        .where(services.c.window_id.in_(list(ids)))
        .order_by(services.c.window_id, services.c.service_id))
    for window_id, service_id in rows:
        found[window_id]["services"].append(service_id)
    return found


async def _rows(connection: AsyncConnection, table: str, ids: Sequence[int]) -> dict[int, Any]:
    """Id -> the canonical fact of each row named (absent: no such row)."""
    found: dict[int, Any] = {}
    chosen = _table(table)
    for start in range(0, len(ids), _BATCH):
        part = list(ids[start:start + _BATCH])
        extras = await _extras(connection, table, part)
        rows = await connection.execute(select(chosen).where(chosen.c.id.in_(part)))
        for row in rows.mappings():
            found[row["id"]] = _fact(table, dict(row), extras.get(row["id"]))
    return found


def fact_of(table: str, row: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """The canonical fact of a row as :func:`append` chains it (for an export's reader)."""
    return _fact(table, row, extra)


# --- appending ---------------------------------------------------------------------------------


async def _lock(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": _PG_LOCK_KEY})


# Built once: every append reads the head.
_HEAD = (select(EvidenceEntry.__table__.c.seq, EvidenceEntry.__table__.c.hash)
         .order_by(EvidenceEntry.__table__.c.seq.desc()).limit(1))


async def _head(connection: AsyncConnection) -> tuple[int, str] | None:
    row = (await connection.execute(_HEAD)).first()
    return None if row is None else (int(row[0]), str(row[1]))


async def _genesis(connection: AsyncConnection, table: str, ids: Sequence[int]) -> str:
    """The highest id of each chained table before the chain (the ids being chained now,
    in their own table, are the chain's)."""
    before: dict[str, int] = {}
    for name in CHAINED:
        chosen = _table(name)
        query = select(func.max(chosen.c.id))
        if name == table and ids:
            query = query.where(chosen.c.id < min(ids))
        before[name] = int((await connection.execute(query)).scalar() or 0)
    return _envelope(GENESIS, None, None, {"before": before})


async def _write(connection: AsyncConnection, at: dt.datetime,
                 items: Iterable[tuple[str, str | None, str | None, str]],
                 genesis_for: tuple[str, Sequence[int]] | None = None) -> int:
    """Chain ``(kind, table, id, canonical)`` items after the head; returns the new head's seq."""
    await _lock(connection)
    found = await _head(connection)
    rows: list[dict[str, Any]] = []
    if found is None:
        seq, prev = 0, ZERO_HASH
        table, ids = genesis_for or ("", ())
        body = await _genesis(connection, table, ids)
        seq += 1
        digest = entry_hash(prev, body)
        rows.append({"seq": seq, "kind": GENESIS, "fact_table": None, "fact_id": None,
                     "recorded_at": at, "canonical": body, "prev_hash": prev, "hash": digest})
        prev = digest
    else:
        seq, prev = found
    for kind, table_name, fact_id, body in items:
        seq += 1
        content = content_digest(body)
        digest = link_hash(prev, content)
        stored = KEPT_IN_ROW + content if table_name in _KEPT_IN_ROWS else body
        rows.append({"seq": seq, "kind": kind, "fact_table": table_name, "fact_id": fact_id,
                     "recorded_at": at, "canonical": stored, "prev_hash": prev, "hash": digest})
        prev = digest
    for start in range(0, len(rows), _BATCH):
        await connection.execute(insert(EvidenceEntry), rows[start:start + _BATCH])
    return seq


async def append(tx: Tx, kind: str, table: str, ids: Sequence[int], *,
                 at: dt.datetime | None = None) -> None:
    """Chain the current state of rows ``ids`` of ``table`` (a key of :data:`CHAINED`) as
    ``kind`` (``incident.close``, ``claim.decide``...): in the caller's transaction, after
    the write of the fact. Raises :class:`StoreError` for a row that is not there."""
    if not ids:
        return
    if table not in CHAINED:
        raise StoreError(f"evidence: table {table!r} is not chained")
    connection = await tx.connection()
    ordered = sorted(set(ids))
    facts = await _rows(connection, table, ordered)
    missing = [i for i in ordered if i not in facts]
    if missing:
        raise StoreError(f"evidence: {table} row(s) {missing[:5]} to chain are not there")
    items = [(kind, table, str(i), _envelope(kind, table, str(i), facts[i])) for i in ordered]
    await _write(connection, at or dt.datetime.now(dt.UTC), items, (table, ordered))


def _as_stored(column: Any, row: Mapping[str, Any]) -> Any:
    """A column's value as reading the row back gives it (for its canonical form): a value
    not given is the column's scalar default (else NULL), an int in a float column a float,
    a float in an integer column an int; NULL stays NULL."""
    if column.name in row:
        value = row[column.name]
    else:
        default = column.default
        value = default.arg if default is not None and default.is_scalar else None
    if value is None:
        return None
    if isinstance(column.type, Float):
        return float(value)
    if isinstance(column.type, Integer) and not isinstance(value, bool):
        return int(value)
    return value


async def append_inserted(tx: Tx, kind: str, table: str, ids: Sequence[int],
                          rows: Sequence[Mapping[str, Any]], *,
                          at: dt.datetime | None = None,
                          encoded: Iterable[Mapping[str, str]] | None = None) -> None:
    """Chain rows just inserted with ``ids`` (``INSERT ... RETURNING``, in the order of
    ``rows``) from the values inserted, without reading them back: the same canonical form
    as :func:`append` gives the row read back (the check compares them). Only for tables
    whose rows hold their whole fact (no extras) and no server-side defaults. ``encoded``
    gives, per row, the canonical text of its JSON document columns (a frozen report, as
    :func:`encoded_document` wrote it for the row itself): used as it is
    (:func:`_envelope_of_row`). Each row's texts are let go once its entry is made, before
    the entries are written: given as an iterator the caller no longer holds, a frozen
    report's text (tens of megabytes) is not in memory beside its entry's."""
    if not ids:
        return
    if table not in CHAINED or table in _WITH_EXTRAS:
        raise StoreError(f"evidence: table {table!r} is not chained from inserted values")
    if len(ids) != len(rows):
        raise StoreError(f"evidence: {len(ids)} ids for {len(rows)} {table} rows")
    columns = [c for c in _table(table).columns if c.name != "id"]
    texts = encoded if encoded is not None else [{}] * len(rows)
    ordered = sorted(zip(ids, rows, texts, strict=True), key=lambda triple: triple[0],
                     reverse=True)
    del texts
    items = []
    while ordered:
        fact_id, row, given = ordered.pop()
        values = {"id": int(fact_id), **{c.name: _as_stored(c, row) for c in columns}}
        if given:
            body = _envelope_of_row(kind, table, str(fact_id), values, given)
        else:
            body = _envelope(kind, table, str(fact_id), _fact(table, values))
        del given
        items.append((kind, table, str(fact_id), body))
    await _write(await tx.connection(), at or dt.datetime.now(dt.UTC), items,
                 (table, sorted(int(i) for i in ids)))


async def record_statements(tx: Tx, revision_id: int, report: Mapping[str, Any], *,
                            at: dt.datetime | None = None,
                            digested: Sequence[str] | None = None) -> None:
    """A frozen revision's statements, one SHA-256 per customer (of its part of the report,
    canonical, which names the customer), sorted, chained right after the revision: a
    customer's archive shows this entry and its own statement, and the revision itself
    (every customer's figures) only by digest; the others are not even named.

    ``digested``: the customers' parts' digests already made (:func:`encoded_report`)."""
    customers = report.get("customers")
    if not isinstance(customers, list):
        return
    digests = sorted(digested if digested is not None
                     else (content_digest(canonical(part)) for part in customers))
    body = _envelope(STATEMENTS, None, str(revision_id),
                     {"revision_id": revision_id, "statements": digests})
    await _write(await tx.connection(), at or dt.datetime.now(dt.UTC),
                 [(STATEMENTS, None, str(revision_id), body)])


async def statements_recorded(tx: Tx, revision_id: int) -> bool:
    """Whether the revision's statements were chained (revisions frozen before this version
    were not: their archives show the whole revision)."""
    chain = EvidenceEntry.__table__
    found = await tx.scalar(select(chain.c.seq).where(
        chain.c.kind == STATEMENTS, chain.c.fact_id == str(revision_id)).limit(1))
    return found is not None


async def record_pruned(tx: Tx, table: str, ids: Sequence[int], *,
                        at: dt.datetime | None = None) -> None:
    """Retention deleted these rows of ``table`` (R-M7, older than the evidence period):
    one entry naming them, so that their absence is not a broken link."""
    if not ids:
        return
    connection = await tx.connection()
    body = _envelope(PRUNED, table, None, {"ids": sorted(int(i) for i in ids)})
    await _write(connection, at or dt.datetime.now(dt.UTC), [(PRUNED, table, None, body)])


async def head(tx: Tx) -> tuple[int, str] | None:
    """(seq, hash) of the chain's last entry, or None for an empty chain."""
    return await _head(await tx.connection())


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One link as stored: ``canonical`` is the entry's canonical text, or for a fact kept
    whole in its own row (:data:`KEPT_IN_ROW`) that text's digest (:func:`kept_text`
    rebuilds the text from the row)."""

    seq: int
    kind: str
    fact_table: str | None
    fact_id: str | None
    recorded_at: dt.datetime
    canonical: str
    prev_hash: str
    hash: str

    @property
    def kept_in_row(self) -> bool:
        """Whether the entry keeps its text's digest alone: only a table whose facts are kept
        whole in their rows may (another's entry so written does not hash as it should)."""
        return self.fact_table in _KEPT_IN_ROWS and self.canonical.startswith(KEPT_IN_ROW)

    @property
    def digest(self) -> str:
        """The content digest of the entry's canonical text (what its hash links)."""
        if self.kept_in_row:
            return self.canonical[len(KEPT_IN_ROW):]
        return content_digest(self.canonical)


async def kept_text(tx: Tx, entry: Entry) -> str | None:
    """The canonical text of an entry kept in its row, rebuilt from the row as it stands now
    (its JSON documents as stored, not parsed); None when the row is gone. Whether it is the
    text chained is its digest's to say (:func:`check` compares them)."""
    if entry.fact_table is None or entry.fact_id is None:
        return None
    return await _row_text(await tx.connection(), entry.kind, entry.fact_table,
                           int(entry.fact_id))


async def _row_text(connection: AsyncConnection, kind: str, table: str, fact_id: int
                    ) -> str | None:
    """:func:`_envelope_of_row` of a row read back, its JSON columns as the texts stored
    (a frozen report: the canonical text it was written as, :func:`encoded_document`)."""
    chosen = _table(table)
    documents = {c.name for c in chosen.columns if isinstance(c.type, JSON)}
    query = select(*[cast(c, Text).label(c.name) if c.name in documents else c
                     for c in chosen.columns]).where(chosen.c.id == fact_id)
    row = (await connection.execute(query)).mappings().first()
    if row is None:
        return None
    values = dict(row)
    return _envelope_of_row(kind, table, str(fact_id), values,
                            {name: values[name] for name in documents if values[name] is not None})


async def entries(tx: Tx, *, after: int = 0, until: int | None = None) -> AsyncIterator[Entry]:
    """The chain's entries from seq ``after + 1`` (to ``until``), in order, read in batches."""
    connection = await tx.connection()
    chain = EvidenceEntry.__table__
    last = after
    while True:
        query = select(chain).where(chain.c.seq > last).order_by(chain.c.seq).limit(_BATCH)
        if until is not None:
            query = query.where(chain.c.seq <= until)
        rows = (await connection.execute(query)).mappings().all()
        if not rows:
            return
        for row in rows:
            yield Entry(row["seq"], row["kind"], row["fact_table"], row["fact_id"],
                        row["recorded_at"], row["canonical"], row["prev_hash"], row["hash"])
        last = rows[-1]["seq"]


async def current_facts(tx: Tx, table: str, ids: Sequence[int]) -> dict[int, Any]:
    """Id -> the canonical fact of each row of ``table`` as it stands now."""
    return await _rows(await tx.connection(), table, list(ids))


async def table_ids(tx: Tx, table: str, above: int) -> list[int]:
    """The ids of ``table`` above ``above`` (rows recorded since the chain began)."""
    connection = await tx.connection()
    chosen = _table(table)
    query = select(chosen.c.id).where(chosen.c.id > above).order_by(chosen.c.id)
    if table == "outbox":
        query = query.where(chosen.c.accepted_at.is_not(None))
    return [int(i) for i in await connection.scalars(query)]


async def open_runs(tx: Tx) -> set[int]:
    """Each target's latest probe run: still growing, chained when it closes."""
    connection = await tx.connection()
    runs = _table("probe_runs")
    query = select(func.max(runs.c.id)).group_by(runs.c.target_id)
    return {int(i) for i in await connection.scalars(query)}


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first broken link: where, and what differs."""

    seq: int | None  # the entry; None for a row the chain never recorded
    kind: str | None
    table: str | None
    fact_id: str | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "table": self.table, "id": self.fact_id,
                "problem": self.problem}


@dataclass
class CheckResult:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = ZERO_HASH
    facts: int = 0
    checkpoints: int = 0
    broken: Break | None = None
    problems: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None


def _fact_digest(body: str) -> tuple[str, str]:
    """(SHA-256 of the fact's canonical JSON, its kind) out of an entry's canonical text: a
    walk keeps 64 characters per chained fact, not the fact."""
    parsed = json.loads(body)
    return content_digest(canonical(parsed.get("fact"))), str(parsed.get("kind"))


def _first_difference(stored: Any, current: Any, path: str = "") -> str:
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current)):
            if key not in current:
                return f"{path}{key}: chained {stored[key]!r}, now absent"
            if key not in stored:
                return f"{path}{key}: not chained, now {current[key]!r}"
            if stored[key] != current[key]:
                return _first_difference(stored[key], current[key], f"{path}{key}.")
        return "no difference"
    return f"{path.rstrip('.')}: chained {stored!r}, now {current!r}"


#: Steps of :func:`check` told to its ``progress``.
CHECKING = "checking each entry's hash"
COMPARING = "comparing the chained facts with their rows"
_PROGRESS_EVERY = 5000  # entries


async def check(tx: Tx, *, after: int = 0, previous_hash: str | None = None,
                 rows: bool = True, progress: Progress | None = None) -> CheckResult:
    """Walk the chain (from seq ``after + 1``, whose predecessor's hash is
    ``previous_hash``): recompute every hash, and (``rows``) compare each chained fact's
    latest entry with its row now and look for rows the chain never recorded. The first
    broken link (by seq; unrecorded rows last) is :attr:`CheckResult.broken`.
    ``progress`` is told the entries walked (of those up to the head when it began) and
    the comparison's step."""
    result = CheckResult()
    total = 0
    if progress is not None:
        connection = await tx.connection()
        head = (await connection.execute(select(func.max(EvidenceEntry.seq)))).scalar()
        total = max(0, (head or 0) - after)
        progress(0, total, CHECKING)
    problems: list[Break] = []
    expected_prev = previous_hash if previous_hash is not None else ZERO_HASH
    expected_seq = after + 1
    latest: dict[tuple[str, int], tuple[int, str, str]] = {}  # -> (seq, kind, fact digest)
    pruned: dict[str, set[int]] = {}
    watermark: dict[str, int] = {}
    chain_broken = False
    async for entry in entries(tx, after=after):
        result.entries += 1
        if progress is not None and result.entries % _PROGRESS_EVERY == 0:
            progress(min(result.entries, total), total, CHECKING)
        if not chain_broken:
            problem = None
            if entry.seq != expected_seq:
                problem = (f"entry {expected_seq} is missing (the next one is {entry.seq})"
                           if entry.seq > expected_seq else f"seq {entry.seq} out of order")
            elif entry.prev_hash != expected_prev:
                problem = (f"prev_hash {entry.prev_hash[:16]}... is not the hash of entry "
                           f"{entry.seq - 1} ({expected_prev[:16]}...)")
            elif link_hash(entry.prev_hash, entry.digest) != entry.hash:
                problem = "hash does not match the entry's content"
            elif not entry.kept_in_row:  # a kept entry's text is rebuilt with its own names
                try:
                    parsed = json.loads(entry.canonical)
                    if (parsed.get("kind"), parsed.get("table"), parsed.get("id")) != (
                            entry.kind, entry.fact_table, entry.fact_id):
                        problem = "kind, table or id differ from what the entry's hash covers"
                except ValueError:
                    problem = "the entry's content is not JSON"
            if problem is not None:
                problems.append(Break(entry.seq, entry.kind, entry.fact_table, entry.fact_id,
                                      problem))
                chain_broken = True  # what follows hangs on a broken link
        expected_seq = entry.seq + 1
        expected_prev = entry.hash
        result.head_seq, result.head_hash = entry.seq, entry.hash
        if not rows or chain_broken:
            continue
        if entry.kind == GENESIS:
            watermark = {k: int(v) for k, v in json.loads(entry.canonical)["fact"]["before"].items()}
        elif entry.kind == PRUNED and entry.fact_table:
            ids = json.loads(entry.canonical)["fact"]["ids"]
            pruned.setdefault(entry.fact_table, set()).update(int(i) for i in ids)
            for i in ids:
                latest.pop((entry.fact_table, int(i)), None)
        elif entry.fact_table in CHAINED and entry.fact_id is not None:
            if entry.kept_in_row:  # compared by the whole entry's digest (_compare_rows)
                latest[(entry.fact_table, int(entry.fact_id))] = (
                    entry.seq, entry.kind, entry.canonical)
                continue
            fact_json, kind = _fact_digest(entry.canonical)
            latest[(entry.fact_table, int(entry.fact_id))] = (entry.seq, kind, fact_json)
    if progress is not None:
        progress(total, total, CHECKING)
    if rows and not chain_broken:
        if progress is not None:
            progress(0, 0, COMPARING)
        problems.extend(await _compare_rows(tx, latest, watermark, pruned, result))
    result.problems = sorted(problems, key=lambda b: (b.seq is None, b.seq or 0))
    result.broken = result.problems[0] if result.problems else None
    return result


async def _compare_kept(tx: Tx, table: str, ids: Sequence[int],
                        latest: dict[tuple[str, int], tuple[int, str, str]]) -> list[Break]:
    """Rows kept whole (a frozen revision) against their entries' digests, one at a time
    (each is tens of megabytes at 10,000 customers)."""
    problems: list[Break] = []
    connection = await tx.connection()
    for fact_id in ids:
        seq, kind, stored = latest[(table, fact_id)]
        now = await _row_text(connection, kind, table, fact_id)
        if now is None:
            problems.append(Break(seq, kind, table, str(fact_id), "the row was deleted"))
        elif KEPT_IN_ROW + content_digest(now) != stored:
            problems.append(Break(seq, kind, table, str(fact_id),
                                  "the row differs from what was chained (its text is kept "
                                  "in the row alone, the chain holds its digest)"))
    return problems


async def _fact_at(tx: Tx, seq: int) -> Any:
    connection = await tx.connection()
    chain = EvidenceEntry.__table__
    body = (await connection.execute(select(chain.c.canonical).where(chain.c.seq == seq))).scalar()
    return json.loads(canonical(json.loads(body or "{}").get("fact")))


async def _compare_rows(tx: Tx, latest: dict[tuple[str, int], tuple[int, str, str]],
                        watermark: dict[str, int], pruned: dict[str, set[int]],
                        result: CheckResult) -> list[Break]:
    problems: list[Break] = []
    by_table: dict[str, list[int]] = {}
    for table, fact_id in latest:
        by_table.setdefault(table, []).append(fact_id)
    for table in CHAINED:
        ids = sorted(by_table.get(table, []))
        kept = [i for i in ids if latest[(table, i)][2].startswith(KEPT_IN_ROW)]
        problems += await _compare_kept(tx, table, kept, latest)
        compared = [i for i in ids if not latest[(table, i)][2].startswith(KEPT_IN_ROW)]
        now = await current_facts(tx, table, compared)
        result.facts += len(ids)
        for fact_id in compared:
            seq, kind, stored = latest[(table, fact_id)]
            if fact_id not in now:
                problems.append(Break(seq, kind, table, str(fact_id),
                                      "the row was deleted"))
                continue
            current = canonical(now[fact_id])
            if content_digest(current) != stored:
                chained = await _fact_at(tx, seq)
                difference = _first_difference(chained, json.loads(current))
                problems.append(Break(seq, kind, table, str(fact_id),
                                      f"the row differs: {difference}"))
        if not watermark:
            continue  # an empty chain: nothing recorded yet
        if table not in watermark:  # chained since a later version than the genesis'
            if not ids:
                continue
            watermark[table] = min(ids) - 1
        chained = set(ids) | pruned.get(table, set())
        exempt = await open_runs(tx) if table == "probe_runs" else set()
        for fact_id in await table_ids(tx, table, watermark.get(table, 0)):
            if fact_id not in chained and fact_id not in exempt:
                problems.append(Break(None, None, table, str(fact_id),
                                      "a row the chain never recorded"))
    return problems


# --- signed checkpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    id: int
    seq: int
    hash: str
    key_id: str
    signature: str  # base64
    signed_at: dt.datetime
    reason: str  # periodic | revision
    revision_id: int | None


async def record_checkpoint(tx: Tx, *, seq: int, hash: str, key_id: str, public_key: str,
                            signature: str, signed_at: dt.datetime, reason: str,
                            revision_id: int | None = None) -> int:
    """A signed checkpoint; the signing key's public half is kept the first time it signs."""
    known = await tx.scalar(select(EvidenceKey.key_id).where(EvidenceKey.key_id == key_id))
    if known is None:
        await tx.execute(insert(EvidenceKey).values(key_id=key_id, public_key=public_key,
                                                    first_signed_at=signed_at))
    result = await tx.execute(insert(EvidenceCheckpoint).values(
        seq=seq, hash=hash, key_id=key_id, signature=signature, signed_at=signed_at,
        reason=reason, revision_id=revision_id).returning(EvidenceCheckpoint.id))
    return int(result.scalar_one())


async def checkpoints(tx: Tx, *, revision_id: int | None = None,
                      up_to: int | None = None) -> list[Checkpoint]:
    """Signed checkpoints, oldest first (only a revision's; only those at or before seq ``up_to``)."""
    query = select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.seq, EvidenceCheckpoint.id)
    if revision_id is not None:
        query = query.where(EvidenceCheckpoint.revision_id == revision_id)
    if up_to is not None:
        query = query.where(EvidenceCheckpoint.seq <= up_to)
    return [Checkpoint(c.id, c.seq, c.hash, c.key_id, c.signature, c.signed_at, c.reason,
                       c.revision_id) for c in await tx.scalars(query)]


async def hash_at(tx: Tx, seq: int) -> str | None:
    connection = await tx.connection()
    chain = EvidenceEntry.__table__
    found = (await connection.execute(select(chain.c.hash).where(chain.c.seq == seq))).scalar()
    return None if found is None else str(found)


async def keys(tx: Tx) -> list[tuple[str, str, dt.datetime]]:
    """(key id, base64 public key, first signed at) of every key that signed, oldest first."""
    rows = await tx.execute(select(EvidenceKey.key_id, EvidenceKey.public_key,
                                   EvidenceKey.first_signed_at)
                            .order_by(EvidenceKey.first_signed_at, EvidenceKey.key_id))
    return [(k, p, at) for k, p, at in rows]


async def revision_id(tx: Tx, calendar: str, month: str, revision: int) -> int | None:
    """The row id of a report revision (what its chain entries name)."""
    from monitor.store.models import ReportRevision

    found = await tx.scalar(select(ReportRevision.id).where(
        ReportRevision.calendar == calendar, ReportRevision.month == month,
        ReportRevision.revision == revision))
    return None if found is None else int(found)


@dataclass(frozen=True)
class SignedRevision:
    """A closed month's latest report revision and the signed checkpoint frozen with it
    (None: closed without a signing key)."""
    calendar: str
    month: str
    revision: int
    inputs_hash: str
    checkpoint: Checkpoint | None


async def signed_revisions(tx: Tx, calendar: str, *, limit: int) -> list[SignedRevision]:
    """The latest revision of each of the ``limit`` newest closed months of ``calendar``,
    newest first, each with its newest revision checkpoint; not the report (tens of
    megabytes at 10,000 customers)."""
    from monitor.store.models import ReportRevision

    latest = (select(ReportRevision.month, func.max(ReportRevision.revision).label("number"))
              .where(ReportRevision.calendar == calendar)
              .group_by(ReportRevision.month).subquery())
    rows = list(await tx.execute(
        select(ReportRevision.id, ReportRevision.month, ReportRevision.revision,
               ReportRevision.inputs_hash)
        .join(latest, (ReportRevision.month == latest.c.month)
              & (ReportRevision.revision == latest.c.number))
        .where(ReportRevision.calendar == calendar)
        .order_by(ReportRevision.month.desc()).limit(limit)))
    ids = [int(r.id) for r in rows]
    signed: dict[int, Checkpoint] = {}
    if ids:
        for c in await tx.scalars(select(EvidenceCheckpoint)
                                  .where(EvidenceCheckpoint.revision_id.in_(ids))
                                  .order_by(EvidenceCheckpoint.seq, EvidenceCheckpoint.id)):
            signed[int(c.revision_id or 0)] = Checkpoint(c.id, c.seq, c.hash, c.key_id, c.signature,
                                                    c.signed_at, c.reason, c.revision_id)
    return [SignedRevision(calendar, r.month, int(r.revision), r.inputs_hash,
                           signed.get(int(r.id))) for r in rows]
