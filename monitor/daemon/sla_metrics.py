"""Per-customer SLA metrics of the running month (SPEC section 7), computed on a timer by
the engine (:class:`monitor.actions.standing.RunningMonth`), never inside a scrape: a
scrape reads the last refresh's numbers. The first refresh runs while the daemon starts,
before its HTTP edge answers: the first scrape already has every customer's series. It is
the month's whole read, on a worker thread (probes already run meanwhile): at 10,000
customers about 12 CPU-s more before the daemon is ready (``benchmarks/bench_sla_metrics.py``).

Series per customer (labels ``customer``, the configured id, never the name):

* ``sla_monitor_customer_availability_ratio``: this month's availability so far against the
  whole month, as the report computes it (R-M6), as a ratio (0.998 is the 99.8 % target);
* ``sla_monitor_customer_downtime_seconds``: counted downtime so far (R-M4);
* ``sla_monitor_customer_error_budget_seconds``: counted downtime left before the target is
  missed (R-T0), negative once it is;
* ``sla_monitor_customer_projected_tier``: the credit tier reached so far, 0 for none, 1 for
  the first configured tier (1w), 2 for the second... (R-T1);
* ``sla_monitor_customer_credit_seconds``: the credit owed so far, as the length of the
  service credited: 86400 per credit day (R-T1, R-N1, R-P1, R-T2);
* ``sla_monitor_customer_next_tier_seconds``: counted downtime still missing before the next
  tier; absent above the highest tier and for a customer who earns no credit
  (R-EX5..R-EX7). The alert ``CustomerAboutToCrossCreditTier`` watches it.

and ``sla_monitor_sla_target_ratio`` (the target, for dashboards),
``sla_monitor_sla_refresh_duration_seconds`` and ``sla_monitor_sla_refreshes_total``,
``sla_monitor_sla_customers_recomputed`` (how many the last refresh computed),
``sla_monitor_sla_refresh_timestamp_seconds``.

*Decision, names:* every name passes ``promtool check metrics`` and follows the
Prometheus naming guide: base units only (seconds, ratios), ``_total`` on counters.
Credit is a length of service, so it is exported in seconds
(``sla_monitor_customer_credit_seconds``; a 7-day tier is 604800, half a day 43200,
exact) rather than under a unitless name that would hide the unit; dashboards divide by
86400 to show days, alert templates may use ``humanizeDuration``. (``..._credit_days``
is refused by promtool: "use base unit seconds instead of days".)

*Decision, several daemons (a cluster on one PostgreSQL, :mod:`monitor.daemon.cluster`)
behind one Prometheus:* every node refreshes and exports the same per-customer series,
read from the one database, so each customer's series exist once per node (``instance``
label). Every shipped rule and dashboard query therefore aggregates by customer
(``min by (customer)``/``max by (customer)``, the worse of the nodes' figures, which
within a month is also the most recently refreshed one) before comparing, counting or
summing, and takes the target as ``max(sla_monitor_sla_target_ratio)``; the tests in
``tests/test_grafana.py``, ``grafana/alerts.test.yml`` and ``grafana/dashboard.test.yml``
hold them to it. Exporting them
from the leader only was not chosen: the series would vanish at every leader handover
and while the leader cannot reach the database (resolving alerts, blanking panels), and
the old and the new leader's series overlap for a scrape interval at a handover anyway,
so the queries would have to aggregate all the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.actions.standing import RunningMonth
from monitor.clock import Clock
from monitor.config import Settings
from monitor.sla import CustomerReport, MonthPeriod, Policy, error_budget_seconds, next_tier

__all__ = ["CUSTOMER_SERIES", "CustomerSLAMetrics", "SLAMetrics", "SLARefresher"]

log = logging.getLogger(__name__)

CUSTOMER_SERIES = (
    ("sla_monitor_customer_availability_ratio",
     "This month's availability so far, against the whole month (R-M6), as a ratio."),
    ("sla_monitor_customer_downtime_seconds", "Counted downtime this month so far (R-M4)."),
    ("sla_monitor_customer_error_budget_seconds",
     "Counted downtime left this month before availability falls below the target (R-T0)."),
    ("sla_monitor_customer_projected_tier",
     "Credit tier reached so far this month: 0 none, 1 the first configured tier (R-T1)."),
    ("sla_monitor_customer_credit_seconds",
     "Credit owed so far this month, as the length of the service credited (R-T2): "
     "86400 per credit day."),
    ("sla_monitor_customer_next_tier_seconds",
     "Counted downtime still missing before the next credit tier (R-T1)."),
)
_NEXT_TIER = len(CUSTOMER_SERIES) - 1
SECONDS_PER_DAY = 86400


class CustomerSLAMetrics(Collector):
    """The per-customer series, as plain floats set after each refresh."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows: dict[str, tuple[float | None, ...]] = {}
        self._from: dict[str, CustomerReport] = {}  # the report each row was made from
        registry.register(self)

    def update(self, reports: Iterable[CustomerReport], period: MonthPeriod,
               policy: Policy) -> None:
        ranks = {tier.name: rank for rank, tier in enumerate(policy.tiers, start=1)}
        rows: dict[str, tuple[float | None, ...]] = {}
        made: dict[str, CustomerReport] = {}
        for report in reports:
            customer = report.customer
            if self._from.get(customer) is report:  # reused by the engine: nothing changed
                rows[customer] = self.rows[customer]
            else:
                rows[customer] = _row(report, period, policy, ranks)
            made[customer] = report
        self.rows, self._from = rows, made

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, documentation in CUSTOMER_SERIES:
            yield GaugeMetricFamily(name, documentation, labels=["customer"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = self.rows
        for index, (name, documentation) in enumerate(CUSTOMER_SERIES):
            family = GaugeMetricFamily(name, documentation, labels=["customer"])
            for customer, row in rows.items():
                value = row[index]
                if value is not None:
                    family.add_metric((customer,), value)
            yield family


def _row(report: CustomerReport, period: MonthPeriod, policy: Policy,
         ranks: dict[str, int]) -> tuple[float | None, ...]:
    coming = None
    if report.ineligible_reason is None:
        found = next_tier(report.downtime_seconds, period.seconds, policy)
        coming = None if found is None else float(found[1])
    row: tuple[float | None, ...] = (
        float(report.availability_percent / Decimal(100)),
        float(report.downtime_seconds),
        float(error_budget_seconds(report.downtime_seconds, period.seconds, policy)),
        float(ranks.get(report.tier, 0) if report.tier else 0),
        float(report.credit_days_total * SECONDS_PER_DAY),
        coming,
    )
    assert len(row) == _NEXT_TIER + 1
    return row


class SLAMetrics:
    """Every series of this module, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.customers = CustomerSLAMetrics(registry)
        self.target = Gauge("sla_monitor_sla_target_ratio",
                            "The monthly availability target (R-T0), as a ratio.",
                            registry=registry)
        self.duration = Histogram(
            "sla_monitor_sla_refresh_duration_seconds",
            "Wall time of a refresh of the per-customer SLA metrics.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.refreshes = Counter("sla_monitor_sla_refreshes_total",
                                 "Refreshes of the per-customer SLA metrics, by result.",
                                 ["result"], registry=registry)
        self.recomputed = Gauge("sla_monitor_sla_customers_recomputed",
                                "Customers whose month the last refresh computed (the rest "
                                "were unchanged).", registry=registry)
        self.refreshed_at = Gauge("sla_monitor_sla_refresh_timestamp_seconds",
                                  "Unix time of the last successful refresh.", registry=registry)


class SLARefresher:
    """The daemon's job: refresh the running month, then the series (never in a scrape)."""

    def __init__(self, running: RunningMonth, clock: Clock, registry: CollectorRegistry) -> None:
        self.running = running
        self.clock = clock
        self.metrics = SLAMetrics(registry)

    def prepare(self, settings: Settings) -> Settings:
        """A reload: nothing to build; the next refresh reads and computes everything."""
        return settings

    def apply(self, settings: Settings) -> None:
        self.running.apply(settings)

    async def refresh(self) -> None:
        metrics = self.metrics
        started = time.perf_counter()
        now = self.clock.now()
        try:
            refreshed = await self.running.refresh(now)
        except Exception as exc:
            metrics.refreshes.labels("failed").inc()
            if not self.running.db.outage(exc):  # the database away: said once
                log.exception("SLA metrics refresh failed; the previous numbers stay")
            return
        policy = self.running.settings.policy
        metrics.customers.update(refreshed.report.customers, refreshed.report.period, policy)
        metrics.target.set(float(policy.target_percent / Decimal(100)))
        metrics.recomputed.set(refreshed.recomputed)
        metrics.refreshed_at.set(now.timestamp())
        metrics.duration.observe(time.perf_counter() - started)
        metrics.refreshes.labels("ok").inc()
