"""Evidence archives' chain part, written and read (:mod:`monitor.actions.evidence_archive`
has the format): which entries a customer's archive shows in full, and the offline
verification of an archive (:func:`verify_archive`: pure, bytes in, a :class:`Verification`
out; the signature check is handed in, so that this layer needs no key handling).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import StoreError, shortened
from monitor.sla.archive import ArchivedInputs
from monitor.sla.intervals import Interval, clip, subtract, total_seconds, union, whole_second
from monitor.sla.report import CustomerReport, MonthReport, StoredCustomers, iso_utc
from monitor.store.db import Tx
from monitor.store.evidence import (
    GENESIS,
    STATEMENTS,
    Entry,
    canonical,
    content_digest,
    entries,
    kept_text,
    link_hash,
)

__all__ = ["FORMAT", "ZERO", "Verification", "chain_lines", "customer_part", "first_disclosed",
           "statement_of",
           "verify_archive"]

FORMAT = "sla-monitor-evidence/1"
ZERO = "0" * 64

#: (public key base64, signature base64, seq, hash) -> whether it verifies.
SignatureCheck = Callable[[str, str, int, str], bool]


def _as_engine_writes(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A customer's part of a frozen report, read typed and written as the engine writes it
    (a cluster's ``confirmed_by`` left out), to compare with the figures recomputed."""
    try:
        return CustomerReport.from_json(statement).to_json()
    except (KeyError, TypeError, ValueError) as exc:
        raise _Mismatch(f"statement.json cannot be read: {exc}") from None


def customer_part(report: Mapping[str, Any] | MonthReport, customer: str
                  ) -> dict[str, Any] | None:
    """The customer's part of a frozen report's JSON as stored (what the revision's chained
    statements digest, :func:`monitor.store.evidence.record_statements`), or None. A report
    read from its text (:meth:`MonthReport.from_text`) gives it without parsing the others."""
    if isinstance(report, MonthReport):
        assert isinstance(report.customers, StoredCustomers), "read with from_text"
        try:
            part = report.customers.stored(customer)
        except KeyError:
            return None
        return part if isinstance(part, dict) else None
    parts = report.get("customers")
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and part.get("customer") == customer:
            return part
    return None


def statement_of(report: Mapping[str, Any] | MonthReport, customer: str
                 ) -> dict[str, Any] | None:
    """The customer's figures in a frozen report's JSON (or a report read from its text),
    read typed (:class:`MonthReport`) and written as the engine writes them (a cluster's
    ``confirmed_by`` left out)."""
    typed = report if isinstance(report, MonthReport) else MonthReport.from_json(report)
    try:
        return typed.customer(customer).to_json()
    except KeyError:
        return None


_FactRule = Callable[[Mapping[str, Any], str, set[int], set[int]], bool]

#: Each table whose entries are shown in full by their fact's content: (fact, customer,
#: the month's incident ids, its maintenance window ids) -> shown.
_BY_FACT: dict[str, _FactRule] = {
    "incidents": lambda fact, customer, incidents, windows: int(fact["id"]) in incidents,
    "cause_changes": lambda fact, customer, incidents, windows:
        int(fact["incident_id"]) in incidents,
    "incident_updates": lambda fact, customer, incidents, windows:
        int(fact["incident_id"]) in incidents,
    "notifications": lambda fact, customer, incidents, windows:
        fact.get("customer_id") == customer and int(fact["incident_id"]) in incidents,
    "maintenance_windows": lambda fact, customer, incidents, windows: int(fact["id"]) in windows,
    "maintenance_notices": lambda fact, customer, incidents, windows:
        fact.get("customer_id") == customer and int(fact["window_id"]) in windows,
    "tickets": lambda fact, customer, incidents, windows: fact.get("customer_id") == customer,
    "claims": lambda fact, customer, incidents, windows: fact.get("customer_id") == customer,
    "ledger_entries": lambda fact, customer, incidents, windows:
        fact.get("customer_id") == customer,
}


def _disclosed(entry: Entry, customer: str, incidents: set[int], windows: set[int],
               revision_id: int, whole_revision: bool) -> bool:
    """Whether an entry is one the customer's statement derives from (shown in full). The
    revision itself (every customer's figures) is shown only by digest: its chained
    statements (:data:`STATEMENTS`) bind the customer's own; a revision frozen before those
    were chained (``whole_revision``) is shown whole, as then. The entry's fact is parsed
    only where its content decides: a revision's entry (the whole report again, about 86 MB
    at 10,000 customers) is decided by its id."""
    table = entry.fact_table
    if table == "report_revisions":
        return whole_revision and entry.fact_id == str(revision_id)
    if table in ("unknown_intervals", "daemon_sessions"):
        return True  # the monitor's runs and blind spells: everyone's unknown time (R-M3)
    rule = _BY_FACT.get(table or "")
    if rule is None:
        return False
    fact = json.loads(entry.canonical).get("fact")
    return isinstance(fact, dict) and rule(fact, customer, incidents, windows)


async def first_disclosed(tx: Tx, *, customer: str, until: int, incidents: set[int],
                          windows: set[int], revision_id: int,
                          whole_revision: bool = False) -> int | None:
    """The seq of the first entry up to ``until`` that the archive shows in full (the
    month's first fact; the genesis entry aside), or None."""
    async for entry in entries(tx, until=until):
        if entry.kind == GENESIS:
            continue
        if _disclosed(entry, customer, incidents, windows, revision_id, whole_revision):
            return entry.seq
    return None


async def chain_lines(tx: Tx, *, customer: str, until: int, incidents: set[int],
                      windows: set[int], revision_id: int, whole_revision: bool = False,
                      after: int = 0) -> tuple[list[str], str, int | None]:
    """The archive's ``chain.jsonl`` lines from seq ``after + 1`` up to seq ``until``: the
    customer's facts in full, everyone else's by digest (the revision's too, unless
    ``whole_revision``: see :func:`_disclosed`); with the hash at the end and the
    revision's seq."""
    lines: list[str] = []
    last_hash = ZERO
    revision_seq = None
    async for entry in entries(tx, after=after, until=until):
        if entry.fact_table == "report_revisions" and entry.fact_id == str(revision_id):
            revision_seq = entry.seq
        line: dict[str, Any] = {"seq": entry.seq, "prev_hash": entry.prev_hash,
                                "hash": entry.hash}
        if entry.kind == GENESIS or (entry.kind == STATEMENTS and entry.fact_id == str(
                revision_id)) or _disclosed(entry, customer, incidents, windows,
                                                  revision_id, whole_revision):
            line.update(kind=entry.kind, table=entry.fact_table, id=entry.fact_id,
                        canonical=await _entry_text(tx, entry))
        else:
            line["digest"] = entry.digest
        lines.append(json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        last_hash = entry.hash
    return lines, last_hash, revision_seq


async def _entry_text(tx: Tx, entry: Entry) -> str:
    """An entry's canonical text; one kept in its row rebuilt from the row, which must still
    be what was chained (else the archive would not verify: refused, naming it)."""
    if not entry.kept_in_row:
        return entry.canonical
    rebuilt = await kept_text(tx, entry)
    if rebuilt is None or content_digest(rebuilt) != entry.digest:
        raise StoreError(f"evidence: {entry.fact_table} row {entry.fact_id} is not what entry "
                         f"{entry.seq} chained (run `sla-monitor evidence check`)")
    return rebuilt


# --- verifying ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """What :func:`verify_archive` found: each step's result, and the first difference."""

    customer: str = ""
    month: str = ""
    revision: int = 0
    entries: int = 0
    disclosed: int = 0
    head: int = 0
    key_id: str | None = None
    signed: bool = False
    key_pinned: bool = False
    figures: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    difference: str | None = None

    @property
    def ok(self) -> bool:
        return self.difference is None


class _Mismatch(Exception):
    pass


def _first_difference(stated: Any, computed: Any, path: str = "") -> str | None:
    if isinstance(stated, dict) and isinstance(computed, dict):
        for key in sorted(set(stated) | set(computed)):
            found = _first_difference(stated.get(key), computed.get(key), f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(stated, list) and isinstance(computed, list):
        if len(stated) != len(computed):
            return f"{path.rstrip('.')}: the statement has {len(stated)}, recomputed {len(computed)}"
        for index, (a, b) in enumerate(zip(stated, computed, strict=True)):
            found = _first_difference(a, b, f"{path}{index}.")
            if found is not None:
                return found
        return None
    if stated != computed:
        return f"{path.rstrip('.')}: the statement says {stated!r}, recomputed {computed!r}"
    return None


def _read(archive: zipfile.ZipFile, name: str) -> str:
    try:
        return archive.read(name).decode("utf-8")
    except KeyError:
        raise _Mismatch(f"the archive has no {name}") from None


def verify_archive(data: bytes, keys: Iterable[Mapping[str, Any]] | None,
                   verify_signature: SignatureCheck) -> Verification:
    """Verify an archive offline. ``keys``: the published keys (``key_id``, ``public_key``)
    the verifier trusts; None: the archive's own (said: not pinned)."""
    found = Verification()
    try:
        _verify(data, keys, found, verify_signature)
    except _Mismatch as exc:
        found.difference = str(exc)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        # The file is anyone's: a field missing or of another shape (a list where a mapping
        # belongs, a text for a number, a time that is not one) fails it, never a traceback.
        found.difference = (f"not a well-formed evidence archive (after the steps above): "
                            f"{type(exc).__name__} {shortened(str(exc))!r}")
    return found


def _verify(data: bytes, keys: Iterable[Mapping[str, Any]] | None, found: Verification,
            verify_signature: SignatureCheck) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _Mismatch("not an evidence archive (not a ZIP file)") from None
    with archive:
        manifest = json.loads(_read(archive, "manifest.json"))
        if manifest.get("format") != FORMAT:
            raise _Mismatch(f"unknown archive format {manifest.get('format')!r}; "
                            f"this version reads {FORMAT}")
        lines = [json.loads(line) for line in _read(archive, "chain.jsonl").splitlines() if line]
        inputs_document = json.loads(_read(archive, "inputs.json"))
        statement = json.loads(_read(archive, "statement.json"))
    found.customer, found.month = manifest["customer"], manifest["month"]
    found.revision = int(manifest["revision"]["number"])
    chain = manifest["chain"]
    # 1. Every link, from the range's start to its head. A range that does not begin at the
    # chain's first entry begins at a signed checkpoint: its signature is checked in step 2.
    previous, expected = chain["after_hash"], int(chain["after"]) + 1
    start = manifest.get("start")
    if int(chain["after"]) != 0 and (start is None or int(start["seq"]) != int(chain["after"])
                                     or start["hash"] != previous):
        raise _Mismatch(f"the chain begins after entry {chain['after']}, which is not a "
                        "signed checkpoint of the archive")
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    facts_of: dict[str, list[dict[str, Any]]] = {}
    revision_fact: dict[str, Any] | None = None
    statements_fact: dict[str, Any] | None = None
    for line in lines:
        seq = int(line["seq"])
        if seq != expected:
            raise _Mismatch(f"chain entry {expected} is missing (found {seq})")
        if line["prev_hash"] != previous:
            raise _Mismatch(f"chain entry {seq}: its prev_hash is not entry {seq - 1}'s hash")
        if "canonical" in line:
            digest = content_digest(line["canonical"])
            found.disclosed += 1
        else:
            digest = line["digest"]
        if link_hash(previous, digest) != line["hash"]:
            raise _Mismatch(f"chain entry {seq} ({line.get('kind', 'undisclosed')}, "
                            f"{line.get('table')} {line.get('id')}): its hash does not match "
                            "its content")
        if "canonical" in line:
            entry = json.loads(line["canonical"])
            if (entry.get("kind"), entry.get("table"), entry.get("id")) != (
                    line.get("kind"), line.get("table"), line.get("id")):
                raise _Mismatch(f"chain entry {seq}: kind, table or id differ from its content")
            table, fact = entry.get("table"), entry.get("fact")
            if entry.get("kind") == STATEMENTS and str(entry.get("id")) == str(
                    manifest["revision"]["id"]):
                statements_fact = fact
            if table is not None and entry.get("id") is not None:
                latest[(table, entry["id"])] = fact
                facts_of.setdefault(table, []).append(fact)
                if table == "report_revisions" and str(entry["id"]) == str(
                        manifest["revision"]["id"]):
                    revision_fact = fact
        previous, expected = line["hash"], seq + 1
    found.entries = len(lines)
    if previous != chain["head_hash"] or expected - 1 != int(chain["head"]):
        raise _Mismatch("the chain does not end at the manifest's head")
    found.head = int(chain["head"])
    found.steps.append(f"chain: {found.entries} links recomputed up to entry {found.head} "
                       f"({found.disclosed} facts disclosed, the rest by digest)")
    # 2. The signature of the head.
    checkpoint = manifest.get("checkpoint")
    if checkpoint is None:
        if int(chain["after"]) != 0:
            raise _Mismatch(f"the chain begins after entry {chain['after']} and its head is "
                            "not signed")
        found.steps.append("signature: NONE (the provider configured no evidence.signing_key)")
    else:
        found.key_id = checkpoint["key_id"]
        if int(checkpoint["seq"]) != found.head or checkpoint["hash"] != previous:
            raise _Mismatch("the signed checkpoint is not the chain's head")
        found.key_pinned = keys is not None
        trusted = {k["key_id"]: k["public_key"]
                   for k in (keys if keys is not None else manifest.get("keys", []))}
        public = trusted.get(found.key_id)
        if public is None:
            raise _Mismatch(f"the head is signed by key {found.key_id}, which is not among "
                            f"the keys given ({', '.join(sorted(trusted)) or 'none'})")
        if not verify_signature(public, checkpoint["signature"], found.head, previous):
            raise _Mismatch(f"the signature of the head by key {found.key_id} does not verify")
        if start is not None and int(chain["after"]) != 0:
            opener = trusted.get(start["key_id"])
            if opener is None or not verify_signature(opener, start["signature"],
                                                      int(start["seq"]), start["hash"]):
                raise _Mismatch(f"the signature of the chain's start (entry {start['seq']}, "
                                f"key {start['key_id']}) does not verify")
            found.steps.append(f"start: entry {start['seq']} is a signed checkpoint (key "
                               f"{start['key_id']}); the links before it are not the month's")
        found.signed = True
        found.steps.append(f"signature: valid, key {found.key_id}" + (
            "" if found.key_pinned else " (the archive's own copy of the key: compare it with "
            "the published /.well-known/sla-monitor-keys.json, or pass --key)"))
    # 3. The statement is the chained revision's: its SHA-256 is the one the revision's
    # statements entry chained for the customer (or, for a revision frozen before those
    # were chained, it is the customer's part of the whole chained revision).
    if statements_fact is not None:
        if statement.get("customer") != found.customer:
            raise _Mismatch(f"statement.json is {statement.get('customer')!r}'s, not "
                            f"{found.customer!r}'s")
        digest = content_digest(canonical(statement))
        if digest not in (statements_fact.get("statements") or []):
            raise _Mismatch("statement.json is not the chained revision's: its SHA-256 "
                            f"({digest[:16]}...) is not among the revision's statements")
        statement = _as_engine_writes(statement)
    elif revision_fact is not None:
        chained = statement_of(revision_fact["report"], found.customer)
        if chained != statement:
            what = _first_difference(chained, statement) or "differs"
            raise _Mismatch(f"statement.json is not the chained revision's: {what}")
    else:
        raise _Mismatch(f"the revision {found.revision} is not in the chain")
    found.steps.append(f"statement: the one frozen in revision {found.revision} "
                       f"(chain entry {manifest['revision']['chain_seq']})")
    # 4. The inputs are the chained facts.
    inputs = ArchivedInputs.from_json(inputs_document)
    closed_at = dt.datetime.fromisoformat(manifest["revision"]["closed_at"])
    _cross_check(inputs, latest, facts_of, found.customer)
    _unknown_covered(inputs, latest, closed_at)
    found.steps.append(f"inputs: incidents {len(inputs.incidents)}, notifications "
                       f"{len(inputs.notifications)}, maintenance windows "
                       f"{len(inputs.maintenance)}, tickets {len(inputs.tickets)} match the chain "
                       "(the contract's policy and the customer's services are the archive's; "
                       "every chained unknown interval is in the inputs' unknown time; the "
                       "time between the monitor's runs is not recomputed)")
    # 5. The figures, recomputed by the pure engine.
    computed = inputs.compute(closed_at)
    try:
        mine = computed.customer(found.customer).to_json()
    except KeyError:
        raise _Mismatch(f"the inputs have no customer {found.customer!r}") from None
    difference = _first_difference(statement, json.loads(json.dumps(mine)))
    if difference is not None:
        raise _Mismatch(f"recomputed figures differ: {difference}")
    found.figures = {k: statement.get(k) for k in (
        "availability_percent", "downtime_seconds", "excluded_seconds", "unknown_seconds",
        "tier", "credit_days_total", "credit_value", "refund_amount", "currency")}
    found.steps.append("figures: recomputed from the archive alone, equal to the statement")


def _instant(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _unknown_covered(inputs: ArchivedInputs, latest: Mapping[tuple[str, str], Any],
                     closed_at: dt.datetime) -> None:
    """R-M3: every unknown interval the chain records (the whole monitor's, or one
    target's of the customer's services) is unknown time in the inputs, within the month
    as of the revision; leaving one out would count time nobody watched as up. (A
    vantage's blind spell counts only where every vantage was blind: not checked here.)"""
    period = Interval(inputs.period.start, min(inputs.period.end, closed_at))
    if period.end <= period.start:
        return
    services = set().union(*(c.services for c in inputs.customers))
    everyone = union(inputs.unknown)
    for (table, fact_id), fact in sorted(latest.items()):
        if table != "unknown_intervals" or fact.get("vantage") is not None:
            continue
        target = fact.get("target_id")
        if target is not None and target not in services:
            continue
        start, end = _instant(fact["start"]), _instant(fact["end"]) or closed_at
        assert start is not None
        recorded = clip([Interval(whole_second(start), whole_second(max(start, end)))], period)
        given = everyone if target is None else union(
            [*everyone, *inputs.unknown_by_service.get(target, [])])
        missing = total_seconds(subtract(recorded, given))
        if missing:
            whose = "the monitor's" if target is None else f"{target}'s"
            raise _Mismatch(f"unknown interval {fact_id} ({whose}, {fact.get('reason')}): "
                            f"{missing} s of it are not unknown time in the inputs")


_INCIDENT_FIELDS = ("service", "start", "end", "cause", "detection time", "source")


def _shown(value: object) -> str:
    """A value of a mismatch as a person reads it: an instant in UTC (``...Z``), none."""
    if value is None:
        return "none"
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return repr(value) if isinstance(value, str) else str(value)


def _cross_check(inputs: ArchivedInputs, latest: Mapping[tuple[str, str], Any],
                 facts_of: Mapping[str, list[dict[str, Any]]], customer: str) -> None:
    for incident in inputs.incidents:
        fact = latest.get(("incidents", str(incident.id)))
        if fact is None:
            raise _Mismatch(f"incident {incident.id} of the inputs is not in the chain")
        chained = (fact["service_id"], _instant(fact["start"]), _instant(fact["end"]),
                   fact["cause"], _instant(fact["detected_at"]), fact["source"])
        given = (incident.service_id, incident.start, incident.end, incident.cause,
                 incident.detected_at, incident.source)
        for name, said, kept in zip(_INCIDENT_FIELDS, given, chained, strict=True):
            if said != kept:
                raise _Mismatch(f"incident {incident.id}: its {name} is {_shown(said)} in the "
                                f"inputs, {_shown(kept)} in the chain")
    firsts: dict[tuple[int, str], dt.datetime] = {}
    for fact in facts_of.get("notifications", []):
        key = (int(fact["incident_id"]), fact["customer_id"])
        at = _instant(fact["notified_at"])
        assert at is not None
        if key not in firsts or at < firsts[key]:
            firsts[key] = at
    for key, at in inputs.notifications.items():
        if firsts.get(key) != at:
            raise _Mismatch(f"the notification of incident {key[0]} to {key[1]}: the inputs "
                            f"say {_shown(at)}, the chain {_shown(firsts.get(key))}")
    # And the other way: a chained notification of the customer's (of an incident of the
    # inputs: the archive discloses no other) is in the inputs. An archive is made while the
    # month's records are as its revision froze them, so none came after it.
    for key, at in sorted(firsts.items()):
        if key[1] == customer and key not in inputs.notifications:
            raise _Mismatch(f"the notification of incident {key[0]} to {key[1]}: the inputs "
                            f"say {_shown(None)}, the chain {_shown(at)}")
    notices: dict[tuple[int, str], dt.datetime] = {}
    for fact in facts_of.get("maintenance_notices", []):
        key = (int(fact["window_id"]), fact["customer_id"])
        at = _instant(fact["sent_at"])
        assert at is not None
        if key not in notices or at < notices[key]:
            notices[key] = at
    for window in inputs.maintenance:
        fact = latest.get(("maintenance_windows", str(window.id)))
        if fact is None:
            raise _Mismatch(f"maintenance window {window.id} of the inputs is not in the chain")
        if (_instant(fact["start"]), _instant(fact["end"])) != (window.start, window.end):
            raise _Mismatch(f"maintenance window {window.id}: its times differ from the chain")
        for notified, at in window.notices.items():
            if notified == customer and notices.get((window.id, notified)) != at:
                raise _Mismatch(f"the notice of maintenance window {window.id}: the inputs "
                                f"say {_shown(at)}, the chain "
                                f"{_shown(notices.get((window.id, notified)))}")
    for ticket in inputs.tickets:
        fact = latest.get(("tickets", str(ticket.id)))
        if fact is None:
            raise _Mismatch(f"ticket {ticket.id} of the inputs is not in the chain")
        if (_instant(fact["opened_at"]), _instant(fact["diagnosed_at"]),
                _instant(fact["fixed_at"])) != (ticket.reported_at, ticket.diagnosed_at,
                                                 ticket.fixed_at):
            raise _Mismatch(f"ticket {ticket.id}: its times differ from the chain")
