"""The HTTP API's request bodies and query strings, and the JSON forms of what it answers
that are not plain dataclasses: pydantic models, which both validate requests and give
the OpenAPI document its schemas (:mod:`monitor.http.openapi`).

Times in requests are ISO 8601 strings, read like the command line reads them
(:func:`monitor.present.parse_time`): without an offset, in the provider's zone. Times in
answers are UTC with ``Z``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.actions.common import MAX_DAYS, MAX_TEXT
from monitor.actions.subscriptions import ADDRESS_PATTERN
from monitor.present.formats import TIME_PATTERN
from monitor.sla import Cause
from monitor.sla.downtime import ExclusionReason
from monitor.sla.ledger import FINDINGS, NOT_PROVIDER_FAULT, PROVIDER_FAULT

__all__ = [
    "CauseChangeRequest",
    "CustomerReportJSON",
    "GatusPushQuery",
    "IncidentCreate",
    "IncidentQuery",
    "KumaPushQuery",
    "MaintenanceCreate",
    "MaintenanceQuery",
    "MaintenanceUpdateRequest",
    "MonthReportJSON",
    "NotificationLog",
    "Problem",
    "PushQuery",
    "ReportQuery",
    "SubscribeForm",
    "SubscriptionLinkForm",
]

# A time is read by monitor.present.parse_time (the command line's reading, with its
# messages); the document states its canonical form (TIME_PATTERN), which that reads.
Time = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="ISO 8601, e.g. 2026-03-21T11:00:00Z; without an offset, in the "
        "provider's time zone (a local time a daylight-saving change skips or repeats is "
        "refused: give its offset)",
        examples=["2026-03-21T11:00:00Z"],
        json_schema_extra={"pattern": TIME_PATTERN},
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=63, description="a configured id")]
# Free text: the actions bound its length and refuse a NUL, which no database stores
# (monitor.actions.common.checks_text), once for every edge, and say so naming the field;
# the schema only documents both.
_TEXT_LIMIT = {"maxLength": MAX_TEXT, "pattern": "^[^\\u0000]*$"}
#: Free text that must say something: the actions refuse a blank one (not_blank).
Note = Annotated[str, Field(min_length=1, json_schema_extra={
    **_TEXT_LIMIT, "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"})]
Text = Annotated[str, Field(json_schema_extra=_TEXT_LIMIT)]
#: A month label's shape, as the document states it: the one reading of a month
#: (monitor.sla.month_period, which every route's action or handler calls) checks it, in
#: the project's words ("a month YYYY-MM, MM 01 to 12, years ..."), as the command line's;
#: the document states the configured calendar's months instead
#: (monitor.sla.calendar.month_pattern, put in by monitor.http.openapi).
MONTH_SHAPE = r"^[0-9]{4}-[0-9]{2}$"
Month = Annotated[
    str,
    Field(
        description="YYYY-MM in the provider's calendar (R-M5)",
        examples=["2026-03"],
        json_schema_extra={"pattern": MONTH_SHAPE},
    ),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IncidentCreate(Request):
    """A manual incident: an outage the probes could not see (R-M3)."""

    service: Id
    start: Time
    end: Time
    cause: Cause = "provider"
    note: Note | None = None


class CauseChangeRequest(Request):
    """R-EX: a new cause and why (kept in the audit log)."""

    cause: Cause
    reason: Annotated[str, Field(min_length=1, json_schema_extra=_TEXT_LIMIT)]


class IncidentUpdateRequest(Request):
    """An operator's update of an incident, shown on the public pages when the incident is
    a public service's (incident update)."""

    status: Literal["investigating", "identified", "monitoring", "resolved"]
    message: Annotated[str, Field(min_length=1, json_schema_extra=_TEXT_LIMIT)]


class MaintenanceUpdateRequest(Request):
    """An operator's update of a maintenance window, shown on the public pages
    (maintenance update)."""

    status: Literal["in_progress", "completed"]
    message: Annotated[str, Field(min_length=1, json_schema_extra=_TEXT_LIMIT)]


class NotificationLog(Request):
    """R-N1: customers told of an incident outside the outbox (usually by phone)."""

    at: Time
    channel: Literal["phone", "email"]
    customers: Annotated[list[Id], Field(max_length=10000)] = []
    note: Note | None = None


class MaintenanceCreate(Request):
    """R-EX1: a maintenance window; ``notified_at`` records a notice made by other means."""

    services: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    start: Time
    end: Time
    reason: Annotated[str, Field(min_length=1, json_schema_extra=_TEXT_LIMIT)]
    notified_at: Time | None = None


class IncidentQuery(Request):
    month: Month | None = None
    service: Id | None = None
    open: bool = False


class PushQuery(Request):
    """What a push target's job says (monitor.probes.push): up by default, with a message."""

    status: Literal["up", "down"] = "up"
    message: Text | None = None


class KumaPushQuery(Request):
    """Uptime Kuma's push URL's query (``/api/push/TOKEN?status=up&msg=OK&ping=``)."""

    status: Literal["up", "down"] = "up"
    msg: Text | None = None
    ping: Annotated[str, Field(max_length=64, description="Kuma's response time: "
                               "accepted and not kept")] | None = None


class GatusPushQuery(Request):
    """Gatus's external endpoint's query (``?success=true&error=&duration=``)."""

    success: bool
    error: Text | None = None
    duration: Annotated[str, Field(max_length=64, description="Gatus's duration: accepted "
                                   "and not kept")] | None = None


class MaintenanceQuery(Request):
    month: Month | None = None


class ReportQuery(Request):
    month: Month
    customer: Id | None = None


class MonthQuery(Request):
    month: Month


class CloseQuery(Request):
    """``configured_terms``: the month's customers, fees, dependencies and policy from the
    configuration as it is now (a correction of its terms), not from its latest revision."""

    configured_terms: bool = False


# --- answers ---------------------------------------------------------------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(Answer):
    pointer: str | None = Field(None, description="JSON pointer into the request body")
    parameter: str | None = Field(None, description="the query or path parameter")
    value: object = None
    allowed: str


class Problem(Answer):
    """Every error answer: what kind, one line for people, and the fields at fault."""

    error: Literal[
        "unauthorized", "invalid_token", "forbidden", "not_found", "invalid", "too_large",
        "unsupported_media_type", "conflict", "method_not_allowed", "internal",
    ]
    detail: str
    errors: list[ErrorItem] = []


class IncidentLineJSON(Answer):
    id: int
    service: str
    start: str
    end: str | None
    counted_seconds: int
    cause: Cause
    detection_seconds: int | None
    notified_after_seconds: int | None


class CreditLineJSON(Answer):
    rule: Literal["R-T1", "R-N1", "R-P1", "R-P2"]
    days: float | None
    amount: float | None
    incidents: list[int]
    maintenance: list[int]
    tickets: list[int]


class CustomerReportJSON(Answer):
    """One customer's month, SPEC section 7."""

    customer: str
    period_seconds: int
    downtime_seconds: int
    excluded_seconds: int
    excluded_by_reason: dict[ExclusionReason, int]
    unknown_seconds: int
    availability_percent: float
    target_percent: float
    tier: str | None
    tier_credit_days: int
    notification_breaches: list[int]
    notification_credit_days: int
    detection_breaches: list[int]
    partial_credit_days: float
    refund_amount: float
    credit_days_total: float
    credit_value: float
    currency: str
    ineligible_reason: str | None
    credit_lines: list[CreditLineJSON]
    incidents: list[IncidentLineJSON]


class MonthReportJSON(Answer):
    """The month's SLA report, SPEC section 7 (what ``report --format json`` prints)."""

    month: str
    calendar: Literal["gregorian", "jalali"]
    timezone: str
    period_start: str
    period_end: str
    customers: list[CustomerReportJSON]


class CustomerBrief(Answer):
    id: str
    name: str
    sites: list[str]


# --- claims, tickets, the ledger (R-C1, R-P*, L-*) -------------------------------------------

Money = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=4,
                                 description="in the site's currency, at most 4 decimal "
                                 "places and 16 digits in all")]


class ClaimSubmit(Request):
    """R-C1: a claim an operator records (made by e-mail or phone, or on the customer's
    behalf); ``at`` when it was made (default now)."""

    customer: Id
    month: Month
    site: Id | None = None
    channel: Literal["email", "web", "phone"] = "email"
    note: Text | None = None
    at: Time | None = None


class CustomerClaim(Request):
    """R-C1: the customer's own claim for an ended month (one per month: a retry answers
    the claim already made)."""

    month: Month
    site: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    note: Text | None = None


class ClaimDecision(Request):
    """R-C1 / D-4: approve the computed credit, grant part of it (``days``, whole or
    halves), or reject (with a ``reason``)."""

    # What each decision needs, as monitor.actions.claims.decide_claim checks it, said in
    # the document too (validation is that function's, with its messages).
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"properties": {"decision": {"const": "approved"}, "days": {"type": "null"}}},
        {"properties": {"decision": {"const": "partly"}, "days": {
            "type": "number", "exclusiveMinimum": 0, "maximum": MAX_DAYS, "multipleOf": 0.5}},
         "required": ["days"]},
        {"properties": {"decision": {"const": "rejected"}, "days": {"type": "null"},
                        "reason": {"type": "string", "pattern": "\\S"}},
         "required": ["reason"]},
    ]})

    decision: Literal["approved", "partly", "rejected"]
    days: Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=1)] | None = None
    reason: Text | None = None
    at: Time | None = None


class ClaimQuery(Request):
    month: Month | None = None
    customer: Id | None = None
    open: bool = False
    overdue: bool = False


class TicketOpen(Request):
    """L-4: a ticket recorded by level 1 (its number is e-mailed at once)."""

    customer: Id
    service: Id
    channel: Literal["email", "phone", "web"]
    summary: Note
    site: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    type: Id | None = None
    at: Time | None = None


class CustomerTicket(Request):
    """L-4: the customer's own ticket (through the web: written, like an e-mail)."""

    service: Id
    summary: Note
    site: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    type: Id | None = None


class TicketDiagnosis(Request):
    # The findings a diagnosis may give, as monitor.actions.tickets.diagnose_ticket checks
    # them (L-5): the provider's fault is a defect or an installation error, another a
    # document or a request.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"properties": {"provider_fault": {"const": True},
                        "finding": {"enum": [*PROVIDER_FAULT, None]}}},
        {"properties": {"provider_fault": {"const": False},
                        "finding": {"enum": [*NOT_PROVIDER_FAULT, None]}}},
    ]})

    provider_fault: bool
    finding: Annotated[str, Field(min_length=1, max_length=63,
                                  json_schema_extra={"enum": list(FINDINGS)})] | None = None
    at: Time | None = None


class TicketNote(Request):
    note: Text | None = None
    at: Time | None = None


class TicketFollowUp(Request):
    channel: Literal["email", "phone", "web"]
    note: Text | None = None
    at: Time | None = None


class CustomerNote(Request):
    note: Text | None = None


class TicketDefer(Request):
    reason: Literal["system-wide", "new-release"]
    note: Note
    at: Time | None = None


class TicketReprice(Request):
    price: Money
    at: Time | None = None


class PriceApproval(Request):
    declined: bool = False
    at: Time | None = None


class CustomerPriceApproval(Request):
    declined: bool = False


class TicketQuery(Request):
    queue: Literal["level2", "level3"] | None = None
    customer: Id | None = None
    overdue: bool = False


class LedgerQuery(Request):
    customer: Id | None = None
    site: Annotated[str, Field(min_length=1, max_length=253)] | None = None


class Deposit(Request):
    """L-5 / L-6: support charge bought for a site."""

    site: Annotated[str, Field(min_length=1, max_length=253)]
    amount: Money
    reference: Note


class Renewal(Request):
    """L-2: a site's paid period renewed until ``until``."""

    site: Annotated[str, Field(min_length=1, max_length=253)]
    until: dt.date


class ClaimForm(Request):
    """The customer page's claim form (its session cookie and this CSRF token)."""

    csrf: Annotated[str, Field(min_length=1, max_length=200)]
    month: Month
    site: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    note: Text | None = None


class SubscribeForm(Request):
    """The status page's subscription form: an address and the services it wants."""

    # The address as monitor.actions.subscriptions.normal_address reads it (a pattern
    # cannot say its local part's limit of 64 characters, which that says).
    email: Annotated[str, Field(min_length=1, max_length=254,
                                json_schema_extra={"pattern": ADDRESS_PATTERN})]
    services: Annotated[list[Id], Field(min_length=1, max_length=100)]


class SubscriptionLinkForm(Request):
    """A subscription link's parameters (in its query string, or the page's hidden fields;
    RFC 8058's one-click body is ``List-Unsubscribe=One-Click``)."""

    token: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    expires: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    key: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    sig: Annotated[str, Field(min_length=1, max_length=100)] | None = None
