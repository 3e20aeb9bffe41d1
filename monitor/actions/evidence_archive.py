"""One customer's month as an evidence archive, and its offline verification
(``sla-monitor evidence export`` and ``sla-monitor evidence verify``).

The archive is a ZIP file:

``manifest.json``
    format, customer, month, the revision (number, closed at, inputs SHA-256), the chain's
    range ``(after, head]`` with the hash at each end, the signed checkpoint of the head
    (key id, base64 Ed25519 signature), the signed checkpoint the range begins after
    (``start``: the newest before the month's first fact; none when it begins at the
    chain's first entry) and the public keys that signed.
``chain.jsonl``
    every entry of the range in order: ``{"seq", "prev_hash", "hash", "kind", "table",
    "id", "canonical"}`` for the facts the customer's statement derives from (and the
    revision itself), ``{"seq", "prev_hash", "hash", "digest"}`` for everyone else's (the
    SHA-256 of its content only: the links are still recomputed, nothing is disclosed).
``inputs.json``
    the engine's inputs for the customer's month as of the revision's close
    (:class:`monitor.sla.archive.ArchivedInputs`).
``statement.json``
    the customer's figures as the revision froze them.

:func:`verify_archive` needs nothing but the file (and the published keys): it recomputes
every link from the range's start to the signed head, checks the signatures (the head's and
the start's), checks that the
statement is the one in the chained revision and that the inputs' incidents, notifications,
maintenance windows and tickets are the chained facts, then recomputes the month with the
pure engine (:func:`monitor.sla.compute_month`) and compares it with the statement.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.actions.common import iso_utc, known
from monitor.actions.evidence_keys import verify_signature
from monitor.actions.inputs import month_inputs
from monitor.actions.reports import closable_from
from monitor.config import Settings
from monitor.errors import InputError, time_mark
from monitor.sla import MonthReport
from monitor.sla.archive import ArchivedInputs
from monitor.store import Database, evidence, reports
from monitor.store.evidence_archive import (
    FORMAT,
    ZERO,
    Verification,
    chain_lines,
    customer_part,
    first_disclosed,
    statement_of,
)
from monitor.store.evidence_archive import verify_archive as _verify_archive

__all__ = ["FORMAT", "RecordsChanged", "Verification", "export_month", "verify_archive"]


class RecordsChanged(InputError):
    """The month's records changed since its latest revision was frozen: its archive waits
    for the next close (the customer's page says the month is being corrected)."""


async def export_month(db: Database, settings: Settings, *, customer: str,
                       month: str) -> bytes:
    """The archive of ``customer``'s statement for ``month`` (its latest revision)."""
    period = settings.month(month)
    async with db.reading() as tx:
        # As its text: at 10,000 customers the report parsed whole was about 800 MB for
        # one customer's archive; read from its text, one customer's part is decoded.
        revision = await reports.revision_text(tx, period.calendar, period.label)
        if revision is None:
            raise InputError("month", month, "a closed month, whose archive is its frozen "
                             "revision's: report close freezes one from "
                             f"{time_mark(closable_from(settings, period))}")
        revision_id = await evidence.revision_id(tx, period.calendar, period.label,
                                                 revision.revision)
        # The customer's own statement, bound by the revision's chained statements; a
        # revision frozen before those were chained is shown whole, as then.
        whole = revision_id is not None and not await evidence.statements_recorded(
            tx, revision_id)
        signed = await evidence.checkpoints(tx, revision_id=revision_id)
        head = await evidence.head(tx)
        keys = await evidence.keys(tx)
    report = MonthReport.from_text(revision.report)
    # A customer of the month who left since has its archive too (monitor.sla.terms).
    known(customer, settings.topology.customers.keys() | {c for c, _ in report.heads()},
          "customer", "customers or the month's")
    statement = (statement_of(report, customer) if whole else customer_part(report, customer))
    if statement is None or revision_id is None:
        raise InputError("customer", customer, f"a customer in the report of {month}")
    checkpoint = signed[-1] if signed else None
    head_seq = checkpoint.seq if checkpoint is not None else (head[0] if head else 0)
    # The archive's inputs are read from the records: they are the revision's only while
    # the month's records are as it froze them. A record changed since (a call logged late,
    # a cause changed) made an archive whose inputs were not its statement's, and verify
    # said FAILED of an honest provider: the month is closed again first (R-C3), and that
    # revision's archive is made. The whole month is read and hashed for it, as a close
    # does (a few seconds at 10,000 customers).
    everyone = await month_inputs(db, settings, period, revision.closed_at)
    if await asyncio.to_thread(everyone.digest) != revision.inputs_hash:
        raise RecordsChanged("month", month, f"a month whose records are as its latest revision "
                         f"({revision.revision}) froze them; they have changed since: closing "
                         f"the month again freezes revision {revision.revision + 1}, whose "
                         "archive this then is")
    del everyone
    inputs = await month_inputs(db, settings, period, revision.closed_at, [customer])
    archived = ArchivedInputs(inputs.period, inputs.customers, inputs.incidents,
                              inputs.maintenance, inputs.notifications, inputs.unknown,
                              inputs.policy, inputs.tickets, inputs.unknown_by_service)
    incident_ids = {i.id for i in inputs.incidents}
    window_ids = {w.id for w in inputs.maintenance}
    start = None
    async with db.reading() as tx:
        if checkpoint is not None:
            # The archive begins at the newest signed checkpoint before the month's first
            # fact (not at the chain's first entry): verify checks that signature too.
            first = await first_disclosed(tx, customer=customer, until=head_seq,
                                          incidents=incident_ids, windows=window_ids,
                                          revision_id=revision_id, whole_revision=whole)
            before = [] if first is None else await evidence.checkpoints(tx, up_to=first - 1)
            start = before[-1] if before else None
        lines, last_hash, revision_seq = await chain_lines(
            tx, customer=customer, until=head_seq, incidents=incident_ids, windows=window_ids,
            revision_id=revision_id, whole_revision=whole,
            after=start.seq if start is not None else 0)
    manifest = {
        "format": FORMAT,
        "customer": customer,
        "month": period.label,
        "calendar": period.calendar,
        "revision": {"number": revision.revision, "id": revision_id,
                     "closed_at": iso_utc(revision.closed_at),
                     "inputs_sha256": revision.inputs_hash, "chain_seq": revision_seq},
        "chain": {"after": start.seq if start is not None else 0,
                  "after_hash": start.hash if start is not None else ZERO,
                  "head": head_seq, "head_hash": last_hash},
        "start": None if start is None else {
            "seq": start.seq, "hash": start.hash, "key_id": start.key_id,
            "signature": start.signature, "signed_at": iso_utc(start.signed_at)},
        "checkpoint": None if checkpoint is None else {
            "seq": checkpoint.seq, "hash": checkpoint.hash, "key_id": checkpoint.key_id,
            "signature": checkpoint.signature, "signed_at": iso_utc(checkpoint.signed_at)},
        "keys": [{"key_id": k, "algorithm": "Ed25519", "public_key": p} for k, p, _ in keys],
    }
    # Each file dated when the revision was frozen, in UTC: the same month's archive is the
    # same bytes whenever and wherever it is exported (a name alone dates it now, locally).
    frozen_at = revision.closed_at.astimezone(dt.UTC).timetuple()[:6]

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=frozen_at)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16  # as a file named alone is written: rw-------
        return info

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member("manifest.json"), json.dumps(manifest, indent=1, sort_keys=True))
        archive.writestr(member("chain.jsonl"), "\n".join(lines) + "\n")
        archive.writestr(member("inputs.json"), json.dumps(archived.to_json(), indent=1,
                                                           sort_keys=True, ensure_ascii=False))
        archive.writestr(member("statement.json"), json.dumps(
            statement, indent=1, sort_keys=True, ensure_ascii=False))
    return buffer.getvalue()




def verify_archive(data: bytes, keys: Iterable[Mapping[str, Any]] | None = None) -> Verification:
    """Verify an archive offline (:func:`monitor.store.evidence_archive.verify_archive`) with
    Ed25519 (``keys``: the published keys trusted; None: the archive's own copy)."""
    return _verify_archive(data, keys, verify_signature)
