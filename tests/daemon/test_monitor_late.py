"""The daemon's side of R-M2 for its own stall: a probe it could not judge (its deadline
noticed late, :func:`monitor.probes.base.late_enough`) is evidence, not a result.

The daemon runs in this test's event loop, its one target in a thread of its own
(``ThreadedTarget``) answering 503 at once. Probes are run as the scheduler runs them
(``Watch.run_probe``), one of them while the test holds the loop up past its deadline.
The unjudged probe is kept in the history as ``unknown`` with why, and neither counts as
a failure nor breaks the streak of failures around it: two judged failures still open
the incident (``fail_after: 2``), from the first one (R-M1).
"""

from __future__ import annotations

import asyncio
import time

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import Incident, ProbeFailure
from monitor.testing.targets import ThreadedTarget
from tests.support import MONITOR, eventually, rows, says_held_up_for

TIMEOUT = 0.3


def config(url: str, db_url: str) -> str:
    # The test runs the probes; the schedule is emptied once started (see the test).
    return f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{url}", interval: 300s, timeout: {TIMEOUT}s,
             fail_after: 2, recover_after: 1}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


async def test_an_unjudged_probe_is_evidence_and_breaks_no_streak(sqlite_url: str) -> None:
    with ThreadedTarget(status=200) as target:
        daemon = Daemon(parse_config(config(target.url("/"), sqlite_url)))
        await daemon.start()
        # The test runs every probe: none at the interval's wall-clock multiples, which a
        # run that crossed one got as a fourth result (reproduced with ``faketime -f
        # "@2026-12-07 12:24:57"``: the list of evidence had one more failure).
        daemon.schedule.set_targets(())
        engine = create_engine(sqlite_url)
        try:
            watch = daemon.watch
            await watch.run_probe("panel")  # up
            target.status = 503
            await watch.run_probe("panel")  # the first failure: the streak's start (R-M1)
            failed_at = watch.last_probed["panel"]
            stalled = asyncio.create_task(watch.run_probe("panel"))
            await asyncio.sleep(0)  # it has started connecting
            time.sleep(TIMEOUT + 0.2)  # noqa: ASYNC251 (this process held up: a starved monitor)
            await stalled
            await daemon.flush()
            assert await rows(engine, Incident) == []  # one failure judged so far
            await watch.run_probe("panel")  # the second judged failure
            opened = await eventually(lambda: rows(engine, Incident))
            assert [(i.service_id, i.start) for i in opened] == [("panel", failed_at)]
            await daemon.flush()
            evidence = await rows(engine, ProbeFailure, ProbeFailure.target_id == "panel")
            assert [(f.state, f.failure_class) for f in evidence] == [
                ("down", "http_status"), ("unknown", "connect_timeout"), ("down", "http_status")]
            # The whole stall (from the stalls' timer, to its precision), said as evidence.
            assert says_held_up_for(evidence[1].detail, TIMEOUT + 0.2), evidence[1].detail
        finally:
            await daemon.stop()
            await engine.dispose()
