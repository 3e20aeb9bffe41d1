"""The probes' resolver as a part of the runtime: a reload that changes
``monitor.resolver.nameservers`` builds the new resolver in ``prepare`` and swaps it in
``apply`` (:class:`~monitor.probes.ProbeSessions`: a lookup still running finishes on the
old one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config import Settings
from monitor.config.schema import ResolverSettings
from monitor.probes import ProbeSessions

__all__ = ["ProbeResolver", "ResolverPlan"]


@dataclass(frozen=True)
class ResolverPlan:
    """The resolver settings in force after the reload, and a new resolver when they
    changed the name servers (None: the one in use stays)."""

    settings: ResolverSettings
    resolver: Any = None


class ProbeResolver:
    def __init__(self, sessions: ProbeSessions, settings: ResolverSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    def prepare(self, settings: Settings) -> ResolverPlan:
        wanted = settings.monitor.resolver
        if wanted.nameservers == self.settings.nameservers:
            return ResolverPlan(wanted)
        return ResolverPlan(wanted, self.sessions.prepare_resolver(wanted))

    def apply(self, plan: ResolverPlan) -> None:
        if plan.resolver is not None:
            self.sessions.use_resolver(plan.resolver)
        self.settings = plan.settings
