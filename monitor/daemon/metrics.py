"""The daemon's Prometheus metrics, on a registry of its own (never the global one).

Names follow Prometheus conventions: base units (seconds), ``_total`` for
counters. Per-target series are kept to one or two per target (state, last
duration, certificate expiry) so that 40,000 targets stay scrapeable;
distributions (phase durations, lateness, detection latency) are histograms
over all targets. What every probe result touches is cheap: the per-target
gauges are plain dict stores (:meth:`TargetGauge.set`), and the labelled
children of the counters and histograms are looked up once (:meth:`DaemonMetrics.result_counter`,
:meth:`DaemonMetrics.phase_histogram`) rather than through ``labels()`` per result.

The per-target gauges are :class:`TargetGauge`: the same series as a
``prometheus_client.Gauge``, kept as one plain dict of floats. A ``Gauge``
child is a child object, a value object and a lock per series, 120,000
long-lived objects at 20,000 targets that every full garbage collection walks
(measured: about 0.1 s of each gen-2 pass, several a minute) and about 14 MB.

``/metrics`` is :func:`exposition`: ``generate_latest``'s text, byte for byte, with each
:class:`TargetGauge` written straight from its dict (:meth:`_TargetFamily.text`) instead of
through a ``Sample`` object and ``generate_latest``'s general formatting per series: at
150,000 targets (300,000 series) a scrape cost about 1.5 CPU-s of the daemon's process,
every scrape interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, Sample
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from monitor.config.topology import Target

#: A value as the text format writes it (prometheus_client's function, untyped there).
_number = cast(Callable[[float], str], floatToGoString)

#: A per-target series' key (TargetGauge): the label's value, or the tuple of several.
Key = str | tuple[str, ...]

PHASES = ("dns", "connect", "tls", "first_byte", "total")
STATE_VALUE = {"up": 1.0, "down": 0.0, "unknown": -1.0}


class TargetGauge(Collector):
    """A labelled gauge with ``Gauge``'s ``labels(...).set(value)`` and the same exposition.

    Series are exposed in the order they were first set, and removed (:meth:`remove`) when
    their target is (:meth:`DaemonMetrics.forget_targets`). A series' key is, for a gauge of
    one label (most of them: the target), that label's value itself, a string: a tuple of
    one string per target was 48 bytes each, 7 MB at 150,000 targets (measured); for a gauge
    of several labels, the tuple of their values. A gauge whose second label is its target's
    own (``probe_state``'s ``kind``) is keyed by the target id too, and ``label_of(target_id)``
    gives that label's value when the series is written (None: no such target, no series): a
    tuple of two strings per target was 56 bytes each, 8 MB at 150,000 targets, and a target
    whose kind a reload changes has its one series under its new kind. The daemon sets and
    scrapes it on its event loop; a scrape from another thread reads a copy, never a dict
    that is changing.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.values: dict[Key, float] = {}
        self.label_of: Callable[[str], str | None] | None = None  # see the class docstring
        registry.register(self)

    def labels(self, *labelvalues: str) -> _TargetSeries:
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected labels {self.labelnames}, got {labelvalues}")
        key = tuple(str(value) for value in labelvalues)
        return _TargetSeries(self.values, key[0] if len(key) == 1 else key)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # dict.copy() copies at once, running no Python code meanwhile; list(items()) made a
        # tuple per item, and a collection's finalizers (or a thread switch) between two
        # could add a series: "dictionary changed size during iteration", a 500.
        yield _TargetFamily(self, self.values.copy())

    def set(self, key: Key, value: float) -> None:
        """``labels(*key).set(value)`` without the object in between (once per probe); ``key``:
        the label's value for a gauge of one label, else the tuple of them."""
        self.values[key] = value

    def remove(self, key: Key) -> None:
        """The series of ``key`` no longer exposed (none: nothing happens)."""
        self.values.pop(key, None)


def _escaped(value: str) -> str:
    """A label's value as the text format writes it (``generate_latest``'s escaping)."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


class _TargetFamily(GaugeMetricFamily):
    """A :class:`TargetGauge`'s family as collected: its series kept as the gauge's dict
    (a copy), made into ``Sample`` objects only if read (``generate_latest``), written
    straight by :func:`exposition`."""

    def __init__(self, gauge: TargetGauge, values: dict[Key, float]) -> None:
        self.gauge = gauge
        self.values = values
        super().__init__(gauge.name, gauge.documentation, labels=gauge.labelnames)

    def keys(self) -> Iterator[tuple[tuple[str, ...], float]]:
        """Each series' label values, in the order of the gauge's names, and its value."""
        label_of = self.gauge.label_of
        if label_of is not None:  # the target id, and the label it decides
            for key, value in self.values.items():
                second = label_of(cast(str, key))
                if second is not None:
                    yield (cast(str, key), second), value
        else:
            for key, value in self.values.items():
                yield cast(tuple[str, ...], key), value

    @property
    def samples(self) -> list[Sample]:
        names = self.gauge.labelnames
        if len(names) == 1:
            return [Sample(self.name, {names[0]: cast(str, key)}, value, None, None)
                    for key, value in self.values.items()]
        return [Sample(self.name, dict(zip(names, key, strict=True)), value, None, None)
                for key, value in self.keys()]

    @samples.setter
    def samples(self, _empty: list[Sample]) -> None:
        """(``Metric.__init__`` sets an empty list: the series are the gauge's.)"""

    def text(self) -> str:
        """The series in the text format, as ``generate_latest`` writes them: HELP and
        TYPE, then a line per series, its labels in the order of their names, each value
        escaped (backslash, newline, double quote) and written by ``floatToGoString``."""
        name = self.name
        labelnames = self.gauge.labelnames
        order = sorted(range(len(labelnames)), key=labelnames.__getitem__)
        heads = [f'{labelnames[i]}="' for i in order]
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        lines = [f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"]
        if len(order) == 1:  # most per-target gauges: one label, the target
            head = heads[0]
            lines += [f'{name}{{{head}{_escaped(cast(str, key))}"}} {_number(value)}\n'
                      for key, value in self.values.items()]
        else:
            pairs = list(zip(heads, order, strict=True))
            for key, value in self.keys():
                labels = ",".join(head + _escaped(key[i]) + '"' for head, i in pairs)
                lines.append(f"{name}{{{labels}}} {_number(value)}\n")
        return "".join(lines)


class _One:
    """One collected family, for ``generate_latest``."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self.metric


def exposition(registry: CollectorRegistry) -> bytes:
    """``generate_latest(registry)``, the same bytes, each :class:`TargetGauge` written by
    :meth:`_TargetFamily.text` (module docstring)."""
    parts = []
    for metric in registry.collect():
        if isinstance(metric, _TargetFamily):
            parts.append(metric.text().encode())
        else:
            parts.append(generate_latest(_One(metric)))
    return b"".join(parts)


class _TargetSeries:
    __slots__ = ("_key", "_values")

    def __init__(self, values: dict[Key, float], key: Key) -> None:
        self._values = values
        self._key = key

    def set(self, value: float) -> None:
        self._values[self._key] = float(value)


class DaemonMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.probe_state = TargetGauge(
            "sla_monitor_probe_state",
            "Latest probe result per target: 1 up, 0 down, -1 unknown (monitor impaired, R-M2).",
            ["target", "kind"],
            registry=registry,
        )
        self.probe_results = Counter(
            "sla_monitor_probe_results_total",
            "Probe results by state and failure class.",
            ["state", "failure_class"],
            registry=registry,
        )
        self.probe_last_duration = TargetGauge(
            "sla_monitor_probe_last_duration_seconds",
            "Total duration of the latest probe per target.",
            ["target"],
            registry=registry,
        )
        self.probe_phase_duration = Histogram(
            "sla_monitor_probe_phase_duration_seconds",
            "Probe duration per phase (dns, connect, tls, first_byte, total) over all targets.",
            ["phase"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.certificate_expiry = TargetGauge(
            "sla_monitor_certificate_expiry_timestamp_seconds",
            "Unix time at which the target's TLS certificate expires.",
            ["target"],
            registry=registry,
        )
        self.certificate_warning = TargetGauge(
            "sla_monitor_certificate_expiry_warning_seconds",
            "The target's tls.cert_expiry_warning: CertificateExpiringSoon fires when its "
            "certificate expires within this.",
            ["target"],
            registry=registry,
        )
        self.certificate_valid = TargetGauge(
            "sla_monitor_certificate_valid",
            "1 if the target's certificate passes verification, else 0.",
            ["target"],
            registry=registry,
        )
        self.open_incidents = Gauge(
            "sla_monitor_open_incidents",
            "Incidents currently open, by target kind.",
            ["kind"],
            registry=registry,
        )
        self.detection_latency = Histogram(
            "sla_monitor_detection_latency_seconds",
            "Incident detected_at minus start (D-1 duty: 900 s).",
            buckets=(1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600),
            registry=registry,
        )
        self.detection_breaches = Counter(
            "sla_monitor_detection_breaches_total",
            "Incidents detected later than the D-1 deadline.",
            registry=registry,
        )
        self.scheduler_lateness = Histogram(
            "sla_monitor_scheduler_lateness_seconds",
            "Probe start time minus its due time.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.scheduler_missed = Counter(
            "sla_monitor_scheduler_missed_runs_total",
            "Probe runs skipped because the previous run of that probe was still going.",
            registry=registry,
        )
        self.probe_workers = Gauge(
            "sla_monitor_probe_workers",
            "Probe worker processes running besides the daemon (monitor.probe_workers).",
            registry=registry,
        )
        self.probe_worker_restarts = Counter(
            "sla_monitor_probe_worker_restarts_total",
            "Probe worker processes that exited unasked and were started again.",
            registry=registry,
        )
        self.probe_worker_gap_seconds = Counter(
            "sla_monitor_probe_worker_gap_seconds_total",
            "Seconds a dead probe worker's targets went unprobed until it ran again.",
            registry=registry,
        )
        self.monitor_blind = Gauge(
            "sla_monitor_monitor_blind",
            "1 while the monitor cannot see (canaries or resolver failing, R-M2).",
            registry=registry,
        )
        self.resolver_blind = Gauge(
            "sla_monitor_resolver_blind",
            "1 while the monitor's resolver is judged broken: DNS failures of host-name "
            "targets are unknown, IP targets still count (R-M2).",
            registry=registry,
        )
        # Labelled by the name looked up, so that without a canary (or before its first
        # lookup) there is no series: an unlabelled gauge sat at 0, a canary failing.
        self.resolver_canary_up = Gauge(
            "sla_monitor_resolver_canary_up",
            "1 if the resolver canary's name lookup answered last time, else 0 (R-M2); no "
            "series without a canary (monitor.resolver.canary).",
            ["canary"],
            registry=registry,
        )
        self.unknown_intervals = Counter(
            "sla_monitor_unknown_intervals_total",
            "Intervals of unknown time recorded, by reason (R-M2, R-M3).",
            ["reason"],
            registry=registry,
        )
        self.heartbeat = Gauge(
            "sla_monitor_heartbeat_timestamp_seconds",
            "Unix time of the daemon's last heartbeat written to the database (R-M3).",
            registry=registry,
        )
        self.started = Gauge(
            "sla_monitor_start_timestamp_seconds",
            "Unix time this daemon started (a heartbeat not yet written is as old as the "
            "start: grafana/alerts.yml).",
            registry=registry,
        )
        self.event_loop_tasks = Gauge(
            "sla_monitor_event_loop_tasks",
            "Asyncio tasks alive on the daemon's event loop, counted at each heartbeat (a "
            "number that grows without bound is a leak).",
            registry=registry,
        )
        self.flush_rows = Counter(
            "sla_monitor_store_rows_written_total",
            "Probe-history rows written (runs, failures, rollups; R-M7).",
            registry=registry,
        )
        self.flush_duration = Histogram(
            "sla_monitor_store_flush_duration_seconds",
            "How long each probe-history flush took (R-M7).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.job_lateness = Histogram(
            "sla_monitor_periodic_job_lateness_seconds",
            "How much later than its interval each periodic job (heartbeat, flush, duties, "
            "retention) started: the gap since its previous start minus the interval.",
            ["job"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.pruned_rows = Counter(
            "sla_monitor_store_pruned_rows_total",
            "Old probe-history rows removed by retention, by table (hourly roll-ups: merged "
            "into daily ones; R-M7, storage.retention).",
            ["table"],
            registry=registry,
        )
        self.flush_errors = Counter(
            "sla_monitor_store_flush_errors_total",
            "Failed probe-history flushes (kept and retried).",
            registry=registry,
        )
        self.targets = Gauge(
            "sla_monitor_targets",
            "Probe targets of the configuration (in a cluster, every node's: the targets this "
            "node probes are sla_monitor_cluster_leases_held).",
            registry=registry,
        )
        self._result_counters: dict[tuple[str, str], Any] = {}
        self._phase_histograms: dict[str, Any] = {}
        self.config_reloads = Counter(
            "sla_monitor_config_reloads_total",
            "SIGHUP reloads, by result (applied, rejected).",
            ["result"],
            registry=registry,
        )
        # Both results from the start, at 0: ConfigReloadRejected takes increase(), which
        # reads a series' first sample as its baseline, so a series born at 1 never fires.
        for result in ("applied", "rejected"):
            self.config_reloads.labels(result)
        # Faults the daemon survives, and says it survives.
        self.incident_writes_pending = Gauge(
            "sla_monitor_incident_writes_pending",
            "Incident changes decided but not yet written (the database is locked, full or "
            "away); kept in memory in order and retried.",
            registry=registry,
        )
        self.results_dropped = Counter(
            "sla_monitor_probe_results_dropped_total",
            "Probe failures that could not be stored for too long and were dropped; the span "
            "they covered is recorded as unknown time (store_unavailable, R-M3).",
            registry=registry,
        )
        self.evidence_chain_ok = Gauge(
            "sla_monitor_evidence_chain_ok",
            "1 if the evidence chain's links checked intact at the last check, 0 if one is "
            "broken (run: sla-monitor evidence check).",
            registry=registry,
        )
        self.evidence_chain_ok.set(1)
        # storage.backup (monitor.daemon.backups).
        self.backup_last_success = Gauge(
            "sla_monitor_backup_last_success_timestamp_seconds",
            "When the newest copy of the database in storage.backup.directory was made (0: "
            "none yet); alert when it is older than twice storage.backup.every.",
            registry=registry)
        self.backup_interval = Gauge(
            "sla_monitor_backup_interval_seconds",
            "storage.backup.every: how old the newest copy may be before the next is made "
            "(0: the daemon makes no copies).",
            registry=registry)
        self.backup_failures = Counter(
            "sla_monitor_backup_failures_total",
            "Copies of the database that failed (the log says why); tried again at the next "
            "look.", registry=registry)
        self.clock_offset = Gauge(
            "sla_monitor_clock_offset_seconds",
            "The wall clock minus the daemon's steady clock: non-zero after the wall clock "
            "stepped while the daemon ran (timestamps stay steady until a restart).",
            registry=registry,
        )
        self.clock_steps = Counter(
            "sla_monitor_clock_steps_total",
            "Steps of the wall clock (more than 1 s) seen while the daemon ran.",
            registry=registry,
        )

    def follow_targets(self, targets: Mapping[str, Target]) -> None:
        """``probe_state``'s ``kind`` label read from ``targets`` (the daemon's dict of them,
        the same dict across reloads) when it is written (:class:`TargetGauge`)."""

        def kind_of(target_id: str) -> str | None:
            target = targets.get(target_id)
            return None if target is None else target.kind

        self.probe_state.label_of = kind_of

    def forget_targets(self, target_ids: Iterable[str]) -> None:
        """The per-target series of ``target_ids`` removed: a reload removed them, or another
        node of a cluster probes them now.

        A stale series is a lie the alerts believe: a removed target that was down, or whose
        certificate had expired, would have kept ``probe_state 0`` or ``certificate_valid 0``
        (CertificateInvalid, grafana/alerts.yml) for as long as the daemon runs."""
        gauges = (self.probe_state, self.probe_last_duration, self.certificate_expiry,
                  self.certificate_warning, self.certificate_valid)
        for target_id in target_ids:
            for gauge in gauges:
                gauge.remove(target_id)

    def result_counter(self, state: str, failure_class: str) -> Any:
        """The ``sla_monitor_probe_results_total`` child of one (state, failure class)."""
        key = (state, failure_class)
        child = self._result_counters.get(key)
        if child is None:
            child = self._result_counters[key] = self.probe_results.labels(state, failure_class)
        return child

    def phase_histogram(self, phase: str) -> Any:
        """The ``sla_monitor_probe_phase_duration_seconds`` child of one phase."""
        child = self._phase_histograms.get(phase)
        if child is None:
            child = self._phase_histograms[phase] = self.probe_phase_duration.labels(phase)
        return child
