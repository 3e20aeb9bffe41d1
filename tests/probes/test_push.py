"""Push targets' checks (monitor.probes.push): the book's last push, read at each check.

Times are worked out by hand: a probe of ``interval`` 60 s and ``timeout`` 10 s takes a push
up to 70 s old; the watch begins when the check is built.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from monitor.actions.push_book import Push
from monitor.clock import FakeClock
from monitor.config.schema import PushProbe
from monitor.probes import ProbeSessions, build_certificate_check, build_probe
from monitor.probes.push import PushCheck

START = dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC)  # a month's last hour
PROBE = PushProbe(type="push", interval=60, timeout=10)


async def _check(clock: FakeClock, sessions: ProbeSessions) -> PushCheck:
    probe = build_probe("backup", PROBE, sessions)
    assert isinstance(probe, PushCheck)
    return probe


async def test_up_while_the_job_pushes_and_timeout_when_it_stops() -> None:
    clock = FakeClock(START)
    async with ProbeSessions(4, clock=clock) as sessions:
        check = await _check(clock, sessions)
        sessions.pushes.record("backup", Push(clock.now(), True, "ok"))
        clock.advance(70)  # the push is 70 s old: interval 60 + timeout 10, still in time
        result = await check.check()
        assert (result.state, result.failure_class, result.at) == ("up", None, clock.now())
        assert result.total is None  # nothing was asked: no response time to record
        clock.advance(1)  # 71 s: missing
        result = await check.check()
        assert (result.state, result.failure_class, result.total) == ("down", "timeout", None)
        assert result.detail == ("no push for 1 min 11 s (the last at 2026-12-31 23:00:00 UTC; "
                                 "one is due every 1 min, at most 10 s late)")
        sessions.pushes.record("backup", Push(clock.now(), True))
        assert (await check.check()).state == "up"


async def test_a_push_that_says_down_is_a_condition_failure_with_its_message() -> None:
    clock = FakeClock(START)
    async with ProbeSessions(4, clock=clock) as sessions:
        check = await _check(clock, sessions)
        sessions.pushes.record("backup", Push(clock.now(), False, "disk  full\non /var"))
        result = await check.check()
        assert (result.state, result.failure_class) == ("down", "condition")
        assert result.detail == "the job pushed down: disk full on /var"  # one line
        sessions.pushes.record("backup", Push(clock.now(), False))
        assert (await check.check()).detail == "the job pushed down (no message)"
        # The last push counts: up again, then up.
        sessions.pushes.record("backup", Push(clock.now(), True))
        assert (await check.check()).state == "up"


async def test_no_push_yet_is_unknown_until_the_target_was_watched_a_whole_interval() -> None:
    # Started (or added by a reload) 70 s ago at most: a push made before this monitor
    # watched was never seen, so its absence says nothing (R-M3), not down.
    clock = FakeClock(START)
    async with ProbeSessions(4, clock=clock) as sessions:
        check = await _check(clock, sessions)
        clock.advance(69)
        result = await check.check()
        assert (result.state, result.failure_class) == ("unknown", "timeout")
        assert result.detail.startswith("not judged: this monitor has watched for only 1 min "
                                        "9 s: no push since this monitor began watching")
        clock.advance(2)  # 71 s watched
        result = await check.check()
        assert (result.state, result.failure_class) == ("down", "timeout")
        assert result.detail == ("no push since this monitor began watching at 2026-12-31 "
                                 "23:00:00 UTC (one is due every 1 min, at most 10 s late)")
        # A push from before the watch began (read from the store after a restart) that is
        # 71 s old: the daemon was not watching all that time, so not judged yet...
        clock.advance(1000)
        sessions.pushes.merge("other", Push(clock.now() - dt.timedelta(seconds=71), True))
        other = build_probe("other", PROBE, sessions)
        result = await other.check()
        assert (result.state, result.failure_class) == ("unknown", "timeout")
        assert result.detail.startswith("not judged: this monitor has watched for only 0 s: "
                                        "no push for 1 min 11 s")
        clock.advance(71)  # ... until it was watched 71 s: now down
        assert (await other.check()).state == "down"
        # A check built again (a reload that changed the probe) keeps the watch's start.
        rebuilt = build_probe("backup", PushProbe(type="push", interval=30, timeout=5), sessions)
        assert (await rebuilt.check()).state == "down"


async def test_a_missing_push_found_while_this_process_was_held_up_is_not_judged() -> None:
    # R-M2: held up at the check, this process may not have read a push that came in time.
    async with ProbeSessions(4) as sessions:
        sessions.pushes.watch("backup", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10))
        check = build_probe("backup", PushProbe(type="push", interval=1, timeout=0.5), sessions)
        sessions.pushes.record("backup", Push(dt.datetime.now(dt.UTC)
                                              - dt.timedelta(seconds=5), True))
        assert (await check.check()).state == "down"
        await asyncio.sleep(0.1)  # the stall watch runs
        time.sleep(0.3)  # noqa: ASYNC251 (the loop held up: 0.3 s of the last 0.5 s)
        result = await check.check()
        assert (result.state, result.failure_class) == ("unknown", "timeout")
        assert result.detail.startswith("not judged: this monitor's own process was held up")


async def test_the_book_forgets_removed_targets_and_a_push_target_has_no_certificate() -> None:
    clock = FakeClock(START)
    async with ProbeSessions(4, clock=clock) as sessions:
        await _check(clock, sessions)
        sessions.pushes.record("backup", Push(clock.now(), True))
        sessions.pushes.keep_only({"other"})
        assert sessions.pushes.last("backup") is None
        assert sessions.pushes.watched_since("backup") is None
        assert build_certificate_check("backup", PROBE, sessions) is None


@pytest.mark.parametrize(("field", "value"), [("interval", 10), ("timeout", 60)])
def test_the_interval_must_exceed_the_timeout(field: str, value: float) -> None:
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    probe = {"type": "push", "interval": 30, "timeout": 20, field: value}
    text = ("services:\n  - {id: backup, kind: web_panel, probe: "
            + str(probe).replace("'", "") + "}\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert "services[0].probe" in str(caught.value)


def test_check_config_refuses_a_pushed_canary_and_takes_push_in_a_cluster() -> None:
    from monitor.config import parse_config
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config("monitor: {canaries: [{id: ref, probe: {type: push}}]}\n")
    assert "monitor.canaries[0].probe.type: a canary is probed from here" in str(caught.value)
    # Every node judges by the same last push, read from the store (monitor.actions.pushes).
    parsed = parse_config("services:\n  - {id: backup, kind: web_panel, probe: {type: push}}\n"
                          "storage: {url: 'postgresql+asyncpg://u@h/db'}\ncluster: {}\n")
    assert parsed.services[0].probe.type == "push"
