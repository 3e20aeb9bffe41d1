"""A scrape reads the per-target gauges in another thread (``/metrics`` renders in a
worker thread) while the event loop sets them, the first result of each target adding its
series. It must read a copy taken at once, never a dict that grows under it: a scrape
that copied item by item could be interrupted mid-way (a thread switch in the daemon; here,
deterministically, a garbage collection running finalizers that set new series) and failed
with "dictionary changed size during iteration", an HTTP 500 for ``/metrics`` (seen once by
the probe benchmark scraping 40,000 targets while their first results came in)."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from monitor.daemon.metrics import TargetGauge


def test_a_scrape_reads_the_series_while_new_ones_are_set() -> None:
    registry = CollectorRegistry()
    gauge = TargetGauge("sla_monitor_probe_state", "Latest probe result.", ["target"], registry)
    for n in range(2_000):
        gauge.set(f"t{n}", 1.0)
    added: list[str] = []

    class Finalized:
        """Garbage in a cycle whose finalizer sets a new target's series, then leaves the
        next such garbage for the next collection (50 in all)."""

        def __init__(self) -> None:
            self.cycle = self

        def __del__(self) -> None:
            if len(added) < 50:
                added.append(f"new{len(added)}")
                gauge.set(added[-1], 1.0)
                Finalized()

    threshold = gc.get_threshold()
    gc.collect()
    try:
        gc.set_threshold(1)  # a collection at nearly every allocation, as under a scrape's
        Finalized()
        samples = [sample.labels["target"] for family in gauge.collect()
                   for sample in family.samples]
    finally:
        gc.set_threshold(*threshold)
        gc.collect()
    assert len(added) == 50  # the series did change while the scrape ran
    assert samples[:2_000] == [f"t{n}" for n in range(2_000)]  # all there, in order
    assert set(samples[2_000:]) <= set(added)
