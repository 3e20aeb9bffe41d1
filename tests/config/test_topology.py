"""R-M4 dependencies and R-EX5/R-EX7 customer state from the example configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from monitor.config import load_config
from monitor.config.topology import Topology
from monitor.sla import suspended


def test_dependencies_include_panel_projects_and_their_servers(example_config_path: Path) -> None:
    topology = Topology.from_config(load_config(example_config_path))
    # acme lists two projects (on srv-teh-1 and srv-teh-2) and the mobile API; the panel is implied.
    assert topology.dependencies("acme") == {
        "panel", "acme-survey", "acme-hr", "mobile-api", "srv-teh-1", "srv-teh-2"}
    assert topology.affected_customers("srv-teh-1") == ("acme", "bita")
    assert topology.affected_customers("panel") == ("acme", "bita", "dorna")
    assert topology.projects_on("srv-teh-2") == ["acme-hr", "dorna-census"]


def test_paid_until_is_end_of_the_last_paid_day_in_provider_zone(example_config_path: Path) -> None:
    # As configured: the renewals recorded in the ledger (L-2) are added by the actions
    # (monitor.actions.inputs.month_customers), never here.
    topology = Topology.from_config(load_config(example_config_path))
    # bita: paid until 2026-06-21, i.e. through 24:00 Tehran time (UTC+3:30) = 20:30 UTC.
    until = dt.datetime(2026, 6, 21, 20, 30, tzinfo=dt.UTC)
    bita = topology.customer_input("bita")
    assert bita.paid_until == until
    assert not suspended(bita, until - dt.timedelta(seconds=1))
    assert suspended(bita, until)
    # acme has two sites; it is suspended only after the later one lapses.
    assert topology.customer_input("acme").paid_until == dt.datetime(
        2027, 9, 22, 20, 30, tzinfo=dt.UTC)
