"""The pages: the public status page at ``/`` and each customer's page at
``/customer/ID``, rendered on the server through the one Jinja2 environment
(:mod:`monitor.present.html`, autoescape on), complete without JavaScript.

**Language** (SPEC section 7): a page speaks its reader's language
(:meth:`monitor.config.Settings.reader`): the status page, the feed and the badges the
provider's, a customer's pages (and their refusals and error pages) the customer's. A
Persian page is laid out right to left (``<html lang="fa" dir="rtl">``) with Persian words
around Persian figures; every name and free text (customers, services, the provider,
reasons) is still isolated (``<bdi>``, ``dir="auto"``), so an English name or a domain
keeps its own direction and never reorders the figures around it. An English page stays
left to right (an RTL layout around English labels turned "99.942 %" into "% 99.942").

A customer page opens with a signed link (:mod:`monitor.actions.links`), whose session
cookie then carries it, or with a bearer token: the customer's own, or an operator's.
Without one it answers 401 with a page that says how to get a link; an expired link
says when it expired, a tampered one only that it is not valid.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web

from monitor import actions
from monitor.actions.evidence_archive import RecordsChanged, export_month
from monitor.actions.links import COOKIE, LinkCheck
from monitor.actions.subscriptions import offered
from monitor.errors import InputError
from monitor.http.cache import CachedPage, off_loop
from monitor.http.context import Web
from monitor.http.routing import (
    BODY_LIMIT,
    Call,
    authenticate,
    form_fields,
    parse_id,
    read_limited,
)
from monitor.notify.contract import ContractMailer
from monitor.present.html import render
from monitor.present.language import N_, Language
from monitor.sla import claim_deadline, claim_in_time, month_ended
from monitor.store import Database

__all__ = ["claim_form", "claim_page", "customer_page", "evidence_download", "incident_page",
           "render_page", "static_file", "status_page"]

STATIC = {"style.css": "text/css", "favicon.svg": "image/svg+xml"}
PUBLIC_PAGES = ("status.html", "incident.html")
# Where a customer's cached page holds its claim form's CSRF token (put in per request).
CSRF_SLOT = "csrf-slot-" + secrets.token_hex(16)


def _page(request: web.Request, context: Web, template: str, http_status: int = 200,
          *, reader: Language | None = None, **values: Any) -> web.Response:
    settings = context.settings
    response = aiohttp_jinja2.render_template(
        template, request,
        {"timezone": settings.timezone, "calendar": settings.calendar,
         "language": reader or settings.reader(), "refresh": None,
         "provider": settings.provider.name, **values},
        status=http_status,
    )
    response.headers["Content-Language"] = (reader or settings.reader()).code
    response.headers["Cache-Control"] = "no-cache" if template in PUBLIC_PAGES else "no-store"
    return response


render_page = _page
"""A page of the one Jinja2 environment, in its reader's language (the subscription pages)."""


#: A posted form whose bytes are not UTF-8 (form_fields): its title and paragraph.
NOT_UTF8 = (N_("Not text in UTF-8"),
            N_("The form sent is not text in UTF-8. Please send it again from the page."))


def message(request: web.Request, context: Web, status: int, title: str,
            *paragraphs: str | tuple[str, dict[str, str]],
            reader: Language | None = None) -> web.Response:
    """An error or notice page: ``title`` and ``paragraphs`` are English message ids (a
    paragraph with values: ``(message id, values)``), shown in ``reader``'s language (the
    provider's without one)."""
    chosen = reader or context.settings.reader()
    shown = [chosen.gettext(p) if isinstance(p, str) else chosen.gettext(p[0]) % p[1]
             for p in paragraphs]
    return _page(request, context, "message.html", status, reader=chosen,
                 title=chosen.gettext(title), paragraphs=shown)


def _reader(context: Web, customer: str) -> Language:
    """``customer``'s language when it is one of the provider's customers, else the
    provider's (an unknown address says nothing of its reader)."""
    known = customer in context.settings.topology.customers
    return context.settings.reader(customer if known else None)


async def cached(call: Call, key: tuple[object, ...],
                 render_page: Callable[[Database], Awaitable[CachedPage]],
                 customer: str | None = None, *, probes: bool = True) -> CachedPage:
    """The page ``key`` (its kind, what it is of, its language) as rendered for what the
    public pages (or ``customer``'s page) show now: from the pages' cache
    (:mod:`monitor.http.cache`), else ``render_page(db)`` once, off the event loop
    (:func:`~monitor.http.cache.off_loop`: ``db`` is that thread's handle). Without
    ``probes``, what it shows changes with the records alone, never with a probe (a
    month's report: :func:`monitor.http.api.get_report`)."""
    context = call.web
    settings = context.settings
    scope = (("customer", customer) if customer is not None else ("public",)) if probes \
        else ("records",)
    rows = await context.pages.version(
        scope, context.db.writes,
        lambda: actions.pages_version(context.db, settings, customer=customer, probes=probes))
    minute = context.clock.now().replace(second=0, microsecond=0)
    return await context.pages.page(key, (rows, minute, settings, context.public_url),
                                    lambda: off_loop(context.db, render_page))


def rendered(context: Web, template: str, http_status: int = 200, *,
             reader: Language | None = None, cache: str = "no-cache",
             **values: Any) -> CachedPage:
    """``template`` rendered for the pages' cache (in its worker thread)."""
    settings = context.settings
    chosen = reader or settings.reader()
    text = render(template, timezone=settings.timezone, calendar=settings.calendar,
                  language=chosen,
                  **{"refresh": None, "provider": settings.provider.name, **values})
    return CachedPage(text.encode("utf-8"), "text/html", http_status,
                    (("Content-Language", chosen.code), ("Cache-Control", cache)))


async def status_page(call: Call) -> web.StreamResponse:
    """``/``: the provider's shared services, open incidents, announced maintenance."""
    context = call.web

    async def page(db: Database) -> CachedPage:
        status = await actions.public_status(db, context.settings, now=context.clock.now())
        return rendered(context, "status.html", status=status,
                        refresh=context.settings.status_page.refresh,
                        subscribe=offered(context.settings, context.links))

    found = await cached(call, ("status", context.settings.reader().code), page)
    return found.response(call.request)


async def incident_page(call: Call) -> web.StreamResponse:
    """``/incidents/ID``: one incident of a public service, its timeline and the operators'
    updates. Any other id (a customer's project, none) is the same 404."""
    context = call.web
    incident_id = parse_id(call.path("incident_id"))
    if incident_id is None:
        return message(call.request, context, 404, N_("No such incident"),
                       N_("There is no public incident at this address."))

    async def page(db: Database) -> CachedPage:
        now = context.clock.now()
        try:
            incident = await actions.public_incident(db, context.settings,
                                                     incident_id=incident_id, now=now)
        except InputError:
            reader = context.settings.reader()
            return rendered(
                context, "message.html", 404, cache="no-store",
                title=reader.gettext(N_("No such incident")),
                paragraphs=[reader.gettext(N_("There is no public incident at this address."))])
        return rendered(context, "incident.html", incident=incident,
                              provider=context.settings.provider.name, generated_at=now,
                              refresh=context.settings.status_page.refresh)

    found = await cached(call, ("incident", incident_id, context.settings.reader().code), page)
    return found.response(call.request)


async def static_file(call: Call) -> web.StreamResponse:
    name = call.path("name")
    if name not in STATIC:
        return web.Response(status=404, text="no such file\n", content_type="text/plain")
    text = resources.files("monitor.present").joinpath("static", name).read_text("utf-8")
    return web.Response(text=text, content_type=STATIC[name],
                        headers={"Cache-Control": "public, max-age=3600"})


def _who(call: Call, customer: str) -> Literal["allowed", "anonymous", "other"] | web.Response:
    """Whether this request may see ``customer``'s page: its session cookie, or a token of
    the customer or of an operator (``allowed``); no credentials (``anonymous``); another
    customer's (``other``: answered as if the page did not exist). A token that is not
    valid is answered at once (401)."""
    context = call.web
    now = context.clock.now()
    cookie = call.request.cookies.get(COOKIE)
    if cookie is not None and context.links is not None:
        checked = context.links.check_session(cookie, now)
        if checked.result == "valid" and checked.customer == customer:
            return "allowed"
    principal = authenticate(call.request, context)
    if isinstance(principal, web.Response):
        return message(call.request, context, 401, N_("This token is not valid"),
                       N_("The token sent with this request is unknown or was revoked."),
                       reader=_reader(context, customer))
    if principal is not None and (principal.operator or principal.customer == customer):
        return "allowed"
    return "other" if principal is not None else "anonymous"


async def customer_page(call: Call) -> web.StreamResponse:
    """``/customer/ID``: a customer's services, its month so far, last month."""
    context = call.web
    request = call.request
    customer = call.path("customer")
    now = context.clock.now()
    query = request.query
    if "sig" in query or "expires" in query:
        return _open_link(call, customer, now)
    who = _who(call, customer)
    if isinstance(who, web.Response):
        return who
    if who == "anonymous":
        return message(request, context, 401, N_("Please open your link"),
                       N_("This page opens with the link your provider e-mails to your "
                          "technical contact. Ask them for a new one if yours has expired."),
                       reader=_reader(context, customer))
    if who == "other" or customer not in context.settings.topology.customers:
        return message(request, context, 404, N_("No such customer"),
                       N_("There is no customer page at this address."))
    # Allowed: this customer's page, from the cache under this customer's key. A session's
    # page has the claim form, its CSRF token put in per request (the rest is the same).
    csrf = _csrf(call, customer)
    settings = context.settings

    async def page(db: Database) -> CachedPage:
        overview = await actions.customer_overview(db, settings, customer=customer,
                                                   now=context.clock.now())
        policy = settings.policy
        reader = settings.reader(customer)
        return rendered(
            context, "customer.html", reader=reader, cache="no-store", overview=overview,
            claim_refused=None, claim_window=reader.duration(policy.claim_deadline_seconds),
            decision_window=reader.duration(policy.decision_deadline_seconds),
            csrf=CSRF_SLOT if csrf else "")

    found = await cached(call, ("customer", customer, settings.reader(customer).code,
                                bool(csrf)), page, customer=customer)
    if csrf:
        found = CachedPage(found.body.replace(CSRF_SLOT.encode("ascii"), csrf.encode("ascii")),
                         found.content_type, found.status, found.headers)
    return found.response(request)


async def evidence_download(call: Call) -> web.StreamResponse:
    """``GET /customer/ID/evidence/MONTH.zip``: the month's evidence archive, made by the
    same action as ``sla-monitor evidence export``, for this customer only (its session or
    token, or an operator's; another customer's is answered as if it did not exist). A month
    without a closed revision is a 404. Bounded: the route answers one download at a time
    (another meanwhile: 429), built off the event loop."""
    context = call.web
    request = call.request
    customer = call.path("customer")
    month = call.path("month")
    who = _who(call, customer)
    if isinstance(who, web.Response):
        return who
    reader = _reader(context, customer)
    if who == "anonymous":
        return message(request, context, 401, N_("Please open your link"),
                       N_("This page opens with the link your provider e-mails to your "
                          "technical contact. Ask them for a new one if yours has expired."),
                       reader=reader)
    if who == "other" or customer not in context.settings.topology.customers:
        return message(request, context, 404, N_("No such customer"),
                       N_("There is no customer page at this address."))
    not_found = (N_("No evidence for this month"),
                 N_("Evidence archives exist for the months whose statement has been closed; "
                    "your page lists them."))
    if not _is_month(month):
        return message(request, context, 404, *not_found, reader=reader)

    async def export(db: Database) -> bytes:
        return await export_month(db, context.settings, customer=customer, month=month)

    try:
        data = await off_loop(context.db, export)
    except RecordsChanged:
        return message(request, context, 409, N_("This month is being corrected"),
                       N_("Records of this month changed after its statement was made. Its "
                          "evidence archive is here again with the corrected statement."),
                       reader=reader)
    except InputError:
        return message(request, context, 404, *not_found, reader=reader)
    return web.Response(body=data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{customer}-{month}-evidence.zip"',
        "Cache-Control": "no-store"})


async def _customer(call: Call, customer: str, status: int = 200,
                    refused: dict[str, str] | None = None) -> web.Response:
    context = call.web
    overview = await actions.customer_overview(context.db, context.settings,
                                               customer=customer, now=context.clock.now())
    policy = context.settings.policy
    reader = context.settings.reader(customer)
    return _page(call.request, context, "customer.html", status, overview=overview,
                 reader=reader, claim_refused=refused,
                 claim_window=reader.duration(policy.claim_deadline_seconds),
                 decision_window=reader.duration(policy.decision_deadline_seconds),
                 csrf=_csrf(call, customer))


def _session(call: Call, customer: str) -> str | None:
    """The request's session cookie, when it is a valid one of ``customer``."""
    context = call.web
    cookie = call.request.cookies.get(COOKIE)
    if cookie is None or context.links is None:
        return None
    checked = context.links.check_session(cookie, context.clock.now())
    return cookie if checked.result == "valid" and checked.customer == customer else None


def _csrf(call: Call, customer: str) -> str:
    """The CSRF token of this session's forms; none without a session (a token's view has
    no forms: operators and tools use the API)."""
    session = _session(call, customer)
    links = call.web.links
    return links.csrf(session) if session is not None and links is not None else ""


async def claim_form(call: Call) -> web.StreamResponse:
    """``POST /customer/ID/claims``: the claim form (R-C1). A session of this customer and
    the form's CSRF token are required; a claim made shows its receipt (303 to it), a
    refused one the page again with why (late, already claimed, not ended)."""
    context = call.web
    request = call.request
    customer = call.path("customer")
    session = _session(call, customer)
    if session is None or context.links is None:
        return message(request, context, 401, N_("Please open your link"),
                       N_("Claims are made from the page your provider's link opens."),
                       reader=_reader(context, customer))
    reader = context.settings.reader(customer)
    if request.content_type != "application/x-www-form-urlencoded":
        return message(request, context, 415, N_("Not a form"), N_("Please use the claim form."),
                       reader=reader)
    raw = await read_limited(request, BODY_LIMIT)
    if isinstance(raw, web.Response):
        return message(request, context, 413, N_("Too long"), N_("The form sent is too long."),
                       reader=reader)
    try:
        fields = {k: v[0] for k, v in form_fields(raw).items()}
    except UnicodeDecodeError:
        return message(request, context, 422, *NOT_UTF8, reader=reader)
    except ValueError:  # more fields than the form has
        return message(request, context, 413, N_("Too long"), N_("The form sent is too long."),
                       reader=reader)
    if not context.links.check_csrf(session, fields.get("csrf", "")):
        return message(request, context, 403, N_("This form has expired"),
                       N_("Please reload your page and submit the claim again."),
                       reader=reader)
    month = fields.get("month", "").strip()
    note = fields.get("note", "").strip() or None
    now = context.clock.now()
    try:
        view = await actions.submit_claim(
            context.db, context.settings, customer=customer, month=month,
            site=fields.get("site") or None, channel="web", note=note,
            mail=ContractMailer(context.settings, now), actor=f"customer:{customer}", now=now)
    except InputError as exc:
        reason = await _why(call, customer, exc, month)
        shown = reader.month(month, context.settings.calendar) if _is_month(month) else month
        return await _customer(call, customer, 422, {"month": shown or "-", "reason": reason})
    response = web.Response(status=303, headers={
        "Location": f"/customer/{customer}/claims/{view.claim.id}", "Cache-Control": "no-store"})
    return response


async def _why(call: Call, customer: str, exc: InputError, month: str) -> str:
    """A refusal in the customer's words and language (R-C1: already claimed, not ended,
    too late), times as the page shows them; anything else as the action said it."""
    context = call.web
    settings = context.settings
    reader = settings.reader(customer)
    _ = reader.gettext
    tz, calendar = settings.timezone, settings.calendar
    now = context.clock.now()

    def when(at: dt.datetime) -> str:
        return reader.time(at, tz, calendar)

    if isinstance(exc, actions.NotACustomerThen):
        return _("you were not our customer in %(month)s") % {
            "month": reader.month(month, calendar)}
    if exc.field == "month":
        try:
            period = settings.month(month)
        except InputError:
            period = None
        if period is not None:
            made = await actions.find_claim(context.db, settings, customer=customer,
                                            month=month, now=now)
            shown = reader.month(month, calendar)
            if made is not None:
                return _("this month is already claimed (claim #%(claim)s, submitted "
                         "%(at)s)") % {"claim": reader.number(made.claim.id),
                                       "at": when(made.claim.submitted_at)}
            if not month_ended(period, now):
                return _("%(month)s has not ended yet (it ends %(at)s)") % {
                    "month": shown, "at": when(period.end)}
            if not claim_in_time(now, period, settings.policy):
                deadline = claim_deadline(period, settings.policy)
                return _("too late; claims for %(month)s were accepted until %(at)s") % {
                    "month": shown, "at": when(deadline)}
    if reader.code != "en":
        # The action's words are English (operators read them too): say what was refused.
        field = {"month": _("month"), "site": _("site"), "note": _("note")}.get(exc.field)
        return _("%(field)s %(value)s is not valid") % {
            "field": field or exc.field, "value": f"«{exc.value}»"}
    allowed = exc.renamed(lambda field: field.replace("_", " ")).allowed
    return f"{exc.field.replace('_', ' ')} {exc.value!r} is not valid: {allowed}"


def _is_month(label: str) -> bool:
    """``label`` reads as ``YYYY-MM`` in ASCII digits, as every month is read (then the page
    names the month as its reader does; ``۱۴۰۵-۰۸`` is refused, and shown as typed)."""
    return len(label) == 7 and label.isascii() and label[4] == "-" and \
        label[:4].isdigit() and label[5:].isdigit() and 1 <= int(label[5:]) <= 12


async def claim_page(call: Call) -> web.StreamResponse:
    """``GET /customer/ID/claims/N``: a claim's receipt and state."""
    context = call.web
    request = call.request
    customer = call.path("customer")
    who = _who(call, customer)
    if isinstance(who, web.Response):
        return who
    if who == "anonymous":
        return message(request, context, 401, N_("Please open your link"),
                       N_("This page opens with the link your provider e-mails to your "
                          "technical contact."),
                       reader=_reader(context, customer))
    claim_id = parse_id(call.path("claim_id"))
    try:
        if who == "other" or claim_id is None:
            raise InputError("claim_id", call.path("claim_id"), "a claim of yours")
        view = await actions.show_claim(context.db, context.settings, claim_id=claim_id,
                                        customer=customer, now=context.clock.now())
    except InputError:
        return message(request, context, 404, N_("No such claim"), N_("There is no claim here."),
                       reader=_reader(context, customer))
    return _page(request, context, "claim.html", view=view, customer=customer,
                 reader=context.settings.reader(customer))


def _open_link(call: Call, customer: str, now: dt.datetime) -> web.StreamResponse:
    context = call.web
    request = call.request
    keys = context.links
    checked = LinkCheck("invalid")
    if keys is not None:
        checked = keys.check_link(customer, request.query.get("expires", ""),
                                  request.query.get("key", ""), request.query.get("sig", ""),
                                  now)
    if checked.result == "expired" and checked.expires is not None:
        settings = context.settings
        reader = _reader(context, customer)
        until = reader.time(checked.expires, settings.timezone, settings.calendar)
        return message(request, context, 401, N_("This link has expired"),
                       (N_("It was valid until %(at)s."), {"at": until}),
                       N_("Ask your provider for a new link (it is sent to your technical "
                          "contact)."), reader=reader)
    if checked.result != "valid" or keys is None or checked.expires is None:
        return message(request, context, 401, N_("This link is not valid"),
                       N_("Please use the link exactly as it was e-mailed to you, or ask your "
                          "provider for a new one."), reader=_reader(context, customer))
    response = web.Response(status=303, headers={"Location": f"/customer/{customer}"})
    response.set_cookie(
        COOKIE, keys.session(customer, checked.expires),
        max_age=max(1, int((checked.expires - now).total_seconds())),
        path="/customer/", httponly=True, secure=context.secure, samesite="Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
