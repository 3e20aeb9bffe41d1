"""``/metrics`` writes the per-target gauges straight from their dicts
(:func:`monitor.daemon.metrics.exposition`): the same bytes as ``generate_latest``, whatever
a label holds and whatever the value, for every family of the daemon's registry."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest

from monitor.config.topology import Target
from monitor.daemon.metrics import STATE_VALUE, DaemonMetrics, exposition

ODD = ['plain', 'quote"d', "back\\slash", "new\nline", "سرویس", "tab\there", "", "}{,=",
       "trailing\\"]
VALUES = [1.0, 0.0, -0.0, -1.0, 0.0123, 1e-9, 1234567.0, 12345678.9, 1e21, -2.5e17,
          math.inf, -math.inf, math.nan]


def test_the_exposition_is_generate_latests_text_byte_for_byte() -> None:
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    targets: dict[str, Target] = {}
    metrics.follow_targets(targets)  # probe_state's kind: the target's own
    for n, (label, value) in enumerate(
            (label, value) for label in ODD for value in VALUES):
        target = f"{label}-{n}"
        targets[target] = Target(target, "project" if n % 2 else label, None)  # type: ignore[arg-type]
        metrics.probe_state.set(target, value)
        metrics.probe_last_duration.set(target, value)
        if n % 3 == 0:
            metrics.certificate_expiry.set(target, value)
    for state in STATE_VALUE:  # the families of other kinds, with their samples
        metrics.probe_results.labels(state, "none").inc()
    metrics.probe_phase_duration.labels("total").observe(0.02)
    written = exposition(registry)
    assert written == generate_latest(registry)
    assert written.count(b"\nsla_monitor_probe_state{") == len(ODD) * len(VALUES)
    assert b'kind="project",target="quote\\"d-' in written  # label names in order, escaped
    assert b'target="new\\nline-' in written and b"+Inf\n" in written and b"NaN\n" in written
    # A target gone from the targets has no probe_state series (its others stay until
    # DaemonMetrics.forget_targets removes them).
    assert b'sla_monitor_probe_state{kind="project",target="plain-1"} 0.0' in written
    del targets["plain-1"]
    assert exposition(registry) == generate_latest(registry)
    assert b'sla_monitor_probe_state{kind="project",target="plain-1"}' not in exposition(registry)


def test_an_empty_registry_and_an_unset_gauge_are_written_as_generate_latest_does() -> None:
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    assert exposition(registry) == generate_latest(registry)
    assert exposition(CollectorRegistry()) == b""


def test_a_detection_within_seconds_is_told_apart_from_one_within_half_a_minute() -> None:
    # The lowest bucket was 30 s: two incidents detected in 2 s each read as p50 15 s and
    # p99 29.7 s on the dashboard (histogram_quantile interpolates inside a bucket).
    from prometheus_client import CollectorRegistry

    from monitor.daemon.metrics import DaemonMetrics

    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    for seconds in (2.0, 2.0, 95.0):  # fast probes; a 30 s interval x 3 failures + 5 s
        metrics.detection_latency.observe(seconds)
    bucket = "sla_monitor_detection_latency_seconds_bucket"
    assert registry.get_sample_value(bucket, {"le": "2.0"}) == 2
    assert registry.get_sample_value(bucket, {"le": "60.0"}) == 2
    assert registry.get_sample_value(bucket, {"le": "120.0"}) == 3
