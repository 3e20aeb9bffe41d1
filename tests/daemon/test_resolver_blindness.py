"""R-M2 for a broken resolver: the daemon's own resolver fails for real (it asks a local DNS
server, ``monitor.resolver.nameservers``, that starts answering SERVFAIL), so every
target probed by host name fails with a DNS error while targets probed by IP address
still answer. That is blindness for the host-name targets only: no incident and no
e-mail for them, one unknown interval (no flapping), while an IP target's real outage
still opens its incident. A name that really does not exist, while our resolver works,
is the target's own outage.

Runs with a resolver canary (``monitor.resolver.canary``) and without one (the
targets alone are the witnesses), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import Incident, ProbeFailure, ProbeRun, UnknownInterval
from monitor.testing.dns import DNSServer
from monitor.testing.targets import TargetServer
from tests.support import FAST, eventually, rows

NAMES = ("a.test", "b.test", "c.test")
INTERVAL = 0.4  # FAST


def config(
    dns: DNSServer, web: TargetServer, by_ip: TargetServer, db_url: str, canary: bool
) -> str:
    resolver = f'nameservers: ["{dns.nameserver}"]'
    if canary:
        resolver += ", canary: canary.test, canary_interval: 1s"
    services = [
        f'  - {{id: {name.split(".")[0]}, kind: mobile_api, '
        f'probe: {{type: http, url: "http://{name}:{web.port}/", {FAST}}}}}'
        for name in (*NAMES, "gone.test")
    ]
    services.append(
        f'  - {{id: byip, kind: mobile_api, probe: {{type: http, url: "{by_ip.url("/")}", {FAST}}}}}'
    )
    return "\n".join(
        [
            "monitor:",
            "  heartbeat_interval: 0.2s",
            "  unknown_after: 1s",
            f"  resolver: {{{resolver}}}",
            "services:",
            *services,
            'http: {listen: "127.0.0.1:0"}',
            f'storage: {{url: "{db_url}"}}',
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("canary", [True, False], ids=["resolver-canary", "targets-only"])
async def test_a_broken_resolver_blinds_host_name_targets_only(db_url: str, canary: bool) -> None:
    names = {name: "127.0.0.1" for name in (*NAMES, "canary.test")}  # gone.test: NXDOMAIN
    async with (
        TargetServer() as web,
        TargetServer() as by_ip,
        DNSServer(names) as dns,
    ):
        registry = CollectorRegistry()
        daemon = Daemon(
            parse_config(config(dns, web, by_ip, db_url, canary)),
            registry=registry,
            flush_interval=0.2,
        )
        await daemon.start()
        engine = create_engine(db_url)
        try:
            # Our resolver answers: a name that does not exist is the target's own outage.
            await eventually(lambda: rows(engine, Incident, Incident.service_id == "gone"))
            for target in ("a", "b", "c", "byip"):
                await eventually(
                    lambda t=target: rows(engine, ProbeRun, ProbeRun.target_id == t)  # type: ignore[misc]
                )
            assert await rows(engine, UnknownInterval) == []
            # The canary's series names it; without a canary there is none (it was 0, which
            # reads as a canary failing, and an alert on it fired for a monitor without one).
            canary_up = [(sample.labels, sample.value) for family in registry.collect()
                         if family.name == "sla_monitor_resolver_canary_up"
                         for sample in family.samples]
            assert canary_up == ([({"canary": "canary.test"}, 1.0)] if canary else [])

            # Our resolver breaks: every host-name target now fails DNS, IP targets answer.
            dns.set_mode("servfail")
            blind = await eventually(lambda: rows(engine, UnknownInterval))
            assert [(b.reason, b.end) for b in blind] == [("resolver_failed", None)]
            assert "host-name targets" in (blind[0].detail or "")
            assert registry.get_sample_value("sla_monitor_resolver_blind") == 1
            assert registry.get_sample_value("sla_monitor_monitor_blind") == 1
            # IP targets still count: a real outage of one opens its incident.
            by_ip.set_status(503)
            await eventually(lambda: rows(engine, Incident, Incident.service_id == "byip"))
            # Well past fail_after for the host-name targets, and with the IP target's results
            # coming in all along: still one interval (no flapping), no incident for them.
            await asyncio.sleep(3 * 3 * INTERVAL)
            assert {i.service_id for i in await rows(engine, Incident)} == {"gone", "byip"}
            assert len(await rows(engine, UnknownInterval)) == 1

            # It answers again: we can see, and the host-name targets are up again.
            dns.set_mode("answer")
            by_ip.set_status(200)
            ended = await eventually(
                lambda: rows(engine, UnknownInterval, UnknownInterval.end.is_not(None))
            )
            assert ended[0].end > ended[0].start
            # Without a resolver canary the targets are the only witnesses, and a lookup sent
            # before the resolver came back may fail after a newer one succeeded (the resolver
            # library retries a SERVFAIL): at most one short interval more, then none open.
            async def seeing() -> bool:
                still_open = await rows(engine, UnknownInterval, UnknownInterval.end.is_(None))
                return not still_open and (
                    registry.get_sample_value("sla_monitor_resolver_blind") == 0
                )

            await eventually(seeing)
            intervals = await rows(engine, UnknownInterval)
            shown = [(i.reason, i.target_id, i.start, i.end) for i in intervals]
            assert len(intervals) <= (1 if canary else 2), shown
            assert all(i.end is not None and i.reason == "resolver_failed"
                       for i in intervals), shown
            await eventually(
                lambda: rows(engine, Incident, Incident.service_id == "byip",
                             Incident.end.is_not(None))
            )
            await daemon.flush(everything=True)
            # The evidence: a's failures were DNS failures; those after the resolver was found
            # broken are recorded as unknown (the first ones, before, as down: a streak that
            # never reached fail_after).
            failed = await rows(engine, ProbeFailure, ProbeFailure.target_id == "a")
            assert {f.failure_class for f in failed} == {"dns"}
            states = [f.state for f in failed]
            assert states.count("unknown") >= 3 and states.count("down") < 3
            assert {i.service_id for i in await rows(engine, Incident)} == {"gone", "byip"}
            assert dns.queries["a.test"] > 3
        finally:
            await daemon.stop()
            await engine.dispose()
