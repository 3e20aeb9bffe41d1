"""One reload protocol (:mod:`monitor.daemon.runtime`): every part that a reload changes
answers ``prepare(settings) -> plan`` (builds, may refuse, touches nothing that runs) and
``apply(plan)`` (cannot fail); the runtime's plan is exactly their plans."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from monitor.config import Settings, parse_config
from monitor.daemon.resolver import ProbeResolver
from monitor.daemon.runtime import Plan, build_runtime
from monitor.probes import ProbeSessions
from tests.support import FAST, MONITOR


def settings(tmp_path: Path, extra: str = "") -> Settings:
    return Settings.from_config(parse_config(f"""
monitor: {MONITOR.removeprefix("monitor: ").rstrip("}")}{extra}}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "http://shop.test:9/", {FAST}}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "sqlite+aiosqlite:///{tmp_path / 'm.db'}"}}
"""))


async def test_every_plan_is_a_parts_plan(tmp_path: Path) -> None:
    runtime = build_runtime(settings(tmp_path))  # built only: nothing started
    try:
        parts = [f.name for f in dataclasses.fields(Plan) if f.name != "settings"]
        assert parts == ["watch", "notifier", "ownership", "resolver", "edge", "jobs",
                         "sla_metrics"]
        for name in parts:
            part = getattr(runtime, name)
            assert callable(part.prepare) and callable(part.apply), name
            assert list(inspect.signature(part.prepare).parameters) == ["settings"], name
            required = [p for p in inspect.signature(part.apply).parameters.values()
                        if p.default is inspect.Parameter.empty]
            assert len(required) == 1, name  # apply(plan)
    finally:
        await runtime.db.dispose()


async def test_the_resolver_is_rebuilt_only_when_its_name_servers_change(
    tmp_path: Path,
) -> None:
    old, same = settings(tmp_path), settings(tmp_path, ", resolver: {canary: shop.test}")
    new = settings(tmp_path, ', resolver: {nameservers: ["127.0.0.1:5353"]}')
    async with ProbeSessions(4, resolver=old.monitor.resolver) as sessions:
        resolver = ProbeResolver(sessions, old.monitor.resolver)
        in_use = sessions.resolver.inner
        kept = resolver.prepare(same)
        assert kept.resolver is None
        resolver.apply(kept)
        assert sessions.resolver.inner is in_use
        plan = resolver.prepare(new)
        assert plan.resolver is not None and sessions.resolver.inner is in_use  # prepared only
        resolver.apply(plan)
        assert sessions.resolver.inner is plan.resolver
        assert resolver.prepare(new).resolver is None  # in force now: nothing to rebuild
