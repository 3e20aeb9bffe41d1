"""R-M8 in the database: three vantages (one node each, in-process) vote on one target
against the real PostgreSQL, with the instants of each streak made by hand. The incident a
quorum of 2 opens starts at the break, never at a vantage's older streak; it ends when
fewer than two still fail; the vantage cut off alone keeps its problem open throughout."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.schema import ClusterSettings
from monitor.daemon.cluster import Cluster, vote
from monitor.store import Database
from monitor.store.models import Incident, IncidentVantage, VantageProblem
from tests.support import rows

BASE = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def s(second: float) -> dt.datetime:
    return BASE + dt.timedelta(seconds=second)


async def _vote(db: Database, node: Cluster, state: str, since: float,
                bound: float | None) -> int | None:
    async with db.transaction() as tx:
        incident_id, written = await vote(node, tx, "panel", state, s(since),
                                          None if bound is None else s(bound), s(since), s(since),
                                          epoch=node.holds("panel"))
    assert written
    return incident_id


async def _problems(db: Database) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    return sorted((p.vantage, p.start, p.end) for p in await rows(db, VantageProblem))


@pytest.mark.slow
async def test_r_m8_votes_open_at_the_break_and_keep_the_cut_off_vantages_problem(
    pg_url: str,
) -> None:
    db = Database.open(pg_url)
    await db.upgrade()
    try:
        nodes = {}
        for vantage in "xyz":
            nodes[vantage] = Cluster(
                ClusterSettings(node=f"node-{vantage}", vantage=vantage,
                                vantages=["x", "y", "z"], lease_timeout=60.0),
                db, CollectorRegistry())
            nodes[vantage].set_targets({"panel": 2.0})
            await nodes[vantage].start()
        x, y, z = nodes["x"], nodes["y"], nodes["z"]
        assert x.quorum == 2
        # z is cut off from :00 (last success -:02): alone, its vantage problem.
        assert await _vote(db, z, "down", 0, -2) is None
        assert await _problems(db) == [("z", s(0), None)]
        # The target breaks at :26: x fails from :27 (last success :25) and votes first;
        # with z that is two failing together, a quorum of 2 from x's :27.
        opened = await _vote(db, x, "down", 27, 25)
        assert opened is not None
        [incident] = await rows(db, Incident)
        assert (incident.start, incident.start_bound) == (s(27), s(25))  # never z's :00
        # y fails from :26 (last success :24): a confirmation of the open incident.
        assert await _vote(db, y, "down", 26, 24) is None
        assert sorted(c.vantage for c in await rows(db, IncidentVantage)) == ["x", "y", "z"]
        # z failed alone from :00 (before x's last success :25): its problem stays open.
        assert await _problems(db) == [("z", s(0), None)]
        # Repaired: x sees it up at :40 (last failure :39); y and z still fail: still down.
        assert await _vote(db, x, "up", 40, 39) is None
        # y goes blind at :41 (R-M2): only z fails now, the incident ends at :41.
        assert await _vote(db, y, "unknown", 41, None) == opened
        [incident] = await rows(db, Incident)
        assert (incident.end, incident.end_bound) == (s(41), None)
        # z sees it up at :90: its problem ends there, never deleted.
        assert await _vote(db, z, "up", 90, 88) is None
        assert await _problems(db) == [("z", s(0), s(90))]
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_r_m8_a_vantage_still_failing_at_the_end_has_a_problem_only_if_it_saw_failures(
    pg_url: str,
) -> None:
    db = Database.open(pg_url)
    await db.upgrade()
    try:
        nodes = []
        for vantage in "xy":
            node = Cluster(ClusterSettings(node=f"node-{vantage}", vantage=vantage,
                                           vantages=["x", "y"], lease_timeout=60.0),
                           db, CollectorRegistry())
            node.set_targets({"panel": 2.0})
            await node.start()
            nodes.append(node)
        x, y = nodes
        # Both fail from about :10 (x first by a second, after y's last success :09): one
        # incident from y's :11, and x's wait for the quorum was no problem of its own.
        assert await _vote(db, x, "down", 10, 8) is None
        assert await _problems(db) == [("x", s(10), None)]
        opened = await _vote(db, y, "down", 11, 9)
        assert opened is not None and await _problems(db) == []
        # x sees it up at :30: fewer than 2 fail, the incident ends at :30 (bound :28). y
        # still fails alone from :30: a problem, until y's up at :31 shows its last
        # failure (:29) came before :30: it saw no failure alone, no problem after all.
        assert await _vote(db, x, "up", 30, 28) == opened
        [incident] = await rows(db, Incident)
        assert (incident.start, incident.end, incident.end_bound) == (s(11), s(30), s(28))
        assert await _problems(db) == [("y", s(30), None)]
        assert await _vote(db, y, "up", 31, 29) is None
        assert await _problems(db) == []
        # Later x fails from :50 and y only from :60 while x still fails at :59: x failed
        # alone for ten seconds, its problem stays open and then ends at its up at :80.
        assert await _vote(db, x, "down", 50, 48) is None
        second = await _vote(db, y, "down", 60, 59)
        assert second is not None and second != opened
        assert await _problems(db) == [("x", s(50), None)]
        assert await _vote(db, y, "up", 70, 69) == second
        assert await _vote(db, x, "up", 80, 79) is None
        assert await _problems(db) == [("x", s(50), s(80))]
    finally:
        await db.dispose()
