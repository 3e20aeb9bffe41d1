"""The daemon's watch over the evidence chain: the chain's new entries checked every
``evidence.check_interval`` (``sla_monitor_evidence_chain_ok``: 1 intact, 0 a broken link,
with the alert ``SlaMonitorEvidenceChainBroken``), and its head signed every
``evidence.sign_interval`` when a key is configured (``evidence.signing_key``).

The first check after a start walks the chain's links (hashes only) from the newest signed
checkpoint (from the beginning without one), checking that the checkpoint's entry still has
the signed hash; each later one walks only what was appended since, and checks that the
entry it ended on is unchanged. A fact edited in place, or anything before the checkpoint,
is found by ``sla-monitor evidence check`` (a full walk with the rows and the signatures).
"""

from __future__ import annotations

import logging

from prometheus_client import Gauge

from monitor.actions.evidence import check_tail, last_checkpoint, sign_head
from monitor.actions.evidence_keys import SigningKey
from monitor.clock import Clock
from monitor.store import Database

__all__ = ["EvidenceWatch"]

log = logging.getLogger(__name__)


class EvidenceWatch:
    def __init__(self, db: Database, clock: Clock, chain_ok: Gauge,
                 key: SigningKey | None) -> None:
        self.db = db
        self.clock = clock
        self.key = key
        self._seq = 0
        self._hash: str | None = None
        self._broken = False
        self._started = False
        self.chain_ok = chain_ok  # sla_monitor_evidence_chain_ok (DaemonMetrics)

    async def check(self) -> bool:
        """Check the entries appended since the last check; the gauge says the result. Once
        broken, it stays 0 until a restart (an operator has to look)."""
        if self._broken:
            return False
        try:
            if not self._started:
                start = await last_checkpoint(self.db)
                if start is not None:
                    self._seq, self._hash = start
                self._started = True
            found = await check_tail(self.db, self._seq, self._hash)
        except Exception as exc:
            if not self.db.outage(exc):
                log.exception("evidence chain check failed; tried again at the next one")
            return not self._broken
        if found.broken is not None:
            self._broken = True
            self.chain_ok.set(0)
            broken = found.broken
            log.error(
                f"evidence chain broken at entry {broken.seq}: {broken.problem}; run "
                "'sla-monitor evidence check' for the first broken link",
                extra={"seq": broken.seq, "kind": broken.kind, "table": broken.table,
                       "fact_id": broken.fact_id})
            return False
        if found.entries:
            self._seq, self._hash = found.head_seq, found.head_hash
        self.chain_ok.set(1)
        return True

    async def sign(self) -> None:
        """Sign the chain's head (when it moved since the last checkpoint)."""
        if self.key is None:
            return
        try:
            checkpoint = await sign_head(self.db, self.key, self.clock.now())
        except Exception as exc:
            if not self.db.outage(exc):
                log.exception("evidence checkpoint failed; tried again at the next one")
            return
        if checkpoint is not None:
            log.info("evidence checkpoint signed",
                     extra={"seq": checkpoint.seq, "key_id": checkpoint.key_id})
