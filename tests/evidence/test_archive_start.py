"""An archive begins at the newest signed checkpoint before the month's first fact, not at
the chain's first entry: what came before is not the customer's month. ``evidence verify``
still checks every link from there, and the start's signature: an archive whose start is
not a signed checkpoint, or whose start's signature is another's, fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.actions.evidence import sign_head
from monitor.actions.evidence_keys import SigningKey
from monitor.cli import main
from monitor.store import Database
from tests.actions.contract import yaml


def _edited(data: bytes, manifest: dict[str, object]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = json.dumps(manifest).encode() if name == "manifest.json" else source.read(name)
            target.writestr(name, body)
    return out.getvalue()


async def test_the_archive_begins_at_the_signed_checkpoint_before_the_month(
        tmp_path: Path, db_url: str, db: Database,
        capsys: pytest.CaptureFixture[str]) -> None:
    private = Ed25519PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key = SigningKey(private)
    config = tmp_path / "config.yaml"
    config.write_text(yaml() + f"storage: {{url: '{db_url}'}}\nmaildir: {tmp_path / 'Maildir'}\n"
                      f"evidence: {{signing_key: '{tmp_path / 'key.pem'}'}}\n")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key_id": key.id, "public_key": key.public_b64}]}))

    async def run(*args: str) -> tuple[int, str]:
        code = await asyncio.to_thread(main, ["-c", str(config), *args])
        return code, capsys.readouterr().out

    # September's facts, then a periodic checkpoint, then October's.
    assert (await run("incident", "add", "--service", "mobile-api", "--start",
                      "2026-09-05T08:00Z", "--end", "2026-09-05T09:00Z"))[0] == 0
    signed = await sign_head(db, key, dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert signed is not None and signed.seq > 1
    for args in (("incident", "add", "--service", "acme-survey", "--start",
                  "2026-10-10T08:00Z", "--end", "2026-10-10T09:00Z"),
                 ("report", "close", "--month", "2026-10"),
                 ("evidence", "export", "--customer", "acme", "--month", "2026-10",
                  "-o", str(tmp_path / "acme.zip"))):
        code, out = await run(*args)
        assert code == 0, (args, out)
    data = (tmp_path / "acme.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        lines = [json.loads(line) for line in archive.read("chain.jsonl").splitlines()]
    assert manifest["chain"]["after"] == signed.seq
    assert manifest["chain"]["after_hash"] == signed.hash
    assert manifest["start"]["seq"] == signed.seq and manifest["start"]["key_id"] == key.id
    assert lines[0]["seq"] == signed.seq + 1 and lines[0]["prev_hash"] == signed.hash
    assert all(line.get("kind") != "genesis" for line in lines)

    async def verify(body: bytes) -> tuple[int, str]:
        (tmp_path / "check.zip").write_bytes(body)
        code = await asyncio.to_thread(main, ["evidence", "verify", str(tmp_path / "check.zip"),
                                              "--key", str(keys)])
        return code, capsys.readouterr().out

    code, out = await verify(data)
    assert code == 0, out
    assert f"start: entry {signed.seq} is a signed checkpoint" in out
    assert "verified: acme, 2026-10" in out

    # The start's signature must be the start's: the head's signature there fails.
    forged = {**manifest, "start": {**manifest["start"],
                                    "signature": manifest["checkpoint"]["signature"]}}
    code, out = await verify(_edited(data, forged))
    assert code == 1 and "the signature of the chain's start" in out
    # A start that is no checkpoint of the archive fails, whatever the links.
    code, out = await verify(_edited(data, {**manifest, "start": None}))
    assert code == 1 and f"begins after entry {signed.seq}, which is not a signed" in out
