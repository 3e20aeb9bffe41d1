"""``/.well-known/sla-monitor-keys.json``: every key that signed the chain (an old one kept
after rotation) and the current one, served by the daemon's real application."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.actions.evidence import sign_head
from monitor.actions.evidence_keys import SigningKey
from monitor.store import Database
from tests.evidence.history import T0, write_history
from tests.http.site import serve


async def test_the_published_keys_keep_the_old_one(db: Database, tmp_path: Path) -> None:
    await write_history(db)
    old, new = SigningKey(Ed25519PrivateKey.generate()), SigningKey(Ed25519PrivateKey.generate())
    assert await sign_head(db, old, T0) is not None
    async with serve(db, tmp_path) as site:
        site.web.evidence_key = new
        response = await site.get("/.well-known/sla-monitor-keys.json")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        document = await response.json()
    assert document["current"] == new.id
    assert [(k["key_id"], k["public_key"], k["algorithm"]) for k in document["keys"]] == [
        (old.id, old.public_b64, "Ed25519"), (new.id, new.public_b64, "Ed25519")]
    assert document["keys"][0]["first_signed_at"] == "2026-03-02T10:00:00Z"
    assert document["keys"][1]["first_signed_at"] is None  # has not signed yet
