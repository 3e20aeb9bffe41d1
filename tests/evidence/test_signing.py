"""Signed checkpoints of the evidence chain (Ed25519): what a rewrite of the whole chain
cannot forge, keys with ids that rotate and stay published, and the daemon's watch
(``sla_monitor_evidence_chain_ok``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.actions.evidence import check_chain, published_keys, sign_head
from monitor.actions.evidence_keys import SigningKey, key_id, load_signing_key, verify_signature
from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.config.schema import Config
from monitor.daemon.evidence import EvidenceWatch
from monitor.daemon.metrics import DaemonMetrics
from monitor.errors import ConfigError
from monitor.store import Database, evidence
from monitor.store.evidence import entry_hash, link_hash
from tests.evidence.history import T0, write_history


def _key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


async def _rewrite_consistently(engine: AsyncEngine, incident_id: int) -> None:
    """What an attacker with the database and the algorithm (not the key) can do: edit a
    fact, its latest entry, and every hash after it, so that the chain is whole again."""
    async with engine.begin() as connection:
        await connection.execute(text('UPDATE incidents SET "end" = start WHERE id = :i'),
                                 {"i": incident_id})
        rows = (await connection.execute(text(
            "SELECT seq, kind, fact_table, fact_id, canonical, prev_hash FROM evidence_chain "
            "ORDER BY seq"))).all()
        closing = max(r.seq for r in rows if r.kind == "incident.close")
        previous = None
        for row in rows:
            if row.seq < closing:
                continue
            body = row.canonical
            if row.seq == closing:
                entry = json.loads(body)
                entry["fact"]["end"] = entry["fact"]["start"]
                body = evidence.canonical(entry)
            prev = row.prev_hash if previous is None else previous
            # A frozen revision's entry links the digest it keeps (its text is its row's).
            previous = (link_hash(prev, body.removeprefix(evidence.KEPT_IN_ROW))
                        if body.startswith(evidence.KEPT_IN_ROW) else entry_hash(prev, body))
            await connection.execute(text(
                "UPDATE evidence_chain SET canonical = :c, prev_hash = :p, hash = :h "
                "WHERE seq = :s"), {"c": body, "p": prev, "h": previous, "s": row.seq})


@pytest.mark.slow
async def test_a_consistent_rewrite_passes_the_links_but_not_the_signature(
        db: Database, engine: AsyncEngine) -> None:
    ids = await write_history(db)
    key = _key()
    checkpoint = await sign_head(db, key, T0)
    assert checkpoint is not None
    assert verify_signature(key.public_b64, checkpoint.signature, checkpoint.seq,
                            checkpoint.hash)
    assert (await check_chain(db)).ok
    await _rewrite_consistently(engine, ids["incident"])
    async with db.reading() as tx:
        links_only = await evidence.check(tx)
    assert links_only.ok  # hashes and rows agree: only the signature knows
    broken = (await check_chain(db)).broken
    assert broken is not None and broken.kind == "checkpoint"
    assert "rewritten" in broken.problem and broken.seq == checkpoint.seq


async def test_keys_rotate_and_every_signer_stays_published(db: Database) -> None:
    await write_history(db)
    old, new = _key(), _key()
    first = await sign_head(db, old, T0)
    assert await sign_head(db, old, T0) is None  # the head did not move: nothing to sign
    async with db.transaction() as tx:
        await evidence.append(tx, "claim.review", "claims", [1])
    second = await sign_head(db, new, T0 + dt.timedelta(hours=1))
    assert first is not None and second is not None
    assert first.key_id == old.id != second.key_id == new.id
    assert old.id == key_id(old.public_raw) and len(old.id) == 16
    document = await published_keys(db, new)
    assert document["current"] == new.id
    listed = {k["key_id"]: k["public_key"] for k in document["keys"]}  # type: ignore[attr-defined]
    assert listed == {old.id: old.public_b64, new.id: new.public_b64}
    assert (await check_chain(db)).ok


def _settings(tmp_path: Path, key_text: str | None) -> Settings:
    if key_text is None:
        return Settings.from_config(Config(), None)
    path = tmp_path / "evidence-key.pem"
    path.write_text(key_text, encoding="utf-8")
    return Settings.from_config(Config.model_validate({"evidence": {"signing_key": str(path)}}),
                                None)


def test_the_signing_key_is_read_from_its_file(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    loaded = load_signing_key(_settings(tmp_path, pem))
    assert loaded is not None and loaded.public_raw == SigningKey(private).public_raw
    assert load_signing_key(_settings(tmp_path, None)) is None


def test_a_file_without_an_ed25519_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_signing_key(_settings(tmp_path, "not a key\n"))
    text = str(caught.value)
    assert "evidence.signing_key" in text and "Ed25519" in text and "openssl genpkey" in text


async def test_the_daemon_watch_says_0_once_a_link_breaks(db: Database,
                                                         engine: AsyncEngine) -> None:
    await write_history(db)
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    key = _key()
    watch = EvidenceWatch(db, FakeClock(T0), metrics.evidence_chain_ok, key)

    def gauge() -> float | None:
        return registry.get_sample_value("sla_monitor_evidence_chain_ok")

    assert await watch.check() and gauge() == 1
    await watch.sign()
    async with db.reading() as tx:
        assert len(await evidence.checkpoints(tx)) == 1
    async with db.transaction() as tx:  # a new link since the last check, then edited
        await evidence.append(tx, "claim.review", "claims", [1])
    async with engine.begin() as connection:
        await connection.execute(text(
            "UPDATE evidence_chain SET canonical = canonical || ' ' "
            "WHERE seq = (SELECT max(seq) FROM evidence_chain)"))
    assert not await watch.check()
    assert gauge() == 0
    assert not await watch.check() and gauge() == 0  # stays 0: an operator has to look


async def test_after_a_start_the_watch_begins_at_the_last_checkpoint(
        db: Database, engine: AsyncEngine) -> None:
    """An entry edited before the checkpoint is the full check's (the signature's); one
    edited after it, or the checkpoint's own, is the daemon's at once."""
    await write_history(db)
    key = _key()
    checkpoint = await sign_head(db, key, T0)
    assert checkpoint is not None
    async with db.transaction() as tx:
        await evidence.append(tx, "claim.review", "claims", [1])
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    fresh = EvidenceWatch(db, FakeClock(T0), metrics.evidence_chain_ok, None)
    assert await fresh.check()
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE evidence_chain SET hash = :h WHERE seq = :s"),
                                 {"h": "0" * 64, "s": checkpoint.seq})
    restarted = EvidenceWatch(db, FakeClock(T0), metrics.evidence_chain_ok, None)
    assert not await restarted.check()
    assert registry.get_sample_value("sla_monitor_evidence_chain_ok") == 0
