"""The installed daemon (``sla-monitor run`` as a subprocess) serving the HTTP edge with
its secrets from files: per-customer SLA metrics appear on /metrics after the
timer's refresh, never computed inside a scrape; a token removed from the file stops
working after SIGHUP, a bad tokens file is refused with the old tokens in force; a
signed link opens a page; no token or link signature ever reaches the daemon's log."""

from __future__ import annotations

import datetime as dt
import re
import signal
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from monitor.actions.links import LinkKeys
from monitor.http.auth import hash_line
from monitor.testing.targets import TargetServer
from tests.support import FAST, DaemonProcess, eventually, free_port

WRITE = "daemon-write-token-0123456789"
LEAVING = "daemon-leaving-token-0123456789"
LINK_KEY = "daemon-link-key-0123456789abcdefghijklmnop"


def config(tmp: Path, panel: str, shop: str, port: int) -> str:
    return f"""
monitor: {{heartbeat_interval: 0.2s, unknown_after: 1s, sla_metrics_interval: 1s}}
provider: {{name: Daemon Hosting}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: http, url: "{panel}", {FAST}}}}}
  - {{id: shop, kind: project, server: srv, probe: {{type: http, url: "{shop}", {FAST}}}}}
servers:
  - {{id: srv, probe: {{type: http, url: "{panel}", {FAST}}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [shop]
    sites: [{{domain: acme.example}}]
  - id: zeta
    name: Zeta
    contacts: {{technical: {{email: tech@zeta.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    sites: [{{domain: zeta.example}}]
http:
  listen: "127.0.0.1:{port}"
  tokens_file: {tmp / "tokens"}
  link_key_file: {tmp / "link-key"}
storage: {{url: "sqlite+aiosqlite:///{tmp / 'db.sqlite'}"}}
maildir: {tmp / "Maildir"}
"""


def metric(text: str, name: str, customer: str) -> float | None:
    found = re.search(rf'^{name}{{customer="{customer}"}} (\S+)$', text, re.M)
    return None if found is None else float(found[1])


@pytest.mark.slow
async def test_the_daemon_serves_metrics_tokens_and_links(
    tmp_path: Path, daemon_process: Callable[[Path], DaemonProcess]
) -> None:
    (tmp_path / "tokens").write_text(
        hash_line("write", WRITE, "noc") + "\n" + hash_line("read", LEAVING, "leaving") + "\n")
    (tmp_path / "link-key").write_text(LINK_KEY + "\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with TargetServer() as panel, TargetServer() as shop, aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # 127.0.0.1 keeps cookies
        shop.set_status(503)  # ACME's project is down from the start
        path = tmp_path / "config.yaml"
        path.write_text(config(tmp_path, panel.url("/"), shop.url("/"), port))
        daemon = daemon_process(path)
        daemon.start()

        async def scrape() -> str | None:
            try:
                async with http.get(base + "/metrics") as response:
                    text = await response.text()
            except aiohttp.ClientError:
                return None
            downtime = metric(text, "sla_monitor_customer_downtime_seconds", "acme")
            return text if downtime is not None and downtime > 0 else None

        text = await eventually(scrape, within=30)
        # ACME's project is down: its month so far has counted downtime and less than
        # 100 % availability; Zeta (the panel only) has none.
        assert metric(text, "sla_monitor_customer_availability_ratio", "acme") < 1.0
        assert metric(text, "sla_monitor_customer_downtime_seconds", "zeta") == 0.0
        assert metric(text, "sla_monitor_customer_availability_ratio", "zeta") == 1.0
        assert metric(text, "sla_monitor_customer_projected_tier", "acme") == 0.0
        budget = metric(text, "sla_monitor_customer_error_budget_seconds", "zeta")
        assert budget is not None and budget > 3600  # 0.2 % of a month
        assert metric(text, "sla_monitor_customer_next_tier_seconds", "zeta") is not None
        assert "sla_monitor_sla_target_ratio 0.998" in text
        assert re.search(r"^sla_monitor_sla_refreshes_total\{result=\"ok\"\} [1-9]", text, re.M)

        async def get(path: str, token: str) -> int:
            async with http.get(base + path,
                                headers={"Authorization": f"Bearer {token}"}) as response:
                return response.status

        assert await get("/api/v1/incidents", LEAVING) == 200
        # A bad tokens file is refused by SIGHUP: the old tokens stay in force.
        (tmp_path / "tokens").write_text("write short\n")
        daemon.signal(signal.SIGHUP)
        await eventually(lambda: _logged(daemon, "configuration reload refused"), within=15)
        assert await get("/api/v1/incidents", LEAVING) == 200
        # The leaving token's line removed, then SIGHUP: it is refused, the other works.
        (tmp_path / "tokens").write_text(hash_line("write", WRITE, "noc") + "\n")
        daemon.signal(signal.SIGHUP)

        async def revoked() -> bool:
            return await get("/api/v1/incidents", LEAVING) == 401

        await eventually(revoked, within=15)
        assert await get("/api/v1/incidents", WRITE) == 200

        keys = LinkKeys((LINK_KEY.encode(),))
        query = keys.link_query("acme", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        async with http.get(f"{base}/customer/acme?{query}") as page:
            assert page.status == 200  # redirected once, with the session cookie
            assert "ACME" in await page.text()

        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        log = daemon.output()
        for secret in (WRITE, LEAVING, LINK_KEY, query.split("sig=")[1]):
            assert secret not in log


async def _logged(daemon: DaemonProcess, text: str) -> bool:
    return text in daemon.output()
