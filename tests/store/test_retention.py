"""R-M7 retention: evidence kept 13 months, hourly roll-ups merged into daily ones after N
days, older rows pruned in small batches; ``db stats`` shows rows, bytes and growth per
target-day. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.config.schema import RetentionSettings
from monitor.daemon import retention as retention_module
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.retention import Retention
from monitor.errors import ConfigError
from monitor.store import Database, history
from monitor.store.models import LatencyRollup, LatencyRollupDaily, ProbeFailure, ProbeRun
from tests.support import rows

NOW = dt.datetime(2027, 3, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def failure(target: str, at: dt.datetime) -> dict[str, object]:
    return {"target_id": target, "at": at, "state": "down", "failure_class": "http_status",
            "detail": "HTTP 503", "http_status": 503, "latency_ms": 5.0, "timings": None}


def run(target: str, first: dt.datetime, last: dt.datetime, state: str = "up") -> dict[str, object]:
    return {"target_id": target, "state": state, "first_at": first, "last_at": last, "count": 10,
            "latency_min_ms": 1.0, "latency_max_ms": 9.0, "latency_sum_ms": 50.0}


def hour(target: str, at: dt.datetime, count: int, low: float, high: float,
         buckets: dict[str, int]) -> dict[str, object]:
    return {"target_id": target, "hour": at, "count": count, "failures": 1, "sum_ms": 10.0 * count,
            "min_ms": low, "max_ms": high, "buckets": buckets}


async def test_old_history_goes_in_batches_and_hours_become_days(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(engine)
    evidence = NOW - dt.timedelta(days=400)  # the default: failures and runs kept 400 days
    old_day = (NOW - dt.timedelta(days=40)).replace(hour=0)  # hourly kept 35 days
    async with db.transaction() as tx:
        # 5 failures past the 400 days and 2 within them (one a second inside the boundary).
        await history.add_failures(
            tx,
            [failure("shop", evidence - dt.timedelta(days=d)) for d in range(1, 6)]
            + [failure("shop", evidence + dt.timedelta(seconds=1)), failure("shop", NOW)],
        )
        # A run that ended 2 years ago goes; one up for 2 years until now stays.
        await history.insert_runs(tx, [run("gone", NOW - 800 * DAY, NOW - 730 * DAY)])
        await history.insert_runs(tx, [run("shop", NOW - 730 * DAY, NOW)])
        # Two hours of an old day for two targets, one recent hour that stays hourly.
        await history.upsert_rollups(tx, [
            hour("shop", old_day + dt.timedelta(hours=3), 120, 4.0, 80.0, {"10": 100, "100": 20}),
            hour("shop", old_day + dt.timedelta(hours=4), 120, 2.0, 900.0, {"10": 110, "1000": 10}),
            hour("api", old_day + dt.timedelta(hours=4), 60, 7.0, 30.0, {"10": 50, "50": 10}),
            hour("shop", NOW - dt.timedelta(hours=2), 120, 3.0, 40.0, {"10": 120}),
        ])
    # A daily row of a day past 400 days goes.
    async with db.transaction() as tx:
        connection = await tx.connection()
        await connection.execute(LatencyRollupDaily.__table__.insert(), [
            {"target_id": "shop", "day": (NOW - 401 * DAY).replace(hour=0), "count": 1,
             "failures": 0, "sum_ms": 1.0, "min_ms": 1.0, "max_ms": 1.0, "buckets": {"10": 1}},
        ])

    monkeypatch.setattr(retention_module, "BATCH", 2)  # small batches: 3 of them for 5 rows
    metrics = DaemonMetrics(CollectorRegistry())
    retention = Retention(db, metrics, FakeClock(NOW), RetentionSettings())
    removed = await retention.run()

    assert removed == {"probe_failures": 5, "probe_runs": 1, "latency_rollups": 3,
                       "latency_rollups_daily": 1}
    kept = await rows(engine, ProbeFailure)
    assert sorted(f.at for f in kept) == [evidence + dt.timedelta(seconds=1), NOW]
    assert [r.target_id for r in await rows(engine, ProbeRun)] == ["shop"]
    assert [(h.target_id, h.hour) for h in await rows(engine, LatencyRollup)] == [
        ("shop", NOW - dt.timedelta(hours=2))
    ]
    days = {d.target_id: d for d in await rows(engine, LatencyRollupDaily)}
    assert set(days) == {"shop", "api"}
    shop = days["shop"]
    # The day of shop: 120 + 120 results, 1 + 1 failures, 1200 + 1200 ms, min 2, max 900, and
    # the buckets added: "10": 100 + 110, "100": 20, "1000": 10.
    assert shop.day == old_day and (shop.count, shop.failures, shop.sum_ms) == (240, 2, 2400.0)
    assert (shop.min_ms, shop.max_ms) == (2.0, 900.0)
    assert shop.buckets == {"10": 210, "100": 20, "1000": 10}
    assert (days["api"].count, days["api"].buckets) == (60, {"10": 50, "50": 10})
    assert metrics.pruned_rows.labels("probe_failures")._value.get() == 5

    # Nothing left to do: a second run removes nothing.
    assert set((await retention.run()).values()) == {0}


def test_evidence_is_kept_at_least_thirteen_months() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("storage: {retention: {evidence: 365d, daily_rollups: 2d, hourly_rollups: 7d}}")
    text = str(error.value)
    assert (
        "storage.retention.evidence: '365d' is not valid: expected at least 397 d "
        "(13 months, the longest 13 consecutive months; R-M7)" in text
    )
    assert "storage.retention.daily_rollups: 2 d must be at least hourly_rollups (7 d)" in text


@pytest.mark.slow
async def test_db_stats_shows_rows_bytes_and_growth_per_target_day(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f'storage: {{url: "{db_url}"}}\n'
        "services:\n"
        + "".join(
            f"  - {{id: t{i}, kind: mobile_api, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}\n"
            for i in range(4)
        )
    )
    # Upgrade the schema, then record what 4 stable targets write in a day: a run each,
    # 24 hourly roll-ups each, and 2 failures in all.
    # The command runs its own event loop: in a thread, as from a shell.
    assert await asyncio.to_thread(main, ["-c", str(config), "db", "upgrade"]) == 0
    now = dt.datetime.now(dt.UTC)
    db = Database.open(db_url)
    try:
        async with db.transaction() as tx:
            await history.insert_runs(
                tx, [run(f"t{i}", now - dt.timedelta(hours=1), now) for i in range(4)]
            )
            await history.upsert_rollups(tx, [
                hour(f"t{i}", (now - dt.timedelta(hours=h)).replace(minute=0, second=0,
                                                                    microsecond=0),
                     120, 1.0, 2.0, {"10": 120})
                for i in range(4) for h in range(24)
            ])
            await history.add_failures(tx, [failure("t0", now - dt.timedelta(hours=1)),
                                            failure("t1", now - dt.timedelta(hours=2))])
    finally:
        await db.dispose()
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["-c", str(config), "db", "stats", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    tables = {t["table"]: t for t in found["tables"]}
    assert found["targets"] == 4
    assert [t["table"] for t in found["tables"]][:4] == [
        "probe_runs", "probe_failures", "latency_rollups", "latency_rollups_daily"
    ]
    assert (tables["probe_runs"]["rows"], tables["latency_rollups"]["rows"]) == (4, 96)
    # The history began with the oldest hour, 23 to 24 h ago: the window is that long, and
    # per target-day: 4 runs / 4 targets = 1, 96 hours / 4 = 24, 2 failures / 4 = 0.5, each
    # divided by the window in days (23/24 to 1).
    assert tables["probe_runs"]["rows_per_target_day"] == pytest.approx(1.0, rel=0.05)
    assert 24 <= tables["latency_rollups"]["rows_per_target_day"] <= 24 * 24 / 23
    assert tables["probe_failures"]["rows_per_target_day"] == pytest.approx(0.5, rel=0.05)
    assert tables["incidents"]["rows_per_target_day"] is None
    assert all(t["bytes"] > 0 for t in found["tables"])
    assert found["bytes_per_target_day"] == pytest.approx(
        sum(t["bytes_per_target_day"] or 0 for t in found["tables"])
    )
    assert await asyncio.to_thread(main, ["-c", str(config), "db", "stats"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == [
        "table", "rows", "bytes", "bytes/row", "rows/target-day", "bytes/target-day"
    ]
    assert "per target (4 configured) and day (R-M7)" in table
