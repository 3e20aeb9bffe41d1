"""The status page's subscription form and its links, a thin edge over
:mod:`monitor.actions.subscriptions` (plain HTML forms, no JavaScript).

==================================  ===========================================================
``POST /subscriptions``             the form on ``/``: ``email`` and ``services`` (one or more);
                                    303 to its answer, 422 naming the field, 429 with
                                    ``Retry-After``, 404 when the page offers no subscriptions
``GET /subscriptions/requested``    the answer, "check your mail" (a signed receipt: reloading
                                    it asks nothing again); 410 expired / 400 invalid
``GET /subscriptions/confirm``      the confirmation link: a page with a button (a scanner that
                                    opens links confirms nothing); 410 expired / 400 invalid
``POST /subscriptions/confirm``     the button: confirmed (200), or 410 expired / 400 invalid
``GET /subscriptions/unsubscribe``  the link in every notice: a page with a button; 400 invalid
``POST /subscriptions/unsubscribe`` one click (RFC 8058: ``List-Unsubscribe=One-Click``, as
                                    ``multipart/form-data`` or urlencoded, or the page's
                                    button), no login: 200 whether or not the address
                                    was still subscribed; 400 for a link that is not ours
==================================  ===========================================================
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from monitor import actions
from monitor.actions.subscriptions import LinkRefused, RateLimited, check_link, offered
from monitor.errors import InputError
from monitor.http.pages import NOT_UTF8, message, render_page
from monitor.http.routing import Call, form_fields, read_limited
from monitor.notify.subscribers import SubscriberMailer
from monitor.present.language import N_

__all__ = ["confirm_form", "confirm_page", "requested_page", "subscribe_form",
           "unsubscribe_form", "unsubscribe_page"]

FORM_LIMIT = 8 * 1024  # an address and a few service ids


async def _fields(call: Call, *,
                  one_click: bool = False) -> dict[str, list[str]] | web.Response:
    """The posted form's fields (each a list), or the answer that refuses the body. With
    ``one_click`` (RFC 8058's POST to the ``List-Unsubscribe`` address), a body sent as
    ``multipart/form-data``, as that RFC asks mail clients to, holds nothing needed: the
    link is the address's query string."""
    request = call.request
    raw = await read_limited(request, FORM_LIMIT)
    if isinstance(raw, web.Response):
        return message(request, call.web, 413, N_("Too long"), N_("The form sent is too long."))
    if one_click and request.content_type == "multipart/form-data":
        return {}
    if raw and request.content_type != "application/x-www-form-urlencoded":
        return message(request, call.web, 415, N_("Not a form"),
                       N_("Please use the form on the status page."))
    try:
        return form_fields(raw)
    except UnicodeDecodeError:
        return message(request, call.web, 422, *NOT_UTF8)
    except ValueError:  # more fields than any form of ours has
        return message(request, call.web, 413, N_("Too long"), N_("The form sent is too long."))


def _link(call: Call, fields: dict[str, list[str]] | None = None) -> dict[str, str]:
    """The link's parameters: the query string's, else the form's hidden fields."""
    found = {name: call.request.query.get(name, "") for name in
             ("token", "expires", "key", "sig")}
    for name, values in (fields or {}).items():
        if name in found and not found[name] and values:
            found[name] = values[0]
    return {name: value[:300] for name, value in found.items()}


def _client(request: web.Request) -> str:
    """The client's address, as the rate limit counts it (the peer; a proxy in front
    counts as one client unless it is configured to pass the peer's own)."""
    return request.remote or "unknown"


async def subscribe_form(call: Call) -> web.StreamResponse:
    """``POST /subscriptions``: ask for notices (a confirmation e-mail is queued)."""
    context = call.web
    request = call.request
    settings = context.settings
    if not offered(settings, context.links):
        return message(request, context, 404, N_("Not found"), N_("There is no page here."))
    fields = await _fields(call)
    if isinstance(fields, web.Response):
        return fields
    reader = settings.reader()
    now = context.clock.now()
    try:
        requested = await actions.subscribe(
            context.db, settings, keys=context.links,
            email=(fields.get("email") or [""])[0], services=fields.get("services", []),
            language=reader.code, client=_client(request), limits=context.subscriptions,
            mail=SubscriberMailer(settings, now), now=now)
    except InputError as exc:
        if exc.field == "services":
            return message(request, context, 422, N_("Please choose a service"),
                           N_("Choose one or more of the services listed on the status page."))
        return message(request, context, 422, N_("This e-mail address is not valid"),
                       (N_("«%(value)s» is not an e-mail address. Please enter one like "
                           "name@example.com."), {"value": str(exc.value)[:100]}))
    except RateLimited as exc:
        response = message(request, context, 429, N_("Too many requests"),
                           (N_("Please try again in %(duration)s."),
                            {"duration": reader.duration(exc.retry_after)}))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # Post/Redirect/Get: the answer is a page of its own, so that reloading it (or going
    # back to it) sends nothing again.
    return web.Response(status=303, headers={
        "Location": "/subscriptions/requested?" + urlencode(requested.receipt)})


async def requested_page(call: Call) -> web.StreamResponse:
    """``GET /subscriptions/requested``: the form's answer, "check your e-mail"."""
    context = call.web
    settings = context.settings
    link = _link(call)
    try:
        requested = await actions.requested_subscription(
            context.db, keys=context.links, now=context.clock.now(), **link)
    except LinkRefused as refused:
        return _refused(call, refused)
    at = settings.reader().time(requested.expires, settings.timezone, settings.calendar)
    return message(call.request, context, 200, N_("Check your e-mail"),
                   (N_("We sent a confirmation link to %(email)s. Nothing will be sent "
                       "until you follow it."), {"email": requested.email}),
                   (N_("The link works until %(at)s."), {"at": at}))


def _refused(call: Call, refused: LinkRefused) -> web.Response:
    context = call.web
    settings = context.settings
    if refused.reason == "expired" and refused.expired_at is not None:
        at = settings.reader().time(refused.expired_at, settings.timezone, settings.calendar)
        return message(call.request, context, 410, N_("This link has expired"),
                       (N_("It was valid until %(at)s."), {"at": at}),
                       N_("Please subscribe again on the status page."))
    return message(call.request, context, 400, N_("This link is not valid"),
                   N_("Please use the link exactly as it was e-mailed to you, or subscribe "
                      "again on the status page."))


def _button(call: Call, title: str, text: str, action: str, button: str,
            link: dict[str, str]) -> web.Response:
    reader = call.web.settings.reader()
    return render_page(call.request, call.web, "subscription.html", title=reader.gettext(title),
                 text=reader.gettext(text), action=action, button=reader.gettext(button),
                 link=link)


async def confirm_page(call: Call) -> web.StreamResponse:
    """``GET /subscriptions/confirm``: the link's page, with the button that confirms."""
    link = _link(call)
    try:
        check_link(call.web.links, purpose="subscribe", now=call.web.clock.now(), **link)
    except LinkRefused as refused:
        return _refused(call, refused)
    return _button(call, N_("Confirm your subscription"),
                   N_("Press the button to receive e-mail notices of incidents and "
                      "maintenance."), "/subscriptions/confirm", N_("Confirm"),
                   {k: v for k, v in link.items() if v})


async def confirm_form(call: Call) -> web.StreamResponse:
    """``POST /subscriptions/confirm``: confirm the subscription."""
    context = call.web
    fields = await _fields(call)
    if isinstance(fields, web.Response):
        return fields
    link = _link(call, fields)
    try:
        confirmed = await actions.confirm_subscription(
            context.db, keys=context.links, token=link["token"], expires=link["expires"],
            key=link["key"], sig=link["sig"], now=context.clock.now())
    except LinkRefused as refused:
        return _refused(call, refused)
    names = [_service_name(call, s) for s in confirmed.services]
    comma = context.settings.reader().gettext(", ")
    return message(call.request, context, 200, N_("You are subscribed"),
                   (N_("%(email)s will receive notices of: %(services)s."),
                    {"email": confirmed.email, "services": comma.join(names)}),
                   N_("Every notice has a link to unsubscribe with one click."))


def _service_name(call: Call, service_id: str) -> str:
    service = call.web.settings.topology.services.get(service_id)
    return (service.name if service is not None else None) or service_id


async def unsubscribe_page(call: Call) -> web.StreamResponse:
    """``GET /subscriptions/unsubscribe``: the notices' link, with the button."""
    link = _link(call)
    try:
        check_link(call.web.links, purpose="unsubscribe", now=call.web.clock.now(), **link)
    except LinkRefused as refused:
        return _refused(call, refused)
    return _button(call, N_("Unsubscribe"),
                   N_("Press the button to stop all e-mail notices from this status page."),
                   "/subscriptions/unsubscribe", N_("Unsubscribe"),
                   {k: v for k, v in link.items() if v and k != "expires"})


async def unsubscribe_form(call: Call) -> web.StreamResponse:
    """``POST /subscriptions/unsubscribe``: RFC 8058 one click, or the page's button."""
    context = call.web
    fields = await _fields(call, one_click=True)
    if isinstance(fields, web.Response):
        return fields
    link = _link(call, fields)
    try:
        await actions.unsubscribe(context.db, keys=context.links, token=link["token"],
                                  key=link["key"], sig=link["sig"])
    except LinkRefused as refused:
        return _refused(call, refused)
    return message(call.request, context, 200, N_("You are unsubscribed"),
                   N_("No more notices will be sent to this address."))
