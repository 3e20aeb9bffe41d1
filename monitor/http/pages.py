"""The pages: the public status page at ``/`` and each customer's page at
``/customer/ID``, rendered on the server through the one Jinja2 environment
(:mod:`monitor.present.html`, autoescape on), complete without JavaScript.

**Decision** (right to left): the pages' own words are English, so a page is laid out
left to right; every name and free text (customers, services, the provider, reasons) is
isolated (``<bdi>``, ``dir="auto"``), so a Persian name reads right to left in its place
and never reorders the figures and times around it. (An RTL layout around English
labels turned "99.942 %" into "% 99.942" and "25 min 3 s" into "min 3 s 25".)

A customer page opens with a signed link (:mod:`monitor.http.links`), whose session
cookie then carries it, or with a bearer token: the customer's own, or an operator's.
Without one it answers 401 with a page that says how to get a link; an expired link
says when it expired, a tampered one only that it is not valid.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web

from monitor import actions
from monitor.http.context import Web
from monitor.http.links import COOKIE, LinkCheck
from monitor.http.routing import Call, authenticate
from monitor.present import format_time

__all__ = ["customer_page", "static_file", "status_page"]

STATIC = {"style.css": "text/css", "favicon.svg": "image/svg+xml"}


def _page(request: web.Request, context: Web, template: str, http_status: int = 200,
          **values: Any) -> web.Response:
    settings = context.settings
    response = aiohttp_jinja2.render_template(
        template, request,
        {"timezone": settings.timezone, "calendar": settings.calendar, **values},
        status=http_status,
    )
    response.headers["Cache-Control"] = "no-store" if template != "status.html" else "no-cache"
    return response


def message(request: web.Request, context: Web, status: int, title: str,
            *paragraphs: str) -> web.Response:
    return _page(request, context, "message.html", status, title=title,
                 paragraphs=list(paragraphs))


async def status_page(call: Call) -> web.StreamResponse:
    """``/``: the provider's shared services, open incidents, announced maintenance."""
    context = call.web
    status = await actions.public_status(context.db, context.settings, now=context.clock.now())
    return _page(call.request, context, "status.html", status=status)


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
        return message(call.request, context, 401, "This token is not valid",
                       "The token sent with this request is unknown or was revoked.")
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
        return message(request, context, 401, "Please open your link",
                       "This page opens with the link your provider e-mails to your "
                       "technical contact. Ask them for a new one if yours has expired.")
    if who == "other" or customer not in context.settings.topology.customers:
        return message(request, context, 404, "No such customer",
                       "There is no customer page at this address.")
    overview = await actions.customer_overview(context.db, context.settings,
                                               customer=customer, now=now)
    return _page(request, context, "customer.html", overview=overview,
                 **_form_values(call, customer))


def _form_values(call: Call, customer: str) -> dict[str, Any]:
    """What the page's forms need: the CSRF token of this session (none with a token)."""
    context = call.web
    cookie = call.request.cookies.get(COOKIE)
    token = context.links.csrf(cookie) if cookie and context.links else ""
    return {"csrf": token}


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
        return message(request, context, 401, "This link has expired",
                       f"It was valid until {format_time(checked.expires, settings.timezone, settings.calendar)}.",
                       "Ask your provider for a new link (it is sent to your technical contact).")
    if checked.result != "valid" or keys is None or checked.expires is None:
        return message(request, context, 401, "This link is not valid",
                       "Please use the link exactly as it was e-mailed to you, or ask your "
                       "provider for a new one.")
    response = web.Response(status=303, headers={"Location": f"/customer/{customer}"})
    response.set_cookie(
        COOKIE, keys.session(customer, checked.expires),
        max_age=max(1, int((checked.expires - now).total_seconds())),
        path="/customer/", httponly=True, secure=context.secure, samesite="Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
