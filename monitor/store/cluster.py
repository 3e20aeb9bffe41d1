"""The cluster's tables: nodes, leases, vantage views and problems; PostgreSQL only.

The only writer of ``cluster_nodes``, ``cluster_leases``, ``vantage_views``,
``incident_vantages`` and ``vantage_problems``. Every time here is the **database's
clock** (``now()``, the transaction's start): nodes on several hosts compare leases
against one clock, so a node whose own clock is wrong cannot keep a lease alive.

Leases (``probe/VANTAGE/TARGET``, ``leader``) are taken with ``SELECT ... FOR UPDATE
SKIP LOCKED``: two nodes taking at once never wait on each other, and each row goes to
one. Taking a lease from another holder (free, released or expired) adds one to its
``epoch``, the **fencing token**: every write a holder makes for a lease is checked,
in the same transaction, against the row (:func:`fenced`: holder, epoch, not
expired, ``FOR SHARE`` so that no take-over commits between the check and the write).
A node that was paused past its lease finds the row moved on and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from monitor.store.db import Tx, in_chunks
from monitor.store.models import (
    ClusterLease,
    ClusterNode,
    IncidentVantage,
    VantageProblem,
    VantageView,
)

__all__ = [
    "LEADER",
    "NODE_STATES",
    "Held",
    "NodeRow",
    "Taken",
    "ViewRow",
    "acquire",
    "add_confirmations",
    "blocked",
    "confirmation_streaks",
    "confirmations",
    "end_outlived_sessions",
    "end_problem",
    "ensure_leases",
    "ensure_named",
    "fenced",
    "forget_incarnation",
    "held",
    "lock_target",
    "nodes",
    "open_problem",
    "open_problem_start",
    "open_problems",
    "probe_lease",
    "register",
    "release",
    "renew",
    "retire",
    "see",
    "session_name",
    "set_view",
    "stop",
    "views",
    "views_of",
    "withdraw_problems",
]

LEADER = "leader"


def probe_lease(vantage: str, target_id: str) -> str:
    """The lease name of probing ``target_id`` from ``vantage``."""
    return f"probe/{vantage}/{target_id}"


def _later(seconds: float) -> object:
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, literal(float(seconds)))


# --- nodes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    vantage: str
    started_at: dt.datetime
    last_seen_at: dt.datetime
    stopped_at: dt.datetime | None
    alive: bool
    config_digest: str | None = None  # None: a node that did not say
    host: str = ""
    version: str = ""
    #: ``alive`` (running, seen within the lease timeout), ``stopped`` (stopped cleanly, or
    #: retired: :func:`retire`) or ``lost`` (neither: killed, frozen or cut off).
    state: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", "alive" if self.alive else
                           "lost" if self.stopped_at is None else "stopped")


#: A node's states, as :attr:`NodeRow.state` names them.
NODE_STATES = ("alive", "lost", "stopped")


async def register(
    tx: Tx, *, node: str, vantage: str, host: str, pid: int, version: str,
    config_digest: str | None = None,
) -> int:
    """This node starts (again): its row, one incarnation more; returns the incarnation."""
    values = pg_insert(ClusterNode).values(
        name=node, vantage=vantage, incarnation=1, host=host, pid=pid, version=version,
        started_at=func.now(), last_seen_at=func.now(), stopped_at=None,
        config_digest=config_digest,
    )
    statement = values.on_conflict_do_update(
        index_elements=[ClusterNode.name],
        set_={
            "vantage": vantage, "host": host, "pid": pid, "version": version,
            "incarnation": ClusterNode.incarnation + 1,
            "started_at": func.now(), "last_seen_at": func.now(), "stopped_at": None,
            "config_digest": config_digest,
        },
    ).returning(ClusterNode.incarnation)
    return int((await tx.execute(statement)).scalar_one())


async def forget_incarnation(tx: Tx, node: str) -> None:
    """The leases a previous run of ``node`` held are free again (their ``renewed_at`` kept:
    the gap since is unknown time); the new run takes them anew, at a new epoch."""
    await tx.execute(update(ClusterLease).where(ClusterLease.node == node).values(node=None))


async def see(tx: Tx, node: str, config_digest: str | None = None) -> None:
    """The node's heartbeat: seen now, running the configuration of ``config_digest``
    (changed by a reload). A node retired while it was frozen (:func:`retire`) that
    resumes is alive again: retired, its ``stopped_at`` is after its last sighting. A
    clean stop (:func:`stop`) sets both at one instant, so that a cycle of the node that
    finishes after it (one outliving the stop's grace) leaves it stopped."""
    await tx.execute(
        update(ClusterNode).where(ClusterNode.name == node)
        .values(last_seen_at=func.now(), config_digest=config_digest,
                stopped_at=case((ClusterNode.stopped_at > ClusterNode.last_seen_at, None),
                                else_=ClusterNode.stopped_at))
    )


async def stop(tx: Tx, node: str) -> None:
    """A clean stop: the node is gone at once (its leases were released)."""
    await tx.execute(
        update(ClusterNode)
        .where(ClusterNode.name == node)
        .values(stopped_at=func.now(), last_seen_at=func.now())
    )


async def nodes(tx: Tx, lease_for: float) -> list[NodeRow]:
    """Every node ever registered, with whether it is alive: running and seen within
    ``lease_for`` seconds."""
    alive = and_(ClusterNode.stopped_at.is_(None), _seen_within(lease_for))
    rows = await tx.execute(
        select(
            ClusterNode.name, ClusterNode.vantage, ClusterNode.started_at,
            ClusterNode.last_seen_at, ClusterNode.stopped_at, alive, ClusterNode.config_digest,
            ClusterNode.host, ClusterNode.version,
        ).order_by(ClusterNode.name)
    )
    return [NodeRow(n, v, s, seen, stopped, bool(ok), digest, host, version)
            for n, v, s, seen, stopped, ok, digest, host, version in rows]


def _seen_within(lease_for: float) -> ColumnElement[bool]:
    """A node was seen within ``lease_for`` seconds (the database's clock): running, alive."""
    return ClusterNode.last_seen_at > _later(-lease_for)


async def retire(tx: Tx, node: str, lease_for: float) -> bool:
    """Mark a lost node stopped, as its clean stop would have, its ``last_seen_at`` kept
    (so ``stopped_at`` comes after it: :func:`see` tells a retired node from one stopped
    cleanly by that): the operator's word that it will not return. Only a lost one: False
    when ``node`` is alive (seen within ``lease_for`` seconds), already stopped or unknown,
    and nothing changes. Its leases are expired already; the others took them."""
    result = await tx.execute(
        update(ClusterNode)
        .where(ClusterNode.name == node, ClusterNode.stopped_at.is_(None),
               not_(_seen_within(lease_for)))
        .values(stopped_at=func.now())
        .returning(ClusterNode.name)
    )
    return result.first() is not None


# --- leases ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taken:
    """A lease this node just took: its new epoch, and who held it before until when."""

    name: str
    target_id: str | None
    epoch: int
    previous_node: str | None
    previous_renewed_at: dt.datetime | None
    at: dt.datetime  # the database's now


Held = dict[str, int]  # lease name -> epoch


async def ensure_leases(tx: Tx, vantage: str, target_ids: Iterable[str]) -> None:
    """A free lease row for every target of ``vantage`` that has none yet."""
    rows = [
        {"name": probe_lease(vantage, t), "vantage": vantage, "target_id": t, "epoch": 0}
        for t in target_ids
    ]
    for start in range(0, len(rows), 1000):
        await tx.execute(
            pg_insert(ClusterLease).values(rows[start : start + 1000]).on_conflict_do_nothing()
        )


async def renew(tx: Tx, node: str, lease_for: float, names: Collection[str] | None = None) -> Held:
    """Every lease ``node`` holds (or those of ``names``), renewed for ``lease_for`` seconds.
    One that ran out but that nobody took stays this node's, at the same epoch."""
    statement = (
        update(ClusterLease)
        .where(ClusterLease.node == node)
        .values(expires_at=_later(lease_for), renewed_at=func.now())
        .returning(ClusterLease.name, ClusterLease.epoch)
    )
    if names is not None:
        statement = statement.where(ClusterLease.name.in_(list(names)))
    return {name: int(epoch) for name, epoch in await tx.execute(statement)}


async def release(tx: Tx, node: str, names: Collection[str]) -> None:
    """Hand leases back at once (a rebalance, a clean stop): free for the next taker."""
    if not names:
        return
    await tx.execute(
        update(ClusterLease)
        .where(ClusterLease.node == node, ClusterLease.name.in_(list(names)))
        .values(node=None, expires_at=func.now(), renewed_at=func.now())
    )


async def acquire(
    tx: Tx,
    node: str,
    lease_for: float,
    *,
    vantage: str | None,
    limit: int,
    names: Collection[str] | None = None,
    wait: float | None = None,
) -> list[Taken]:
    """Take up to ``limit`` free or expired leases (of ``vantage``'s targets, or of ``names``)
    with ``FOR UPDATE SKIP LOCKED``; each gets a new epoch (the fencing token).

    With ``wait`` (seconds), rows another session holds locked are waited for instead of
    skipped, at most that long (``lock_timeout``, in a savepoint): taken as soon as the lock
    is gone, else nothing (no error; the transaction goes on)."""
    if limit <= 0:
        return []
    query = _free(node, vantage).add_columns(
        ClusterLease.target_id, ClusterLease.epoch, ClusterLease.node, ClusterLease.renewed_at,
        func.now(),
    )
    if names is not None:
        query = query.where(ClusterLease.name.in_(list(names)))
    query = query.order_by(ClusterLease.name).limit(limit)
    if wait is None:
        found = list(await tx.execute(query.with_for_update(skip_locked=True)))
    else:
        try:
            async with tx.begin_nested():
                await tx.execute(text(f"SET LOCAL lock_timeout = {max(1, round(wait * 1000))}"))
                found = list(await tx.execute(query.with_for_update()))
        except DBAPIError as exc:
            if _sqlstate(exc) != LOCK_NOT_AVAILABLE:
                raise
            return []
    if not found:
        return []
    await tx.execute(
        update(ClusterLease)
        .where(ClusterLease.name.in_([row[0] for row in found]))
        .values(node=node, epoch=ClusterLease.epoch + 1, expires_at=_later(lease_for),
                renewed_at=func.now())
    )
    return [
        Taken(name, target_id, int(epoch) + 1, previous, renewed_at, now.astimezone(dt.UTC))
        for name, target_id, epoch, previous, renewed_at, now in found
    ]


LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout ran out


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _free(node: str, vantage: str | None) -> Select[Any]:
    """The names of the free or expired leases (of ``vantage``) not held by ``node``."""
    query = select(ClusterLease.name).where(
        or_(ClusterLease.node.is_(None), ClusterLease.expires_at <= func.now()),
        or_(ClusterLease.node.is_(None), ClusterLease.node != node),
    )
    if vantage is not None:
        query = query.where(ClusterLease.vantage == vantage)
    return query


async def blocked(tx: Tx, node: str, vantage: str) -> int:
    """How many of ``vantage``'s free or expired leases are still not ``node``'s after it
    took what it could: rows another session holds locked (a frozen node inside a
    transaction), which ``SKIP LOCKED`` skipped. Read without locking."""
    found = await tx.scalar(select(func.count()).select_from(_free(node, vantage).subquery()))
    return int(found or 0)


def session_name(node: str) -> str:
    """The name every database session of cluster node ``node`` carries
    (``application_name``, as PostgreSQL keeps it: at most 63 characters here)."""
    return f"sla-monitor {node}"[:63]


INSUFFICIENT_PRIVILEGE = "42501"


async def end_outlived_sessions(
    tx: Tx, nodes: Collection[str], outlived: float
) -> list[tuple[str, int]] | None:
    """End the database sessions of ``nodes`` (nodes the cluster has lost: not seen for a
    lease timeout, not stopped) that have been inside one transaction longer than
    ``outlived`` seconds (the limits their sessions were given,
    monitor.store.db.SessionLimits), which the server's own limits could not end: such a
    session froze inside one extended-protocol exchange (its statement run, its ``Sync``
    never sent), and the server waits for its next message in state ``active``, where
    neither ``idle_in_transaction_session_timeout`` nor ``statement_timeout`` applies. Its
    locks (a lease's row, the leader lease a job share-locks, a target's vote lock) would
    stay for as long as the node stays frozen. Ended with ``pg_terminate_backend``:
    PostgreSQL shows another session's state, and lets it be ended, to the same role (or to
    one with ``pg_read_all_stats`` and ``pg_signal_backend``). Returns (application name,
    backend pid) of each ended; None when this role may not see or end them (the
    transaction goes on)."""
    if not nodes:
        return []
    names = [session_name(node) for node in nodes]
    try:
        async with tx.begin_nested():
            rows = list(await tx.execute(
                text("SELECT application_name, pid, state IS NULL, "
                     "CASE WHEN state <> 'idle' AND xact_start < now() - "
                     "make_interval(secs => :outlived) THEN pg_terminate_backend(pid) END "
                     "FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid() AND application_name = ANY(:names)"),
                {"names": names, "outlived": outlived}))
    except DBAPIError as exc:
        if _sqlstate(exc) != INSUFFICIENT_PRIVILEGE:
            raise
        return None
    ended = [(name, int(pid)) for name, pid, _hidden, done in rows if done]
    if not ended and any(hidden for _name, _pid, hidden, _done in rows):
        return None  # their state is hidden from this role: it may not judge or end them
    return ended


async def ensure_named(tx: Tx, name: str) -> None:
    await tx.execute(
        pg_insert(ClusterLease).values(name=name, epoch=0).on_conflict_do_nothing()
    )


async def held(tx: Tx, node: str) -> Held:
    """The leases ``node`` holds now (not expired), share-locked until the transaction
    ends: no take-over commits while this transaction writes under them."""
    rows = await tx.execute(
        select(ClusterLease.name, ClusterLease.epoch)
        .where(ClusterLease.node == node, ClusterLease.expires_at > func.now())
        .with_for_update(read=True)
    )
    return {name: int(epoch) for name, epoch in rows}


async def fenced(tx: Tx, node: str, name: str, epoch: int, *, key_share: bool = False) -> bool:
    """Whether ``node`` still holds lease ``name`` at ``epoch`` (share-locked for the rest
    of the transaction): False means a stale writer, whose write must not happen.

    ``key_share``: the weakest lock (``FOR KEY SHARE``) that still keeps any take-over
    (``FOR UPDATE``) from committing meanwhile, but lets the holder's own renewal (an
    ``UPDATE`` of no key) go on: for the longer transactions of the leader's jobs."""
    row = await tx.scalar(
        select(ClusterLease.epoch)
        .where(
            ClusterLease.name == name,
            ClusterLease.node == node,
            ClusterLease.epoch == epoch,
            ClusterLease.expires_at > func.now(),
        )
        .with_for_update(read=True, key_share=key_share)
    )
    return row is not None


# --- vantages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewRow:
    vantage: str
    state: str
    since: dt.datetime
    bound: dt.datetime | None
    detected_at: dt.datetime
    node: str


async def lock_target(tx: Tx, target_id: str) -> None:
    """Votes on one target are counted one transaction at a time (an advisory lock until the
    transaction ends): two vantages confirming at once open one incident, not two."""
    await tx.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"incident/{target_id}"}
    )


async def set_view(
    tx: Tx, *, target_id: str, vantage: str, state: str, since: dt.datetime,
    bound: dt.datetime | None, detected_at: dt.datetime, node: str, epoch: int,
) -> None:
    values = {"state": state, "since": since, "bound": bound, "detected_at": detected_at,
              "node": node, "epoch": epoch}
    await tx.execute(
        pg_insert(VantageView)
        .values(target_id=target_id, vantage=vantage, **values)
        .on_conflict_do_update(index_elements=[VantageView.target_id, VantageView.vantage],
                               set_=values)
    )


async def views(tx: Tx, target_id: str) -> list[ViewRow]:
    """The current word of every vantage whose lease on ``target_id`` is alive: a vantage
    nobody probes from any more (all its nodes lost) has no say."""
    lease = ClusterLease
    rows = await tx.execute(
        select(VantageView.vantage, VantageView.state, VantageView.since, VantageView.bound,
               VantageView.detected_at, VantageView.node)
        .join(lease, and_(lease.vantage == VantageView.vantage,
                          lease.target_id == VantageView.target_id))
        .where(VantageView.target_id == target_id, lease.node.is_not(None),
               lease.expires_at > func.now())
        .order_by(VantageView.vantage)
    )
    return [ViewRow(*row) for row in rows]


async def views_of(tx: Tx, vantage: str, target_ids: Collection[str]) -> dict[str, str]:
    """Target id -> ``vantage``'s current word on it (up, down, unknown), where it has one."""
    found: dict[str, str] = {}
    for chosen in in_chunks(target_ids, 500):  # a takeover gains tens of thousands at once
        rows = await tx.execute(
            select(VantageView.target_id, VantageView.state).where(
                VantageView.vantage == vantage, VantageView.target_id.in_(chosen)))
        found.update((target_id, state) for target_id, state in rows)
    return found


async def add_confirmations(tx: Tx, incident_id: int, confirming: Iterable[ViewRow]) -> None:
    """The vantages that confirmed ``incident_id``, each with its streak's bounds (R-M1)."""
    rows = [
        {"incident_id": incident_id, "vantage": v.vantage, "start": v.since,
         "start_bound": v.bound, "detected_at": v.detected_at, "node": v.node}
        for v in confirming
    ]
    if rows:
        await tx.execute(pg_insert(IncidentVantage).values(rows).on_conflict_do_nothing())


async def confirmation_streaks(
    tx: Tx, incident_id: int
) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
    """Vantage -> (start, start bound) of the streak with which it confirmed ``incident_id``."""
    rows = await tx.execute(
        select(IncidentVantage.vantage, IncidentVantage.start, IncidentVantage.start_bound)
        .where(IncidentVantage.incident_id == incident_id)
    )
    return {vantage: (start, bound) for vantage, start, bound in rows}


async def confirmations(tx: Tx, incident_ids: Collection[int]) -> dict[int, list[str]]:
    """Incident id -> the vantages that confirmed it (sorted); empty for a daemon alone."""
    found: dict[int, list[str]] = {}
    for chosen in in_chunks(incident_ids, 500):  # a month's report: 50,000 at 10,000 customers
        rows = await tx.execute(
            select(IncidentVantage.incident_id, IncidentVantage.vantage)
            .where(IncidentVantage.incident_id.in_(chosen))
            .order_by(IncidentVantage.incident_id, IncidentVantage.vantage)
        )
        for incident_id, vantage in rows:
            found.setdefault(incident_id, []).append(vantage)
    return found


async def open_problem(
    tx: Tx, target_id: str, vantage: str, start: dt.datetime, node: str
) -> None:
    """``vantage`` sees ``target_id`` down, short of the quorum (kept while it lasts)."""
    await tx.execute(
        pg_insert(VantageProblem)
        .values(target_id=target_id, vantage=vantage, start=start, end=None, node=node)
        .on_conflict_do_nothing(
            index_elements=[VantageProblem.target_id, VantageProblem.vantage],
            index_where=VantageProblem.end.is_(None),
        )
    )


async def open_problem_start(tx: Tx, target_id: str, vantage: str) -> dt.datetime | None:
    """When ``vantage``'s open problem on ``target_id`` started, or None (none open)."""
    found: dt.datetime | None = await tx.scalar(
        select(VantageProblem.start).where(
            VantageProblem.target_id == target_id, VantageProblem.vantage == vantage,
            VantageProblem.end.is_(None))
    )
    return found


async def end_problem(tx: Tx, target_id: str, vantage: str, at: dt.datetime) -> None:
    await tx.execute(
        update(VantageProblem)
        .where(VantageProblem.target_id == target_id, VantageProblem.vantage == vantage,
               VantageProblem.end.is_(None))
        .values(end=at)
    )


async def withdraw_problems(tx: Tx, target_id: str, vantages: Collection[str]) -> None:
    """The open problems of ``vantages`` on ``target_id`` saw no failure of their own (the
    caller decides, :func:`monitor.sla.failed_alone`): not a vantage's problem, removed."""
    await tx.execute(
        delete(VantageProblem).where(
            VantageProblem.target_id == target_id, VantageProblem.vantage.in_(list(vantages)),
            VantageProblem.end.is_(None),
        )
    )


async def open_problems(
    tx: Tx, since: dt.datetime | None = None
) -> list[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """(target, vantage, start, end or None) of the vantage problems (open, or ended after
    ``since``), by start."""
    query = select(VantageProblem.target_id, VantageProblem.vantage, VantageProblem.start,
                   VantageProblem.end).order_by(VantageProblem.start, VantageProblem.id)
    query = query.where(VantageProblem.end.is_(None)) if since is None else query.where(
        or_(VantageProblem.end.is_(None), VantageProblem.end > since))
    return [(t, v, s, e) for t, v, s, e in await tx.execute(query)]
