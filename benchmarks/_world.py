"""A provider's running month for the HTTP and SLA-metrics benchmarks, fixed by a seed.

The shape is ``bench_report.py``'s, in a month that is still running: N customers, each
on the shared web panel, the mobile API (40 %) and 1-2 projects of its own on one of
S servers; incidents over the month so far at a steady rate (0.02 % on the panel and the
mobile API each, 2 % on servers, the rest on projects; 10 % with an excluded cause),
about 20 minutes long, so that the few still running are open; 97 % of (incident,
customer) pairs notified within 10 min; 200 maintenance windows noticed to every
affected customer. It is written to a real database through SQLAlchemy Core in bulk (a
benchmark's set-up, not the product's way of writing), and the configuration that goes
with it is built like one read from YAML.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from monitor.config import Config, Settings
from monitor.sla import month_period
from monitor.store import Database
from monitor.store.models import (
    DaemonSession,
    Incident,
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceWindow,
    Notification,
)

TCP = {"type": "tcp", "host": "127.0.0.1", "port": 9}
PERIOD = month_period("2026-03", "gregorian", "UTC")
NOW = dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)  # half the month has run
INCIDENT_SECONDS = 1200  # mean length (exponential) plus a minute


@dataclass
class World:
    settings: Settings
    dependents: dict[str, list[str]]
    projects: list[str]
    servers: list[str]
    incidents: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    next_id: int = 1
    config: dict[str, Any] = field(default_factory=dict)  # as read from YAML
    now: dt.datetime = NOW

    def pick_service(self, shared_share: float, server_share: float) -> str:
        chance = self.rng.random()
        if chance < shared_share:
            return "panel"
        if chance < 2 * shared_share:
            return "mobile"
        if chance < 2 * shared_share + server_share:
            return self.rng.choice(self.servers)
        return self.rng.choice(self.projects)

    def incident(self, start: dt.datetime, now: dt.datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One incident starting at ``start`` (open if it would still run at ``now``) and its
        notifications that have happened by ``now``."""
        rng = self.rng
        service = self.pick_service(0.0002, 0.02)
        end = start + dt.timedelta(seconds=int(rng.expovariate(1 / INCIDENT_SECONDS)) + 60)
        cause = "provider" if rng.random() < 0.9 else rng.choice(
            ("customer_request", "customer_action", "external"))
        detected = start + dt.timedelta(seconds=rng.randrange(120))
        row = {"id": self.next_id, "service_id": service, "start": start, "start_bound": None,
               "detected_at": detected, "end": end if end <= now else None, "end_bound": None,
               "source": "probe", "cause": cause, "note": None, "created_at": detected,
               "_end": end}
        self.next_id += 1
        told = []
        for customer in self.dependents[service]:
            chance = rng.random()
            at = None
            if chance < 0.97:
                at = detected + dt.timedelta(seconds=rng.randrange(600))
            elif chance < 0.98:
                at = start + dt.timedelta(seconds=rng.randrange(7200, 4 * 3600))
            if at is not None and at <= now:
                told.append({"incident_id": row["id"], "customer_id": customer,
                             "channel": "email", "notified_at": at, "outbox_id": None,
                             "note": None, "recorded_at": at})
        return row, told


def build(customers: int, incidents_per_month: int, seed: int = 20260316,
          servers: int = 50, now: dt.datetime = NOW) -> World:
    """The world as it stands at ``now`` (default: half the month has run; after the
    month's end: the whole month, every incident ended)."""
    rng = random.Random(seed)
    config: dict[str, Any] = {
        "provider": {"name": "Bench Hosting"},
        "servers": [{"id": f"srv-{s:02d}", "probe": TCP} for s in range(servers)],
        "services": [{"id": "panel", "kind": "web_panel", "probe": TCP},
                     {"id": "mobile", "kind": "mobile_api", "probe": TCP}],
        "customers": [],
    }
    dependents: dict[str, list[str]] = defaultdict(list)
    projects = []
    for number in range(customers):
        customer = f"c{number:05d}"
        server = f"srv-{rng.randrange(servers):02d}"
        own = [f"p{number:05d}-{k}" for k in range(rng.choice((1, 2)))]
        uses = list(own) + (["mobile"] if rng.random() < 0.4 else [])
        for project in own:
            config["services"].append({"id": project, "kind": "project", "server": server,
                                       "probe": TCP})
        for service in {"panel", server, *uses}:
            dependents[service].append(customer)
        projects += own
        config["customers"].append({
            "id": customer, "name": f"Customer {number}",
            "contacts": {"technical": {"email": f"tech@{customer}.example"}},
            "fee": {"amount": 1200, "currency": "EUR"}, "services": uses,
            "sites": [{"domain": f"{customer}.example"}]})
    settings = Settings.from_config(Config.model_validate(config))
    world = World(settings, dependents, projects, [f"srv-{s:02d}" for s in range(servers)],
                  rng=rng, config=config, now=now)
    # The month so far at a steady rate: incidents_per_month over the whole month.
    elapsed = (min(now, PERIOD.end) - PERIOD.start).total_seconds()
    count = int(incidents_per_month * elapsed / PERIOD.seconds)
    for _ in range(count):
        start = PERIOD.start + dt.timedelta(seconds=rng.randrange(int(elapsed) - 60))
        row, told = world.incident(start, now)
        world.incidents.append(row)
        world.notifications += told
    return world


async def load(db: Database, world: World, now: dt.datetime | None = None) -> None:
    """Write the world (and 200 noticed maintenance windows, and a daemon session that
    began before the month and beat last at ``now``, by default the world's) in bulk."""
    rng = world.rng
    async with db.transaction() as tx:
        connection = await tx.connection()
        await connection.execute(insert(DaemonSession), [{
            "started_at": PERIOD.start - dt.timedelta(days=60),
            "last_beat_at": now or world.now, "stopped_at": None, "hostname": "bench", "pid": 1,
            "version": "bench"}])
        rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in world.incidents]
        for index in range(0, len(rows), 5000):
            await connection.execute(insert(Incident), rows[index:index + 5000])
        for index in range(0, len(world.notifications), 20000):
            await connection.execute(insert(Notification),
                                     world.notifications[index:index + 20000])
        for number in range(1, 201):
            service = "panel" if number <= 10 else rng.choice(world.servers)
            start = PERIOD.start + dt.timedelta(seconds=rng.randrange(PERIOD.seconds))
            await connection.execute(insert(MaintenanceWindow), [{
                "id": number, "start": start, "end": start + dt.timedelta(hours=2),
                "reason": "update", "created_at": start - dt.timedelta(days=5),
                "cancelled_at": None}])
            await connection.execute(insert(MaintenanceService), [
                {"window_id": number, "service_id": service}])
            notices = [{"window_id": number, "customer_id": customer,
                        "sent_at": start - dt.timedelta(hours=72), "channel": "email",
                        "outbox_id": None} for customer in world.dependents[service]]
            if notices:  # a small world has servers nobody uses
                await connection.execute(insert(MaintenanceNotice), notices)
