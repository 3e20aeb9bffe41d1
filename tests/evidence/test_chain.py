"""The evidence chain (monitor.store.evidence): written in the same transaction as each fact,
one line under concurrent writers, and every tampering with a fact or a link of the chain
detected and named: the entry (seq, kind), the table, the id and what differs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.actions.evidence import check_chain, check_tail
from monitor.store import Database, evidence, incidents, unknown
from monitor.store.evidence import KEPT_IN_ROW, ZERO_HASH, content_digest, entry_hash
from tests.evidence.history import MIN, T0, write_history


async def _entries(db: Database) -> list[evidence.Entry]:
    async with db.reading() as tx:
        return [entry async for entry in evidence.entries(tx)]


async def test_every_fact_is_chained_and_the_chain_is_intact(db: Database) -> None:
    await write_history(db)
    chain = await _entries(db)
    kinds = [e.kind for e in chain]
    assert kinds[0] == "genesis"
    for kind in ("probe.run", "probe.failure", "incident.open", "notification",
                 "incident.close", "incident.manual", "cause.change", "incident.cause",
                 "incident.update", "maintenance.add", "maintenance.notice", "unknown.start",
                 "unknown.end", "ticket.open", "ticket.opened", "ticket.change",
                 "claim.submit", "claim.decide", "ledger.days", "report.revision",
                 "session.start", "session.stop", "smtp.accepted"):
        assert kind in kinds, kind
    # One line: seq 1.., each linked to its predecessor's hash.
    previous = ZERO_HASH
    for number, entry in enumerate(chain, start=1):
        assert entry.seq == number
        assert entry.prev_hash == previous
        # A frozen revision's entry keeps its digest only: its text is rebuilt from its row.
        assert entry.kept_in_row == (entry.fact_table == "report_revisions")
        body = entry.canonical
        if entry.kept_in_row:
            async with db.reading() as tx:
                body = await evidence.kept_text(tx, entry) or ""
            assert entry.canonical == KEPT_IN_ROW + content_digest(body)
        assert entry.hash == entry_hash(previous, body)
        previous = entry.hash
    result = await check_chain(db)
    assert result.ok, result.broken
    assert result.entries == len(chain)
    assert result.head_seq == len(chain)
    assert result.facts >= 15


@pytest.mark.slow
async def test_a_fact_rolled_back_leaves_no_entry(db: Database) -> None:
    await write_history(db)
    before = len(await _entries(db))
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await unknown.add_unknown(tx, start=T0, end=T0 + MIN, reason="daemon_down",
                                      detail=None)
            raise RuntimeError("the transaction fails after the fact")
    assert len(await _entries(db)) == before
    assert (await check_chain(db)).ok


async def test_concurrent_writers_keep_one_line(db: Database) -> None:
    """Writers on separate connections at once (a cluster's nodes): the appends queue on the
    write lock (SQLite) or the advisory lock (PostgreSQL); no fork, no duplicate seq."""
    async def writer(number: int) -> None:
        for step in range(4):
            async with db.transaction() as tx:
                start = T0 + (number * 10 + step) * MIN
                await unknown.add_unknown(tx, start=start, end=start + MIN,
                                          reason="daemon_down", detail=f"w{number}")
                await asyncio.sleep(0)
    await asyncio.gather(*(writer(n) for n in range(5)))
    chain = await _entries(db)
    assert [e.seq for e in chain] == list(range(1, 22))
    assert (await check_chain(db)).ok


@dataclass(frozen=True)
class Tamper:
    name: str
    statements: Callable[[dict[str, int]], list[tuple[str, dict[str, Any]]]]
    table: str | None  # the table named, None for a link of the chain itself
    problem: str  # a word of what differs
    chained: bool = True  # the break names an entry (seq), not an unrecorded row


TAMPERS = [
    Tamper("edit a fact",
           lambda ids: [('UPDATE incidents SET "end" = start WHERE id = :i',
                         {"i": ids["incident"]})],
           "incidents", "end"),
    Tamper("delete a fact",
           lambda ids: [("DELETE FROM probe_failures WHERE id = "
                         "(SELECT min(id) FROM probe_failures)", {})],
           "probe_failures", "deleted"),
    Tamper("insert a fact",
           lambda ids: [("INSERT INTO cause_changes (incident_id, changed_at, old_cause, "
                         "new_cause, reason, actor) VALUES (:i, :at, 'provider', 'customer', "
                         "'x', 'ops')", {"i": ids["incident"], "at": T0.replace(tzinfo=None)})],
           "cause_changes", "never recorded", chained=False),
    Tamper("swap two facts",
           lambda ids: [("UPDATE notifications SET customer_id = CASE customer_id "
                         "WHEN 'acme' THEN 'globex' ELSE 'acme' END", {})],
           "notifications", "customer_id"),
    Tamper("move a run of the monitor",  # R-M3: an earlier start hides unknown time
           lambda ids: [("UPDATE daemon_sessions SET started_at = :at WHERE id = :s",
                         {"s": ids["session"], "at": (T0 - MIN).replace(tzinfo=None)})],
           "daemon_sessions", "started_at"),
    Tamper("insert a run of the monitor",
           lambda ids: [("INSERT INTO daemon_sessions (started_at, last_beat_at, stopped_at, "
                         "hostname, pid, version) VALUES (:a, :b, :b, 'mon1', 1, '1.0')",
                         {"a": (T0 - 60 * MIN).replace(tzinfo=None),
                          "b": (T0 + 200 * MIN).replace(tzinfo=None)})],
           "daemon_sessions", "never recorded", chained=False),
    Tamper("turn a refused recipient into an accepted one",  # D-2: each one's outcome
           lambda ids: [("UPDATE outbox_recipients SET status = 'accepted', code = NULL "
                         "WHERE outbox_id = :m AND code = 550", {"m": ids["message"]})],
           "outbox", "recipients"),
    Tamper("edit a claim's decision",
           lambda ids: [("UPDATE claims SET credit_days = 3 WHERE id = :c",
                         {"c": ids["claim"]})],
           "claims", "credit_days"),
    Tamper("edit an evidence row",
           lambda ids: [("UPDATE evidence_chain SET canonical = "
                         "replace(canonical, 'refused', 'accepted') WHERE seq = "
                         "(SELECT min(seq) FROM evidence_chain WHERE kind = 'probe.failure')",
                         {})],
           None, "hash does not match"),
    Tamper("delete an evidence row",
           lambda ids: [("DELETE FROM evidence_chain WHERE seq = 5", {})],
           None, "entry 5 is missing"),
    Tamper("insert an evidence row",
           lambda ids: [("INSERT INTO evidence_chain (seq, kind, fact_table, fact_id, "
                         "recorded_at, canonical, prev_hash, hash) SELECT max(seq) + 1, "
                         "'claim.decide', 'claims', '1', max(recorded_at), '{}', "
                         "max(hash), max(hash) FROM evidence_chain", {})],
           None, "prev_hash"),
    Tamper("swap two evidence rows",
           lambda ids: [("UPDATE evidence_chain SET seq = -1 WHERE seq = 6", {}),
                        ("UPDATE evidence_chain SET seq = 6 WHERE seq = 7", {}),
                        ("UPDATE evidence_chain SET seq = 7 WHERE seq = -1", {})],
           None, "prev_hash"),
]


async def _tamper(engine: AsyncEngine, statements: list[tuple[str, dict[str, Any]]]) -> None:
    async with engine.begin() as connection:
        for sql, values in statements:
            await connection.execute(text(sql), values)


@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.name for t in TAMPERS])
async def test_tampering_is_detected_and_named(db: Database, engine: AsyncEngine,
                                               tamper: Tamper) -> None:
    ids = await write_history(db)
    assert (await check_chain(db)).ok
    await _tamper(engine, tamper.statements(ids))
    result = await check_chain(db)
    broken = result.broken
    assert broken is not None
    assert tamper.problem in broken.problem, broken
    assert broken.table == tamper.table or tamper.table is None
    if tamper.chained:
        assert broken.seq is not None
        if tamper.table is not None:
            assert broken.kind is not None and broken.fact_id is not None
    else:
        assert broken.seq is None and broken.fact_id is not None


async def test_the_break_named_is_the_fact_s_latest_entry(db: Database,
                                                         engine: AsyncEngine) -> None:
    ids = await write_history(db)
    await _tamper(engine, [('UPDATE incidents SET "end" = start WHERE id = :i',
                            {"i": ids["incident"]})])
    broken = (await check_chain(db)).broken
    assert broken is not None
    chain = await _entries(db)
    closing = [e for e in chain if e.kind == "incident.close"]
    assert (broken.seq, broken.kind, broken.fact_id) == (
        closing[-1].seq, "incident.close", str(ids["incident"]))
    assert "end: chained" in broken.problem


@pytest.mark.slow
async def test_the_tail_check_sees_new_links_and_a_changed_old_one(
        db: Database, engine: AsyncEngine) -> None:
    await write_history(db)
    first = await check_tail(db, 0, None)
    assert first.ok and first.head_seq > 0
    async with db.transaction() as tx:
        await incidents.add_update(tx, 1, status="monitoring", message="more", actor="ops",
                                   at=T0)
    later = await check_tail(db, first.head_seq, first.head_hash)
    assert later.ok and later.entries == 1
    await _tamper(engine, [("UPDATE evidence_chain SET hash = :h WHERE seq = :s",
                            {"h": "0" * 64, "s": first.head_seq})])
    broken = (await check_tail(db, first.head_seq, first.head_hash)).broken
    assert broken is not None and broken.seq == first.head_seq


async def test_retention_pruning_is_not_a_break(db: Database) -> None:
    from monitor.store import retention

    await write_history(db)
    async with db.transaction() as tx:
        pruned = await retention.prune_failures(tx, T0 + 10 * MIN, 100)
    assert pruned == 2
    result = await check_chain(db)
    assert result.ok, result.broken


async def test_a_run_that_begins_and_ends_within_one_flush_is_chained(db: Database) -> None:
    """A flap inside one flush: the run it closed and the short run are both new in it."""
    from monitor.store import history

    def run(state: str, minute: int) -> dict[str, Any]:
        return {"target_id": "web", "state": state, "first_at": T0 + minute * MIN,
                "last_at": T0 + minute * MIN, "count": 1, "latency_min_ms": None,
                "latency_max_ms": None, "latency_sum_ms": 0.0}

    async with db.transaction() as tx:
        first = await history.insert_runs(tx, [run("up", 0)])
    async with db.transaction() as tx:
        short = await history.insert_runs(tx, [run("down", 1)])
        last = await history.insert_runs(tx, [run("up", 2)])
        await history.chain_closed_runs(tx, [short["web"], last["web"]])
    chained = {(e.fact_table, e.fact_id) for e in await _entries(db)}
    assert {("probe_runs", str(first["web"])), ("probe_runs", str(short["web"]))} <= chained
    assert ("probe_runs", str(last["web"])) not in chained  # still growing
    assert (await check_chain(db)).ok


async def test_a_table_chained_since_a_later_version_is_covered_from_its_first_entry(
        db: Database, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain begun by a version that did not chain the monitor's runs: the runs recorded
    before (not in the genesis entry) are not breaks; from the first chained run on, a run
    the chain never recorded is."""
    old_run = ("INSERT INTO daemon_sessions (started_at, last_beat_at, hostname, pid, "
               "version) VALUES (:a, :a, 'mon1', 1, '0.9')")
    with monkeypatch.context() as earlier:
        earlier.delitem(evidence.CHAINED, "daemon_sessions")
        async with db.transaction() as tx:
            await incidents.add_manual(tx, service_id="web", start=T0, end=T0 + MIN,
                                       cause="provider", note=None, created_at=T0)
        await _tamper(engine, [(old_run, {"a": T0.replace(tzinfo=None)})])  # that version's run
    async with db.transaction() as tx:
        await unknown.add_session(tx, started_at=T0 + MIN, hostname="mon1", pid=2,
                                  version="1.0")
    assert (await check_chain(db)).ok
    await _tamper(engine, [(old_run, {"a": (T0 + 2 * MIN).replace(tzinfo=None)})])
    broken = (await check_chain(db)).broken
    assert broken is not None and broken.table == "daemon_sessions"
    assert "never recorded" in broken.problem


@pytest.mark.parametrize("change", ["edit", "delete"])
async def test_a_frozen_revision_is_chained_once_and_its_row_still_answers_for_it(
        db: Database, engine: AsyncEngine, change: str) -> None:
    """A frozen revision's entry keeps the digest of its canonical text, not the text again
    (93 MB a second time at 10,000 customers): the text is its row's. Its row edited (a
    figure of the stored report) or deleted is a break at that entry all the same."""
    ids = await write_history(db)
    assert (await check_chain(db)).ok
    async with db.reading() as tx:
        [entry] = [e async for e in evidence.entries(tx) if e.fact_table == "report_revisions"]
        body = await evidence.kept_text(tx, entry)
    assert body is not None and '"availability":"99.93"' in body
    assert entry.canonical == KEPT_IN_ROW + content_digest(body)  # 71 characters, not a copy
    assert entry.hash == entry_hash(entry.prev_hash, body)
    edited = "'{\"availability\":\"99.99\",\"customers\":[]}'"
    if engine.dialect.name == "postgresql":
        edited = f"CAST({edited} AS JSON)"
    await _tamper(engine, [(f"UPDATE report_revisions SET report = {edited} WHERE id = :r"
                            if change == "edit" else
                            "DELETE FROM report_revisions WHERE id = :r",
                            {"r": int(entry.fact_id or 0)})])
    broken = (await check_chain(db)).broken
    assert broken is not None and (broken.seq, broken.table) == (entry.seq, "report_revisions")
    assert ("differs from what was chained" if change == "edit" else "deleted") in broken.problem
    assert ids  # the rest of the history as written


async def test_another_fact_s_entry_written_as_kept_in_its_row_is_a_break(
        db: Database, engine: AsyncEngine) -> None:
    """Only a frozen revision's entry may keep its digest alone: a claim's entry rewritten so
    (with the right digest) no longer hashes, and is named."""
    await write_history(db)
    async with db.reading() as tx:
        [entry] = [e async for e in evidence.entries(tx) if e.kind == "claim.decide"][:1]
    await _tamper(engine, [("UPDATE evidence_chain SET canonical = :c WHERE seq = :s",
                            {"c": KEPT_IN_ROW + content_digest(entry.canonical),
                             "s": entry.seq})])
    broken = (await check_chain(db)).broken
    assert broken is not None and broken.seq == entry.seq
    assert "hash does not match" in broken.problem
