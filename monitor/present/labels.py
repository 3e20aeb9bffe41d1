"""How each cause of an incident (:data:`monitor.sla.CAUSES`, R-EX2..R-EX4) is named,
once, for each of its readers: the customer's statement speaks to the customer, the
operator and customer pages name the rule, the public feed and status JSON say it plainly.
"""

from __future__ import annotations

from typing import NamedTuple

from monitor.present.language import N_
from monitor.sla import Cause

__all__ = ["CAUSE_LABELS", "PAGE_CAUSE_LABELS", "PUBLIC_CAUSE_LABELS"]


class _Words(NamedTuple):
    statement: str
    page: str
    public: str


_CAUSES: dict[Cause, _Words] = {
    # The pages' words are the catalog's message ids (translated where the page is
    # rendered, in its reader's language); the rule ids stay out of the translations.
    "provider": _Words("provider", N_("our service (counted)"), N_("our service")),
    "customer_request": _Words("your request (R-EX2, excluded)",
                               N_("at a customer's request (R-EX2)"), N_("a customer's request")),
    "customer_action": _Words("your or your users' action (R-EX3, excluded)",
                              N_("a customer's own action (R-EX3)"), N_("a customer's action")),
    "external": _Words("not caused by our service (R-EX4, excluded)",
                       N_("outside our service, e.g. a network cut-off (R-EX4)"),
                       N_("outside our service")),
}

#: A statement's words (to the customer).
CAUSE_LABELS: dict[str, str] = {cause: words.statement for cause, words in _CAUSES.items()}
#: The HTML pages' words (the templates' ``cause_labels``).
PAGE_CAUSE_LABELS: dict[str, str] = {cause: words.page for cause, words in _CAUSES.items()}
#: The public feed's and status JSON's words.
PUBLIC_CAUSE_LABELS: dict[str, str] = {cause: words.public for cause, words in _CAUSES.items()}
