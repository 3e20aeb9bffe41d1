"""``sla-monitor evidence check``: exit 0 and the head when intact; exit 1 naming the first
broken link (seq, kind, table, id, what differs), in text and ``--format json``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli import main
from monitor.store import Database
from tests.evidence.history import write_history


async def _run(config: Path, capsys: pytest.CaptureFixture[str],
               *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["-c", str(config), "evidence", "check", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
async def test_check_says_intact_then_names_the_broken_link(
        tmp_path: Path, db_url: str, db: Database, engine: AsyncEngine,
        capsys: pytest.CaptureFixture[str]) -> None:
    ids = await write_history(db)
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{url: '{db_url}'}}\n")
    code, out, err = await _run(config, capsys)
    assert code == 0, err
    assert out.startswith("evidence chain intact: ") and "chained facts match" in out
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE claims SET decision = 'rejected' WHERE id = :c"),
                                 {"c": ids["claim"]})
    code, out, err = await _run(config, capsys)
    assert code == 1 and err == ""
    assert "BROKEN at entry" in out and f"claim.decide, claims {ids['claim']}" in out
    assert "decision: chained 'approved', now 'rejected'" in out
    code, out, _ = await _run(config, capsys, "--format", "json")
    found = json.loads(out)
    assert code == 1 and found["ok"] is False
    assert found["broken"]["table"] == "claims" and found["broken"]["id"] == str(ids["claim"])
    assert found["broken"]["kind"] == "claim.decide" and found["broken"]["seq"] > 1
