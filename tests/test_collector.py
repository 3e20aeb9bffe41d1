"""The garbage collector paused while a month's report is read, computed or parsed
(:mod:`monitor.collector`): paused while any holder holds it, in any
thread, and then as it was before the first; an error inside resumes it too."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from monitor.collector import bulk_cache, paused


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_while_held_nested_and_resumed_after(collector: None) -> None:
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer holder still holds it
    assert gc.isenabled()


def test_an_error_inside_resumes_it(collector: None) -> None:
    with pytest.raises(ValueError), paused():
        raise ValueError("a step that failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled(collector: None) -> None:
    gc.disable()
    with paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_holders_in_two_threads_resume_it_when_the_last_leaves(collector: None) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with paused():
            entered.set()
            release.wait(10)

    other = threading.Thread(target=hold)
    other.start()
    assert entered.wait(10)
    with paused():
        pass
    assert not gc.isenabled()  # the other thread still holds it
    release.set()
    other.join(10)
    assert gc.isenabled()


def test_what_lived_before_is_set_aside_and_the_work_s_cycles_collected_after(
        collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collection that gives the bulk work's memory back walks what the work made, not
    every object of the process (frozen meanwhile, back in the collector's care after, even
    if the work failed); a cycle the work left is collected then, one from before later."""
    import weakref

    import monitor.collector

    monkeypatch.setattr(monitor.collector, "GIVE_BACK", 0)  # give back however little grew

    class Node:
        other: object = None

    def cycle() -> weakref.ref[Node]:
        first, second = Node(), Node()
        first.other, second.other = second, first
        return weakref.ref(first)

    gc.collect()
    before = cycle()
    assert gc.get_freeze_count() == 0
    with paused():
        assert gc.get_freeze_count() > 0  # the process's objects, the cycle from before among them
        made = cycle()
    assert gc.get_freeze_count() == 0
    assert made() is None  # collected as the work ended
    assert before() is not None  # frozen then: left for the collector's next pass
    gc.collect()
    assert before() is None
    with pytest.raises(ValueError), paused():
        raise ValueError("a step that failed")
    assert gc.get_freeze_count() == 0


def test_bulk_caches_last_while_the_bulk_work_does(collector: None) -> None:
    """A bulk cache (a month's instants) keeps its results while any holder holds the pause,
    and is emptied when the last leaves: its entries, made among a month's records, would
    keep the memory those records used from being given back."""
    computed: list[int] = []

    @bulk_cache
    def doubled(number: int) -> int:
        computed.append(number)
        return 2 * number

    with paused():
        assert doubled(21) == 42
        with paused():
            assert doubled(21) == 42
        assert doubled(21) == 42
        assert computed == [21]
    assert doubled(21) == 42
    assert computed == [21, 21]


def test_a_configuration_is_read_with_the_collector_paused(
        collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configuration of 10,000 customers (3.4 MB of YAML) took 8-10 s to read, at every
    command, start and reload: the YAML nodes, then the values built from them, are a
    million small objects that live until the reading ends, which the collector walked
    again and again as they piled up (measured: 9.7 s, 1.6 s with it paused;
    benchmarks/HISTORY.md). The collector is paused while the YAML is composed and while the
    settings' topology is built from it (an automatic collection cannot run then)."""
    from monitor.config import Settings, parse_config
    from monitor.config.loader import _Loader
    from monitor.config.topology import Topology

    enabled: dict[str, bool] = {}
    compose, build = _Loader.get_single_node, Topology.from_config

    def composed(loader: _Loader) -> object:
        enabled["composing the YAML"] = gc.isenabled()
        return compose(loader)

    def built(config: object) -> object:
        enabled["building the topology"] = gc.isenabled()
        return build(config)  # type: ignore[arg-type]

    monkeypatch.setattr(_Loader, "get_single_node", composed)
    monkeypatch.setattr(Topology, "from_config", staticmethod(built))
    settings = Settings.from_config(parse_config(
        "servers:\n  - {id: srv-1, probe: {type: tcp, host: 10.0.0.1, port: 22}}\n"))
    assert "srv-1" in settings.topology.servers
    assert enabled == {"composing the YAML": False, "building the topology": False}
    assert gc.isenabled()  # and resumed after
