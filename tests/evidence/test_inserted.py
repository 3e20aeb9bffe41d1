"""Probe failures are chained from the values inserted (``INSERT ... RETURNING`` ids), not
read back: their canonical form must be exactly the one of the row as read later (what
``evidence check`` compares it with), for floats given as ints, times in another zone with
microseconds, NULLs and JSON with floats, on SQLite and PostgreSQL; and
the check stays as strict (an edit of a failure chained this way is named)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.actions.evidence import check_chain
from monitor.store import Database, evidence, history

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
ROWS = [
    {"target_id": "t1", "at": dt.datetime(2026, 11, 2, 10, 0, 1, 123456, tzinfo=TEHRAN),
     "state": "down", "failure_class": "timeout", "detail": "no answer in 10 s",
     "http_status": None, "latency_ms": 5, "timings": None},
    {"target_id": "t2", "at": dt.datetime(2026, 11, 2, 6, 30, 1, 7, tzinfo=dt.UTC),
     "state": "unknown", "failure_class": "http_status", "detail": "HTTP 503 «سرور»",
     "http_status": 503, "latency_ms": 0.1 + 0.2,
     "timings": {"connect_ms": 1.0, "first_byte_ms": 80.25, "tls": {"ms": 3}}},
    {"target_id": "t1", "at": dt.datetime(2026, 11, 2, 6, 30, 2, tzinfo=dt.UTC),
     "state": "down", "failure_class": "refused", "detail": "", "http_status": None,
     "latency_ms": None, "timings": None},
]


async def test_failures_chained_from_the_inserted_values_match_their_rows_read_back(
        db: Database, engine: AsyncEngine) -> None:
    async with db.transaction() as tx:
        await history.add_failures(tx, ROWS)
    async with db.reading() as tx:
        chained = [e async for e in evidence.entries(tx) if e.kind == "probe.failure"]
        ids = [int(e.fact_id or 0) for e in chained]
        read_back = await evidence.current_facts(tx, "probe_failures", ids)
    assert len(chained) == len(ROWS)
    for entry in chained:
        fact = json.loads(entry.canonical)["fact"]
        assert fact == read_back[int(entry.fact_id or 0)]
        # The same text, byte for byte, as chaining the row read back would give.
        assert entry.canonical == json.dumps(
            {"kind": "probe.failure", "table": "probe_failures", "id": entry.fact_id,
             "fact": read_back[int(entry.fact_id or 0)]},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    facts = [json.loads(e.canonical)["fact"] for e in chained]
    assert facts[0]["latency_ms"] == 5.0 and isinstance(facts[0]["latency_ms"], float)
    assert facts[0]["at"] == "2026-11-02T06:30:01.123456+00:00"
    assert facts[1]["timings"] == {"connect_ms": 1.0, "first_byte_ms": 80.25, "tls": {"ms": 3}}
    assert facts[2]["timings"] is None and facts[2]["http_status"] is None

    found = await check_chain(db)
    assert found.ok, found.broken

    # As strict as ever: a float edited in the last decimal is named.
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE probe_failures SET latency_ms = latency_ms + 0.000001 WHERE id = :i"),
            {"i": ids[1]})
    found = await check_chain(db)
    assert not found.ok and found.broken is not None
    assert found.broken.table == "probe_failures" and found.broken.fact_id == str(ids[1])
    assert "latency_ms" in found.broken.problem
