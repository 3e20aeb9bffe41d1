"""The evidence chain, checked (``sla-monitor evidence check``, the daemon's periodic check):
:mod:`monitor.store.evidence` holds the chain and the walk; this is the edge both call."""

from __future__ import annotations

import datetime as dt

from monitor.actions.evidence_keys import SigningKey, verify_signature
from monitor.logs import Progress
from monitor.store import Database, Tx, evidence
from monitor.store.evidence import Break, Checkpoint, CheckResult

__all__ = ["CheckResult", "check_chain", "check_tail", "last_checkpoint", "published_keys",
           "sign_head", "sign_head_in"]


async def sign_head_in(tx: Tx, key: SigningKey, at: dt.datetime, reason: str,
                       revision_id: int | None = None) -> Checkpoint | None:
    """Sign the chain's head as it stands in ``tx`` (a write transaction: the head cannot
    move under it); None for an empty chain."""
    found = await evidence.head(tx)
    if found is None:
        return None
    seq, chain_hash = found
    signature = key.sign(seq, chain_hash)
    checkpoint_id = await evidence.record_checkpoint(
        tx, seq=seq, hash=chain_hash, key_id=key.id, public_key=key.public_b64,
        signature=signature, signed_at=at, reason=reason, revision_id=revision_id)
    return Checkpoint(checkpoint_id, seq, chain_hash, key.id, signature, at, reason, revision_id)


async def sign_head(db: Database, key: SigningKey, at: dt.datetime,
                    reason: str = "periodic") -> Checkpoint | None:
    """A periodic checkpoint: the head signed, unless the last checkpoint already signed it."""
    async with db.transaction() as tx:
        found = await evidence.head(tx)
        if found is None:
            return None
        done = await evidence.checkpoints(tx, up_to=found[0])
        if done and done[-1].seq == found[0] and done[-1].key_id == key.id:
            return None
        return await sign_head_in(tx, key, at, reason)


async def published_keys(db: Database, current: SigningKey | None) -> dict[str, object]:
    """The document of ``/.well-known/sla-monitor-keys.json``: every key that signed a
    checkpoint (kept after rotation) and the current one."""
    async with db.reading() as tx:
        stored = await evidence.keys(tx)
    listed: dict[str, dict[str, object]] = {
        key_id: {"key_id": key_id, "algorithm": "Ed25519", "public_key": public,
                 "first_signed_at": at.isoformat().replace("+00:00", "Z")}
        for key_id, public, at in stored}
    if current is not None and current.id not in listed:
        listed[current.id] = {"key_id": current.id, "algorithm": "Ed25519",
                              "public_key": current.public_b64, "first_signed_at": None}
    return {
        "current": None if current is None else current.id,
        "keys": list(listed.values()),
        "signed": "sla-monitor evidence checkpoint v1\\n<seq>\\n<hash>\\n (UTF-8)",
    }


async def check_checkpoints(db: Database) -> Break | None:
    """Every signed checkpoint against the chain: its hash at its seq, and its signature by
    the key recorded for its key id. The first that fails, or None."""
    async with db.reading() as tx:
        stored = {key_id: public for key_id, public, _ in await evidence.keys(tx)}
        for checkpoint in await evidence.checkpoints(tx):
            public = stored.get(checkpoint.key_id)
            if public is None or not verify_signature(public, checkpoint.signature,
                                                      checkpoint.seq, checkpoint.hash):
                return Break(checkpoint.seq, "checkpoint", None, None,
                             f"checkpoint {checkpoint.id}: the signature by key "
                             f"{checkpoint.key_id} does not verify")
            now = await evidence.hash_at(tx, checkpoint.seq)
            if now != checkpoint.hash:
                return Break(checkpoint.seq, "checkpoint", None, None,
                             f"checkpoint {checkpoint.id} signed hash {checkpoint.hash[:16]}... "
                             f"at entry {checkpoint.seq}, the chain now has "
                             f"{(now or 'no entry')[:16]}...: the chain was rewritten")
    return None


async def check_chain(db: Database, progress: Progress | None = None) -> CheckResult:
    """Walk the whole chain: every hash recomputed, every chained fact compared with its row
    now, rows the chain never recorded named. In one read transaction (a snapshot).
    ``progress`` is told the entries walked, then each step."""
    async with db.reading() as tx:
        result = await evidence.check(tx, progress=progress)
    signed = await check_checkpoints(db)
    if signed is not None:
        result.problems = sorted([*result.problems, signed],
                                 key=lambda b: (b.seq is None, b.seq or 0))
        result.broken = result.problems[0]
    return result


async def last_checkpoint(db: Database) -> tuple[int, str] | None:
    """(seq, hash) of the newest signed checkpoint: where the daemon's first check after a
    start begins (what lies before it is the signature's, ``evidence check``)."""
    async with db.reading() as tx:
        found = await evidence.checkpoints(tx)
    return None if not found else (found[-1].seq, found[-1].hash)


async def check_tail(db: Database, after: int, previous_hash: str | None) -> CheckResult:
    """The entries after seq ``after`` (whose hash was ``previous_hash``, as the last check
    saw it): hashes and links only, cheap enough to run every few minutes. A changed hash
    at ``after`` itself is a broken link too."""
    async with db.reading() as tx:
        if after > 0 and previous_hash is not None:
            now = await evidence.hash_at(tx, after)
            if now != previous_hash:
                result = CheckResult()
                result.broken = Break(after, None, None, None,
                                      "the entry checked before was changed or deleted")
                result.problems = [result.broken]
                return result
        return await evidence.check(tx, after=after, previous_hash=previous_hash, rows=False)
