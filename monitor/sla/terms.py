"""What the configuration says of a month, frozen with it when it is closed (R-C3).

A month's report is a pure function of its inputs (R-C3). Some of them are records (the
incidents, notices, notifications, tickets); the rest is what the configuration says: who
the customers are, their fee and what they depend on (R-M4), when they are paid until
(R-EX5, after the renewals recorded in the month, L-2), and the policy's numbers. Those
change over time: a price rises, a project moves to another server, a customer leaves, a
policy is revised; none of that changes a month that has ended.

*Decision:* a closed month keeps the terms it was first closed with. Every revision
freezes its :class:`MonthTerms` beside its report, and a later close or report of that
month reads the records again but takes the terms of its latest revision, not the
configuration of the day. Before its first close, a month takes the terms the daemon
kept as it saw the month end (``month_terms``: prices changed on the 1st are not the month
before's), else the configuration as it is. Correcting a month's terms themselves (a fee entered wrong, a customer
missing from it) is asked for in so many words (``report close --configured-terms``): the
configuration's terms make the new revision, its differences listed as any other's.

>>> terms = MonthTerms((), Policy(), {"srv-1": frozenset({"acme-survey"})})
>>> sorted(terms.with_hosted_projects(frozenset({"srv-1", "panel"})))
['acme-survey', 'panel', 'srv-1']
>>> MonthTerms.from_json(terms.to_json()) == terms
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import InvalidOperation
from typing import Any

from monitor.errors import StoreError
from monitor.sla.inputs import CustomerInput
from monitor.sla.policy import Policy, Tier
from monitor.sla.report import JSON
from monitor.sla.stored import Fields

__all__ = ["MonthTerms"]


@dataclass(frozen=True, slots=True)
class MonthTerms:
    """A month's customers as the engine sees them (their fee, dependencies and paid-until
    after the month's renewals), the policy, and the projects each server hosted (a
    server's maintenance is its projects', R-M4, R-EX1)."""

    customers: tuple[CustomerInput, ...]
    policy: Policy
    hosted: Mapping[str, frozenset[str]]  # server id -> the projects on it

    def with_hosted_projects(self, ids: frozenset[str]) -> frozenset[str]:
        """``ids`` plus the projects on any server among them."""
        return ids.union(*(self.hosted.get(i, ()) for i in ids))

    def differences(self, configured: MonthTerms) -> list[str]:
        """What ``configured`` (the configuration's terms now) says otherwise than these (a
        closed month's): each customer's changed fields, customers only one of them has, each
        changed number of the policy. The projects each server hosts are not listed: what
        they change for a customer is its dependencies (``services``).

        >>> from decimal import Decimal
        >>> month = MonthTerms((CustomerInput("acme", "ACME", Decimal(3650), "EUR",
        ...                                   frozenset({"panel", "srv-1"})),), Policy(), {})
        >>> now = MonthTerms((CustomerInput("acme", "ACME", Decimal(7300), "EUR",
        ...                                 frozenset({"panel", "srv-2"})),
        ...                   CustomerInput("erin", "Erin", Decimal(1), "EUR", frozenset())),
        ...                  Policy(notification_deadline_seconds=10800), {})
        >>> for line in month.differences(now): print(line)
        acme: fee_per_year 3650 -> 7300; services srv-1 -> srv-2
        erin: not a customer of the month (configured since)
        policy: notification_deadline_seconds 7200 -> 10800
        """
        before = {customer.id: customer for customer in self.customers}
        after = {customer.id: customer for customer in configured.customers}
        lines = []
        for customer_id in sorted(before.keys() | after.keys()):
            old, new = before.get(customer_id), after.get(customer_id)
            if old is None:
                lines.append(f"{customer_id}: not a customer of the month (configured since)")
            elif new is None:
                lines.append(f"{customer_id}: a customer of the month, no longer configured")
            elif old != new:
                lines.append(f"{customer_id}: " + "; ".join(_changed(old, new)))
        policy = [f"{name} {_shown(getattr(self.policy, name))} -> "
                  f"{_shown(getattr(configured.policy, name))}"
                  for name in _POLICY_FIELDS
                  if getattr(self.policy, name) != getattr(configured.policy, name)]
        if policy:
            lines.append("policy: " + "; ".join(policy))
        return lines

    def to_json(self) -> dict[str, JSON]:
        """Exact: money and numbers as decimal text, times to the microsecond."""
        return {
            "customers": [_customer_json(customer) for customer in
                          sorted(self.customers, key=lambda customer: customer.id)],
            "policy": _policy_json(self.policy),
            "hosted": {server: [project for project in sorted(projects)]
                       for server, projects in sorted(self.hosted.items())},
        }

    @classmethod
    def from_json(cls, document: object) -> MonthTerms:
        """The terms ``to_json`` stored; a wrong field is a StoreError naming it."""
        fields = Fields(document, "evidence.terms")
        hosted = fields.texts_by_name("hosted")
        try:
            return cls(tuple(_customer(item, where) for item, where in fields.items("customers")),
                       _policy(fields.mapping("policy"), "evidence.terms.policy"),
                       {server: frozenset(projects) for server, projects in hosted.items()})
        except (ValueError, InvalidOperation) as exc:  # a value the records cannot hold
            raise StoreError(f"stored report: evidence.terms: {exc}") from None


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _customer_json(customer: CustomerInput) -> dict[str, JSON]:
    return {"id": customer.id, "name": customer.name, "fee_per_year": str(customer.fee_per_year),
            "currency": customer.currency,
            "services": [service for service in sorted(customer.services)],
            "paid_until": _instant(customer.paid_until), "clone": customer.clone,
            "unsupported_version": customer.unsupported_version}


def _changed(old: CustomerInput, new: CustomerInput) -> list[str]:
    """Each field of a customer's terms that differs, as ``name old -> new``; of its
    dependencies, those left and those added."""
    said = []
    for name in ("name", "fee_per_year", "currency", "paid_until", "clone",
                 "unsupported_version"):
        if getattr(old, name) != getattr(new, name):
            said.append(f"{name} {_shown(getattr(old, name))} -> {_shown(getattr(new, name))}")
    if old.services != new.services:
        said.append(f"services {' '.join(sorted(old.services - new.services)) or '-'} -> "
                    f"{' '.join(sorted(new.services - old.services)) or '-'}")
    return said


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, tuple):  # the tiers
        return ", ".join(f"{tier.name} {tier.min_downtime_seconds} s {tier.credit_days} d"
                         for tier in value)
    if isinstance(value, frozenset):
        return "[" + ", ".join(str(item) for item in sorted(value)) + "]"
    return "none" if value is None else str(value)


def _customer(document: object, where: str) -> CustomerInput:
    fields = Fields(document, where)
    return CustomerInput(
        id=fields.text("id"), name=fields.text("name"),
        fee_per_year=fields.decimal_text("fee_per_year"), currency=fields.text("currency"),
        services=frozenset(fields.texts("services")),
        paid_until=fields.optional_instant("paid_until"),
        clone=fields.boolean("clone"), unsupported_version=fields.boolean("unsupported_version"))


#: The policy's fields of each kind (:class:`Policy`); a field of no kind here fails the
#: round trip's test rather than being left out.
_DECIMALS = ("target_percent", "partial_penalty_fraction", "mobile_refund_percent_per_day")
_SECONDS = ("notification_deadline_seconds", "notification_credit_days",
            "maintenance_notice_seconds", "detection_deadline_seconds",
            "diagnosis_deadline_seconds", "web_panel_fix_deadline_seconds",
            "mobile_fix_deadline_seconds", "claim_deadline_seconds", "decision_deadline_seconds",
            "credit_delay_seconds", "price_approval_seconds")


_POLICY_FIELDS = (*_DECIMALS, *_SECONDS, "tiers", "weekend_days", "holidays")


def _policy_json(policy: Policy) -> dict[str, JSON]:
    document: dict[str, JSON] = {name: str(getattr(policy, name)) for name in _DECIMALS}
    document.update({name: getattr(policy, name) for name in _SECONDS})
    document["tiers"] = [{"name": tier.name, "min_downtime_seconds": tier.min_downtime_seconds,
                          "credit_days": tier.credit_days} for tier in policy.tiers]
    document["weekend_days"] = [day for day in sorted(policy.weekend_days)]
    document["holidays"] = [day.isoformat() for day in sorted(policy.holidays)]
    return document


def _policy(document: object, where: str) -> Policy:
    fields = Fields(document, where)
    numbers: dict[str, Any] = {name: fields.decimal_text(name) for name in _DECIMALS}
    numbers.update({name: fields.integer(name) for name in _SECONDS})
    return Policy(
        **numbers,
        tiers=tuple(_tier(item, at) for item, at in fields.items("tiers")),
        weekend_days=frozenset(fields.integers("weekend_days")),
        holidays=frozenset(_days(fields.texts("holidays"))),
    )


def _tier(document: object, where: str) -> Tier:
    fields = Fields(document, where)
    return Tier(fields.text("name"), fields.integer("min_downtime_seconds"),
                fields.integer("credit_days"))


def _days(texts: Iterable[str]) -> Iterable[date]:
    return (date.fromisoformat(text) for text in texts)
