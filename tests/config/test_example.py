"""The shipped example is valid, realistic, and check-config reports the D-1 worst cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_config


def test_example_is_a_realistic_provider(example_config_path: Path) -> None:
    config = load_config(example_config_path)
    kinds = [s.kind for s in config.services]
    assert config.provider.timezone == "Asia/Tehran" and config.provider.calendar == "jalali"
    assert kinds.count("web_panel") == 1 and "mobile_api" in kinds
    assert len(config.servers) == 2 and len(config.monitor.canaries) >= 1
    assert len(config.customers) >= 3
    assert any(len(c.sites) == 2 for c in config.customers)
    assert any(c.clone for c in config.customers)
    assert any(
        site.paid_until is not None and site.paid_until.year <= 2026
        for c in config.customers
        for site in c.sites
    )


def test_check_config_prints_every_worst_case(
    example_config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(example_config_path)
    assert main(["-c", str(example_config_path), "check-config"]) == 0
    out = capsys.readouterr().out
    # srv-teh-1: 30 s × 3 + 5 s = 95 s = 1 min 35 s; the panel: 30 s × 3 + 10 s = 1 min 40 s (D-1).
    assert "srv-teh-1      server      tcp   30 s      3           5 s      1 min 35 s  OK" in out
    assert "panel          web_panel   http  30 s      3           10 s     1 min 40 s  OK" in out
    ids = [s.id for s in config.servers] + [s.id for s in config.services]
    for ident in ids:
        assert f"\n{ident} " in out
