"""How each cause of an incident (:data:`monitor.sla.CAUSES`, R-EX2..R-EX4) is named,
once, for each of its readers: the customer's statement speaks to the customer, the
customer's pages say whether it counts, the public feed and status JSON say it plainly;
none names a rule id (those stay in the evidence and the operators' views).
"""

from __future__ import annotations

from typing import NamedTuple

from monitor.present.language import N_
from monitor.sla import Cause

__all__ = [
    "CAUSE_LABELS",
    "DECISIONS",
    "EXCLUSION_NAMES",
    "PAGE_CAUSE_LABELS",
    "PUBLIC_CAUSE_LABELS",
    "TIER_NAMES",
]


class _Words(NamedTuple):
    statement: str
    page: str
    public: str


_CAUSES: dict[Cause, _Words] = {
    # The pages' words are the catalog's message ids (translated where the page is
    # rendered, in its reader's language); no rule id: customers read them.
    # A statement's words are message ids too (English: as they are).
    "provider": _Words(N_("provider"), N_("our service (counted)"), N_("our service")),
    "customer_request": _Words(N_("your request (excluded)"),
                               N_("at a customer's request (excluded)"),
                               N_("a customer's request")),
    "customer_action": _Words(N_("your or your users' action (excluded)"),
                              N_("a customer's own action (excluded)"),
                              N_("a customer's action")),
    "external": _Words(N_("not caused by our service (excluded)"),
                       N_("outside our service, e.g. a network cut-off (excluded)"),
                       N_("outside our service")),
}

#: A statement's words (to the customer).
CAUSE_LABELS: dict[str, str] = {cause: words.statement for cause, words in _CAUSES.items()}
#: The HTML pages' words (the templates' ``cause_labels``).
PAGE_CAUSE_LABELS: dict[str, str] = {cause: words.page for cause, words in _CAUSES.items()}
#: The public feed's and status JSON's words.
PUBLIC_CAUSE_LABELS: dict[str, str] = {cause: words.public for cause, words in _CAUSES.items()}

#: A claim's decision (R-C1) as the customer reads it (message ids).
DECISIONS: dict[str, str] = {"approved": N_("approved"), "partly": N_("partly approved"),
                             "rejected": N_("rejected")}
#: The credit tiers (R-T1) as the contract names them: a week, two weeks, a month of
#: service (message ids; the codes stay in the evidence and the operators' views).
TIER_NAMES: dict[str, str] = {"1w": N_("1 week"), "2w": N_("2 weeks"), "1m": N_("1 month")}
#: The reasons of excluded time (R-EX1..R-EX5) as a statement names them (message ids;
#: English: the reason's words).
EXCLUSION_NAMES: dict[str, str] = {
    "maintenance": N_("maintenance"), "customer_request": N_("customer request"),
    "customer_action": N_("customer action"), "external": N_("external"),
    "non_payment": N_("non payment")}
