"""The evidence chain, checked (``sla-monitor evidence check``, the daemon's periodic check):
:mod:`monitor.store.evidence` holds the chain and the walk; this is the edge both call."""

from __future__ import annotations

from monitor.store import Database, evidence
from monitor.store.evidence import Break, CheckResult

__all__ = ["CheckResult", "check_chain", "check_tail"]


async def check_chain(db: Database) -> CheckResult:
    """Walk the whole chain: every hash recomputed, every chained fact compared with its row
    now, rows the chain never recorded named. In one read transaction (a snapshot)."""
    async with db.reading() as tx:
        return await evidence.check(tx)


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
