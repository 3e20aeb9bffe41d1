"""Who depends on what: the configuration turned into lookups (R-M4).

Every customer depends on the shared web panel(s), on the projects and the
mobile API it lists, and on the servers those projects run on. A server's
outage is therefore an outage of each of its projects' customers, counted
once per customer because downtime is a union (R-M4).

A :class:`Topology` is built once per configuration (at start and on each
reload, as part of :class:`monitor.config.settings.Settings`) and holds no
reference to the file it came from. It also holds each customer as the SLA
engine sees it (:class:`monitor.sla.CustomerInput`): the dependencies, and the
R-EX5/R-EX7 facts the engine decides eligibility from.

>>> from monitor.config import parse_config
>>> tcp = "{type: tcp, host: 10.0.0.1, port: 22}"
>>> topology = Topology.from_config(parse_config(f'''
... servers: [{{id: srv-1, probe: {tcp}}}]
... services:
...   - {{id: panel, kind: web_panel, probe: {tcp}}}
...   - {{id: shop, kind: project, server: srv-1, probe: {tcp}}}
... customers:
...   - {{id: acme, name: ACME, contacts: {{technical: {{email: it@acme.example}}}},
...      fee: {{amount: 365, currency: EUR}}, services: [shop], sites: [{{domain: acme.example}}]}}
... '''))
>>> sorted(topology.dependencies("acme")), topology.affected_customers("srv-1")
(['panel', 'shop', 'srv-1'], ('acme',))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from monitor.config.schema import (
    AnyProbe,
    Config,
    Customer,
    Server,
    Service,
    Site,
)
from monitor.sla import (
    DETECTION_KINDS,
    CustomerInput,
    lapse_instant,
    unsupported_version,
)

__all__ = ["Target", "Topology"]


@dataclass(frozen=True, slots=True)
class Target:
    """Something the daemon probes: a server, a service or a canary (slots: one per
    target, about 100 bytes less each than with a ``__dict__``)."""

    id: str
    kind: str  # server | web_panel | project | mobile_api | canary
    probe: AnyProbe

    @property
    def carries_d1(self) -> bool:
        return self.kind in DETECTION_KINDS  # D-1


@dataclass(frozen=True)
class Topology:
    servers: dict[str, Server] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    _targets: tuple[Target, ...] = ()
    _dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    _affected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _projects: dict[str, list[str]] = field(default_factory=dict)
    _engine_customers: dict[str, CustomerInput] = field(default_factory=dict)
    _sites: dict[str, tuple[Customer, Site]] = field(default_factory=dict)

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
        projects: dict[str, list[str]] = {}
        for service in sorted(config.services, key=lambda s: s.id):
            if service.server is not None:
                projects.setdefault(service.server, []).append(service.id)
        targets = [Target(s.id, "server", s.probe) for s in config.servers]
        targets += [Target(s.id, s.kind, s.probe) for s in config.services]
        targets += [Target(c.id, "canary", c.probe) for c in config.monitor.canaries]
        provider = config.provider
        engine_customers = {
            customer.id: CustomerInput(
                id=customer.id,
                name=customer.name,
                fee_per_year=Decimal(customer.fee.amount),
                currency=customer.fee.currency,
                services=dependencies[customer.id],
                paid_until=lapse_instant((s.paid_until for s in customer.sites), provider.timezone),
                clone=customer.clone,
                unsupported_version=unsupported_version(
                    (s.version for s in customer.sites), provider.supported_versions
                ),
            )
            for customer in config.customers
        }
        return cls(
            servers=servers,
            services=services,
            customers=customers,
            _targets=tuple(targets),
            _dependencies=dependencies,
            _affected={k: tuple(sorted(v)) for k, v in affected.items()},
            _projects=projects,
            _engine_customers=engine_customers,
            _sites={site.domain: (customer, site) for customer in config.customers
                    for site in customer.sites},
        )

    def dependencies(self, customer_id: str) -> frozenset[str]:
        """Every service and server the customer's availability depends on (R-M4)."""
        return self._dependencies[customer_id]

    def site_owner(self, domain: str) -> tuple[Customer, Site] | None:
        """The customer a domain belongs to (L-1: exactly one; the configuration refuses a
        domain of two), and the site; None for a domain no customer has."""
        return self._sites.get(domain)

    def affected_customers(self, target_id: str) -> tuple[str, ...]:
        """Customers that depend on a service or server, sorted by id."""
        return self._affected.get(target_id, ())

    def projects_on(self, server_id: str) -> list[str]:
        """The services running on ``server_id``, by id."""
        return list(self._projects.get(server_id, ()))

    def projects_of_on(self, customer_id: str, server_id: str) -> list[str]:
        """The customer's services running on ``server_id``, by id (as :meth:`projects_on`
        lists them): found among the customer's own dependencies, not the server's
        projects, which a shared server has by the thousand (an outage of one told each of
        its 10,000 customers, each scanning the 10,000 projects: seconds of the event loop)."""
        services = self.services
        return sorted(p for p in self._dependencies.get(customer_id, ())
                      if p in services and services[p].server == server_id)

    def with_hosted_projects(self, ids: set[str] | frozenset[str]) -> frozenset[str]:
        """``ids`` plus the projects running on any server among them: maintenance of a
        server is maintenance of its projects (R-M4, R-EX1)."""
        return frozenset(ids) | {p for i in ids if i in self.servers for p in self.projects_on(i)}

    def targets(self) -> list[Target]:
        """Every probed target: servers, services, then canaries, in configuration order."""
        return list(self._targets)

    def service_ids(self) -> frozenset[str]:
        """Ids an incident may name: services and servers."""
        return frozenset(self.services) | frozenset(self.servers)

    # --- customers as the SLA engine sees them --------------------------------------------------

    def customer_input(self, customer_id: str) -> CustomerInput:
        """The customer's record for the engine as configured: dependencies, fee, R-EX5..R-EX7
        facts. Its ``paid_until`` is the configured sites' alone: the yearly renewals recorded
        in the ledger (L-2) extend it, and who asks whether it is suspended takes them
        (:func:`monitor.actions.inputs.month_customers`)."""
        return self._engine_customers[customer_id]

    def customer_inputs(self) -> list[CustomerInput]:
        return list(self._engine_customers.values())

    def unsupported_version(self, customer_id: str) -> bool:
        """R-EX7: a site runs a version the provider no longer supports (Decision: the list)."""
        return self._engine_customers[customer_id].unsupported_version
