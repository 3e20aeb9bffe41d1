"""R-M2 for the monitor's own stall: a probe whose deadline this process noticed late (its
event loop was held up: CPU starvation, a long collection, a blocking call) is not judged.

Each target here is a real server in a thread of its own (``ThreadedTarget``), so that it
answers at once while the test holds the probe's event loop up (``time.sleep``). asyncio then runs the
deadline's timer in the same turn as the answer's socket event, and the deadline wins:
before this rule the healthy target was "down", "TCP connect not finished within the
0.3 s timeout", though its connect took microseconds. Now the result is ``unknown``
and says why; a target that truly does not answer, with the loop free, is still down.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from monitor.probes import ProbeResult, ProbeSessions, build_probe
from monitor.probes.base import late_enough
from monitor.probes.stalls import EVERY, Stalls
from monitor.testing.targets import ThreadedTarget
from tests.support import http_config, says_held_up_for, tcp_config

TIMEOUT = 0.3


async def stalled_check(probe, turns: int, stall: float) -> ProbeResult:  # type: ignore[no-untyped-def]
    """The check, with this event loop held up for ``stall`` seconds after ``turns`` turns
    (the check has started connecting): what a starved monitor process lives through."""
    task = asyncio.create_task(probe.check())
    for _ in range(turns):
        await asyncio.sleep(0)
    time.sleep(stall)  # noqa: ASYNC251 (the point: the loop runs nothing, the server thread answers)
    return await task


# Held up while connecting (1 turn) or awaiting the answer (4 turns; a TCP check is done
# by then: only the connect is checked).
@pytest.mark.parametrize(("kind", "turns"),
                         [("lean", 1), ("full", 1), ("tcp", 1), ("lean", 4), ("full", 4)])
async def test_a_deadline_noticed_late_leaves_a_healthy_target_unknown_not_down(
    kind: str, turns: int
) -> None:
    with ThreadedTarget() as target:
        port = target.port
        async with ProbeSessions(max_concurrency=5) as sessions:
            url = f"http://127.0.0.1:{port}/"
            config = {
                "lean": http_config(url, timeout=f"{TIMEOUT}s"),
                "full": http_config(url, timeout=f"{TIMEOUT}s", body_contains=""),  # aiohttp's
                "tcp": tcp_config("127.0.0.1", port, timeout=f"{TIMEOUT}s"),
            }[kind]
            probe = build_probe("web", config, sessions)
            assert (await probe.check()).state == "up"  # the loop free: it answers in time
            result = await stalled_check(probe, turns, stall=TIMEOUT + 0.2)
    # Noticed 0.2 s after a 0.3 s deadline: more than a tenth of the timeout (R-M2).
    assert result.state == "unknown", result
    assert result.failure_class in ("connect_timeout", "timeout")
    # What the evidence says: why it is not judged (the whole stall, not only how late the
    # deadline was noticed, 0.2 s of it: the loop was held up 0.5 s within the check,
    # counted to the stalls' precision, EVERY), and what the deadline cut.
    assert says_held_up_for(result.detail, TIMEOUT + 0.2), result.detail
    assert "not finished within" in result.detail or "no response headers" in result.detail
    assert result.total is not None and result.total >= TIMEOUT + 0.2


@pytest.mark.parametrize("kind", ["lean", "full"])
async def test_a_target_that_does_not_answer_in_time_is_still_down(kind: str) -> None:
    """The loop free, the deadline is noticed on time: the target's own timeout."""
    with ThreadedTarget(status=None) as target:
        port = target.port
        async with ProbeSessions(max_concurrency=5) as sessions:
            url = f"http://127.0.0.1:{port}/"
            body = {"body_contains": ""} if kind == "full" else {}
            # 1 s: its deadline noticed up to 0.1 s late is still on time (a loaded CI).
            config = http_config(url, timeout="1s", **body)
            result = await build_probe("web", config, sessions).check()
    assert (result.state, result.failure_class) == ("down", "timeout"), result
    assert result.detail == "no response headers within the 1 s timeout"


def test_how_late_is_late_enough_is_a_share_of_the_timeout() -> None:
    # A tenth of the timeout, at least 20 ms: timers fire a few ms late on a busy host.
    assert late_enough(0.031, 0.3) and not late_enough(0.029, 0.3)
    assert late_enough(1.01, 10.0) and not late_enough(0.9, 10.0)
    assert late_enough(0.021, 0.05) and not late_enough(0.019, 0.05)


@pytest.mark.parametrize("kind", ["lean", "full"])
async def test_an_answer_slow_only_by_the_monitors_stall_is_not_judged_too_slow(kind: str) -> None:
    """``max_response_time`` measured on a held-up loop: the answer came at once, the loop
    read it 0.4 s later. Not judged (R-M2); without the stall the same check is up."""
    with ThreadedTarget() as target:
        async with ProbeSessions(max_concurrency=5) as sessions:
            body = {"body_contains": ""} if kind == "full" else {}
            config = http_config(target.url("/"), timeout="2s", max_response_time="0.2s", **body)
            probe = build_probe("web", config, sessions)
            assert (await probe.check()).state == "up"
            stalled = await stalled_check(probe, turns=4, stall=0.4)
    assert (stalled.state, stalled.failure_class) == ("unknown", "too_slow"), stalled
    assert says_held_up_for(stalled.detail, 0.4), stalled.detail
    assert "max_response_time is 0.2 s" in stalled.detail


async def test_the_stalls_are_the_spans_the_loop_was_held_up() -> None:
    stalls = Stalls()
    stalls.start()
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(3 * EVERY)
        before = loop.time()
        time.sleep(0.3)  # noqa: ASYNC251 (the loop held up 0.3 s)
        after = loop.time()
        # Going on (its wake-up is overdue, not run yet): counted up to now, from when the
        # wake-up was due (at most EVERY after ``before``).
        assert 0.3 - EVERY <= stalls.held_up(before, after) <= after - before
        await asyncio.sleep(2 * EVERY)
        now = loop.time()
        kept = stalls.held_up(before, now)  # noted once the loop ran again
        assert 0.3 - EVERY <= kept <= now - before
        assert stalls.held_up(before, before + 0.1) <= 0.1 + 1e-9  # clipped to the span
        assert stalls.held_up(before - 10, before - 9) == 0  # before it: none
    finally:
        stalls.stop()


async def test_a_body_cut_by_the_probes_own_clock_only_because_of_a_stall_is_not_judged() -> None:
    """The body loop checks its deadline on its own clock between chunks (a buffered body
    never makes a read wait). Held up past that deadline while the target had sent its
    whole body at once, the probe found its time up on the next chunk: "down" for a
    healthy target before R-M2 was kept there too; now ``unknown``, saying why."""
    body = b"x" * (8 * 1024 * 1024) + b"END"
    with ThreadedTarget(body=body) as target:
        async with ProbeSessions(max_concurrency=5) as sessions:
            config = http_config(target.url("/"), timeout="1s", body_contains="END",
                                 max_body_bytes=16 * 1024 * 1024)
            probe = build_probe("web", config, sessions)
            assert (await probe.check()).state == "up"  # the loop free: read in time
            task = asyncio.create_task(probe.check())
            for _ in range(10_000):  # until it reads the body: its chunks take the byte budget
                if sessions.body_budget.used:
                    break
                await asyncio.sleep(0)
            assert sessions.body_budget.used and not task.done()
            time.sleep(1.2)  # noqa: ASYNC251 (held up mid-body, past the 1 s deadline)
            result = await task
    assert (result.state, result.failure_class) == ("unknown", "timeout"), result
    # Whichever noticed it (the body loop's own clock between chunks, or the deadline's
    # timer when the body's last bytes were still to be read), the whole stall is said.
    assert says_held_up_for(result.detail, 1.2), result.detail
    assert "response body not complete within the 1 s timeout" in result.detail
