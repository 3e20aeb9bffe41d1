"""Who depends on what: the configuration turned into lookups (R-M4).

Every customer depends on the shared web panel(s), on the projects and the
mobile API it lists, and on the servers those projects run on. A server's
outage is therefore an outage of each of its projects' customers, counted
once per customer because downtime is a union (R-M4).

>>> topology = Topology.from_config(config)            # doctest: +SKIP
>>> topology.dependencies("acme")                      # doctest: +SKIP
frozenset({'panel', 'acme-survey', 'srv-teh-1', 'mobile-api'})
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from monitor.config.schema import Config, Customer, HTTPProbe, Server, Service, TCPProbe

# D-1: these target kinds carry the 15-minute detection duty.
D1_KINDS = frozenset({"server", "web_panel", "project"})


@dataclass(frozen=True)
class Target:
    """Something the daemon probes: a server, a service or a canary."""

    id: str
    kind: str  # server | web_panel | project | mobile_api | canary
    probe: HTTPProbe | TCPProbe

    @property
    def carries_d1(self) -> bool:
        return self.kind in D1_KINDS


@dataclass(frozen=True)
class Topology:
    config: Config
    servers: dict[str, Server] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    _dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    _affected: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Topology:
        servers = {s.id: s for s in config.servers}
        services = {s.id: s for s in config.services}
        customers = {c.id: c for c in config.customers}
        panels = {s.id for s in config.services if s.kind == "web_panel"}
        dependencies: dict[str, frozenset[str]] = {}
        for customer in config.customers:
            direct = panels | set(customer.services)
            hosts = {services[i].server for i in direct}
            dependencies[customer.id] = frozenset(direct | {h for h in hosts if h is not None})
        affected: dict[str, list[str]] = {}
        for customer_id, depends_on in dependencies.items():
            for target_id in depends_on:
                affected.setdefault(target_id, []).append(customer_id)
        return cls(
            config=config,
            servers=servers,
            services=services,
            customers=customers,
            _dependencies=dependencies,
            _affected={k: tuple(sorted(v)) for k, v in affected.items()},
        )

    def dependencies(self, customer_id: str) -> frozenset[str]:
        """Every service and server the customer's availability depends on (R-M4)."""
        return self._dependencies[customer_id]

    def affected_customers(self, target_id: str) -> tuple[str, ...]:
        """Customers that depend on a service or server, sorted by id."""
        return self._affected.get(target_id, ())

    def projects_on(self, server_id: str) -> list[str]:
        return sorted(s.id for s in self.services.values() if s.server == server_id)

    def with_hosted_projects(self, ids: set[str] | frozenset[str]) -> frozenset[str]:
        """``ids`` plus the projects running on any server among them: maintenance of a
        server is maintenance of its projects (R-M4, R-EX1)."""
        return frozenset(ids) | {p for i in ids if i in self.servers for p in self.projects_on(i)}

    def targets(self) -> list[Target]:
        """Every probed target: servers, services, then canaries, in configuration order."""
        found = [Target(s.id, "server", s.probe) for s in self.config.servers]
        found += [Target(s.id, s.kind, s.probe) for s in self.config.services]
        found += [Target(c.id, "canary", c.probe) for c in self.config.monitor.canaries]
        return found

    def service_ids(self) -> frozenset[str]:
        """Ids an incident may name: services and servers."""
        return frozenset(self.services) | frozenset(self.servers)

    def paid_until(self, customer_id: str) -> dt.datetime | None:
        """When the customer's last support period ends (R-EX5), or None if it never lapses.

        **Decision:** a customer is suspended only when every one of its sites has
        lapsed; ``paid_until`` is a date, paid through the end of that day in the
        provider's time zone.
        """
        sites = self.customers[customer_id].sites
        if any(site.paid_until is None for site in sites):
            return None
        last = max(site.paid_until for site in sites if site.paid_until is not None)
        zone = ZoneInfo(self.config.provider.timezone)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return end.astimezone(dt.UTC)

    def is_suspended(self, customer_id: str, at: dt.datetime) -> bool:
        """R-EX5: lapsed customers earn no credits and get no alert e-mail (operators still do)."""
        until = self.paid_until(customer_id)
        return until is not None and at >= until

    def unsupported_version(self, customer_id: str) -> bool:
        """R-EX7: a site runs a version the provider no longer supports (Decision: the list)."""
        supported = self.config.provider.supported_versions
        if not supported:
            return False
        return any(site.version is not None and site.version not in supported
                   for site in self.customers[customer_id].sites)
