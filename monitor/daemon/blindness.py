"""When the monitor itself cannot see (R-M2): results are ``unknown``, not ``down``.

Two ways we go blind, each with its own unknown interval:

* **Our connectivity** (``canaries_failed``): the connectivity canaries
  (``monitor.canaries``, reference endpoints outside the provider) fail, at
  least ``canary_quorum`` of them. Then *every* result is unknown.
* **Our resolver** (``resolver_failed``): when the monitor's own resolver
  breaks, every target probed by host name fails with a DNS error while
  targets probed by IP address, and IP canaries, still answer. Then only the
  DNS failures of host-name targets are unknown; IP targets still count, and
  a host-name target that did resolve (and then failed) still counts.

The resolver is judged broken when :data:`RESOLVER_QUORUM` distinct host-name
targets (or all of them, if fewer) are failing DNS at once, their latest
result each, and:

* with a **resolver canary** (``monitor.resolver.canary``, a name outside the
  provider looked up through the probes' resolver every
  ``canary_interval``, and at once before a DNS failure would open an
  incident): the canary lookup fails too. It is over when the canary lookup
  succeeds again. A customer's domain that really stopped resolving fails
  alone while the canary resolves: a real incident.
* **without** one: no host-name target has resolved since. It is over when one
  does. Results of IP targets say nothing about the resolver either way: they
  neither end it nor keep it from starting (they made it flap every 30 s
  before, opening customer incidents between the flaps).

While blind, the time is stored as an unknown interval until we can see again
(``detail`` says what could not be seen). Before a target's failure streak
would open an incident, :meth:`Blindness.confirm` checks the canaries and
:meth:`Blindness.confirm_resolver` the resolver canary *now*, so a blip on our
side never becomes a customer incident.

The ordinary Iran-wide internet cut-offs that the SLA itself lists (004) are
the reason this exists: they must not produce a flood of false incidents.

*Decision:* unknown time is kept for the whole monitor, not per target: the
month's report counts a ``resolver_failed`` interval as unknown for every
customer, also one whose targets are all IP addresses (conservative: unknown
is never counted as up, and an IP target's real outage still opens its
incident and counts as downtime).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Literal

from monitor.daemon.metrics import DaemonMetrics
from monitor.probes import ProbeResult
from monitor.store import unknown

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["RESOLVER_QUORUM", "Blindness", "Lookup"]

log = logging.getLogger(__name__)

# R-M2: this many distinct host-name targets failing DNS at once (or all of them, if fewer)
# is what a broken resolver of ours looks like.
RESOLVER_QUORUM = 3
# Without a resolver canary the targets are the only witnesses: a single one is not enough.
RESOLVER_QUORUM_WITHOUT_CANARY = 3

Reason = Literal["canaries_failed", "resolver_failed"]
# The resolver canary: a name lookup through the probes' resolver -> (answered, detail).
Lookup = Callable[[], Awaitable[tuple[bool, str]]]
PERSIST_FOR = 60.0  # seconds an unknown interval's write is retried


class Blindness:
    """Whether the monitor is blind, for which results, and the unknown intervals (R-M2)."""

    def __init__(self, db: Database, metrics: DaemonMetrics) -> None:
        self.db = db
        self.metrics = metrics
        self.canary_states: dict[str, str] = {}
        self._canaries: tuple[str, ...] = ()
        self._quorum = 1.0
        self._by_name: frozenset[str] = frozenset()  # targets probed by host name
        self._lookup: Lookup | None = None
        self._canary_name: str | None = None  # the name the resolver canary looks up
        self.resolver_canary_ok: bool | None = None  # None: no canary, or not asked yet
        self._resolver_detail = ""
        self._dns_failing: set[str] = set()  # host-name targets whose latest result: DNS failure
        # When the resolver was last seen answering again: a DNS failure of a probe that
        # started before then is a straggler of the outage just ended, no new evidence.
        self._resolver_back_at: dt.datetime | None = None
        self._blind: dict[Reason, int | None] = {}  # reason -> its open unknown interval's id
        self._confirming = asyncio.Lock()
        self._looking_up = asyncio.Lock()
        # In a cluster: {"node": ..., "vantage": ...}: only this vantage is blind.
        self.scope: dict[str, str] = {}

    def configure(
        self,
        canaries: Iterable[str],
        quorum: float,
        by_name: Iterable[str] = (),
        lookup: Lookup | None = None,
        canary_name: str | None = None,
    ) -> None:
        """The canary ids, the fraction of them that must fail, the targets probed by host
        name, and the resolver canary's lookup of ``canary_name`` (a configuration, or a
        reload of one)."""
        self._canaries = tuple(canaries)
        self._quorum = quorum
        self._by_name = frozenset(by_name)
        self._dns_failing &= self._by_name
        if (lookup is None) != (self._lookup is None):
            self.resolver_canary_ok = None
        if lookup is None or canary_name != self._canary_name:
            self.metrics.resolver_canary_up.clear()  # a name no longer looked up says nothing
        self._lookup = lookup
        self._canary_name = canary_name if lookup is not None else None
        for gone in set(self.canary_states) - set(self._canaries):
            del self.canary_states[gone]

    # --- what a result means -------------------------------------------------------------------

    @property
    def blind(self) -> bool:
        """Blind for every result: our connectivity is gone."""
        return "canaries_failed" in self._blind

    @property
    def resolver_blind(self) -> bool:
        return "resolver_failed" in self._blind

    @property
    def reason(self) -> str | None:
        """``canaries_failed``, ``resolver_failed`` or None (we can see)."""
        return next(iter(self._blind), None)

    def is_dns_failure_by_name(self, result: ProbeResult) -> bool:
        return result.failure_class == "dns" and result.target_id in self._by_name

    def unknown(self, result: ProbeResult) -> bool:
        """Whether this failed result is ours, not the target's: it counts as unknown."""
        return self.blind or (self.resolver_blind and self.is_dns_failure_by_name(result))

    # --- connectivity canaries -----------------------------------------------------------------

    async def canary_result(self, result: ProbeResult) -> None:
        """A canary's result: blind when the quorum fails, seeing again when it does not."""
        self.canary_states[result.target_id] = result.state
        failing = sum(1 for c in self._canaries if self.canary_states.get(c) == "down")
        blind = bool(self._canaries) and failing / len(self._canaries) >= self._quorum
        if blind and not self.blind:
            note = f"{failing} of {len(self._canaries)} connectivity canaries failing"
            await self._start("canaries_failed", result.at, note)
        elif not blind and self.blind:
            await self._end("canaries_failed", result.at)

    async def confirm(self, check_canaries: Callable[[], Awaitable[None]]) -> bool:
        """Check the canaries now (once for concurrent callers, through ``check_canaries``,
        which feeds their results back to :meth:`canary_result`); True if we are blind."""
        if self.blind:
            return True
        if not self._canaries:
            return False
        async with self._confirming:
            if not self.blind:
                await check_canaries()
        return self.blind

    # --- the resolver --------------------------------------------------------------------------

    async def result(self, result: ProbeResult) -> None:
        """Any result of a watched (non-canary) target: what it says about our resolver."""
        target = result.target_id
        if target not in self._by_name:
            return  # an IP target never asks the resolver: no witness either way
        if result.failure_class == "dns":
            if self._resolver_back_at is not None and result.at < self._resolver_back_at:
                return
            self._dns_failing.add(target)
            if not self.resolver_blind and self._resolver_broken():
                await self._start("resolver_failed", result.at, self._resolver_note())
            return
        # It resolved (up, or failed after resolving): the resolver answers.
        self._dns_failing.discard(target)
        if self.resolver_blind and self._lookup is None:
            await self._end("resolver_failed", result.at)

    async def check_resolver(self, at: dt.datetime) -> bool | None:
        """Look the canary name up now (the periodic check; once for concurrent callers);
        returns whether it answered (None without a canary)."""
        lookup = self._lookup
        if lookup is None:
            return None
        async with self._looking_up:
            answered, detail = await lookup()
        await self.resolver_canary(answered, detail, at)
        return answered

    async def resolver_canary(self, answered: bool, detail: str, at: dt.datetime) -> None:
        changed = answered != self.resolver_canary_ok
        self.resolver_canary_ok = answered
        self._resolver_detail = detail
        if self._canary_name is not None:
            self.metrics.resolver_canary_up.labels(self._canary_name).set(1 if answered else 0)
        if changed:
            log.log(
                logging.INFO if answered else logging.WARNING,
                "resolver canary answers" if answered else "resolver canary fails",
                extra={"detail": detail},
            )
        if answered and self.resolver_blind:
            await self._end("resolver_failed", at)
        elif not answered and not self.resolver_blind and self._resolver_broken():
            await self._start("resolver_failed", at, self._resolver_note())

    async def confirm_resolver(self, at: dt.datetime) -> bool:
        """Before a host-name target's DNS failure would open an incident: ask the resolver
        canary now; True if the failure is ours (the resolver is broken)."""
        if self.resolver_blind:
            return True
        if self._lookup is not None:
            await self.check_resolver(at)
        return self.resolver_blind

    def _resolver_broken(self) -> bool:
        named = len(self._by_name)
        if self._lookup is None:
            # Targets alone: several at once, and never a lone target's DNS failure.
            quorum = RESOLVER_QUORUM_WITHOUT_CANARY
            return named >= quorum and len(self._dns_failing) >= quorum
        if self.resolver_canary_ok is not False:
            return False
        return bool(self._dns_failing) and len(self._dns_failing) >= min(RESOLVER_QUORUM, named)

    def _resolver_note(self) -> str:
        note = f"DNS failures of {len(self._dns_failing)} host-name targets at once"
        if self._lookup is not None:
            note += f"; resolver canary: {self._resolver_detail}"
        return note + "; IP targets still count"

    # --- unknown intervals ---------------------------------------------------------------------

    async def close(self, at: dt.datetime) -> None:
        """On shutdown, the unknown intervals end with us (the heartbeat gap takes over)."""
        for reason in list(self._blind):
            await self._end(reason, at)

    async def _start(self, reason: Reason, at: dt.datetime, detail: str) -> None:
        if reason in self._blind:
            return
        self._blind[reason] = None  # blind at once, also for results arriving meanwhile
        self._update_metrics()
        # Unknown time must not be lost to a database that is briefly locked or away (R-M3):
        # the write is retried for a while, as the outbox's outcomes are.
        interval_id = await self.db.run(
            lambda tx: unknown.add_unknown(
                tx, start=at, end=None, reason=reason, detail=detail, **self.scope
            ),
            retry_for=PERSIST_FOR,
        )
        if reason in self._blind:
            self._blind[reason] = interval_id
        else:  # it ended while the interval was being written
            await self._close_interval(interval_id, at)
        self.metrics.unknown_intervals.labels(reason).inc()
        log.warning(
            "monitor blind", extra={"reason": reason, "at": at.isoformat(), "detail": detail}
        )

    async def _end(self, reason: Reason, at: dt.datetime) -> None:
        if reason not in self._blind:
            return
        interval_id = self._blind.pop(reason)
        if reason == "resolver_failed":
            self._resolver_back_at = at
        self._update_metrics()
        if interval_id is not None:
            await self._close_interval(interval_id, at)
        log.warning("monitor can see again", extra={"reason": reason, "at": at.isoformat()})

    async def _close_interval(self, interval_id: int, at: dt.datetime) -> None:
        await self.db.run(
            lambda tx: unknown.end_unknown(tx, interval_id, at), retry_for=PERSIST_FOR
        )

    def _update_metrics(self) -> None:
        self.metrics.monitor_blind.set(1 if self._blind else 0)
        self.metrics.resolver_blind.set(1 if self.resolver_blind else 0)
