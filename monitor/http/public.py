"""The status page's machine-readable siblings: the Atom feed of incidents and maintenance
(``/feed.atom``, with ``ETag`` and ``304 Not Modified``), a Statuspage-compatible
``/api/v2/summary.json`` and ``/api/v2/status.json`` (the fields of Atlassian
Statuspage's public API, so that tools that read one read this unchanged), and SVG
badges per public service. Like the page, they show only the shared services
(:mod:`monitor.actions.status`): no customer's name or project.

The feed and the badges speak the provider's language, as the status page does
(``provider.language``, SPEC section 7); the Statuspage JSON keeps Statuspage's English
fields (tools read them).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from monitor import actions
from monitor.actions.status import (
    PublicIncident,
    PublicStatus,
    PublicWindow,
    history_since,
    public_service_ids,
)
from monitor.errors import NotFound
from monitor.http.cache import CachedPage
from monitor.http.pages import cached
from monitor.http.routing import Call
from monitor.present import format_percent
from monitor.present.html import render
from monitor.present.labels import PUBLIC_CAUSE_LABELS
from monitor.present.language import N_, Language
from monitor.sla.report import iso_utc
from monitor.store import Database

__all__ = ["availability_badge", "feed", "status_badge", "statuspage_incidents",
           "statuspage_maintenances", "statuspage_status", "statuspage_summary"]

UPDATE_WORDS = {"investigating": N_("investigating"), "identified": N_("identified"),
                "monitoring": N_("monitoring"), "resolved": N_("resolved"),
                "in_progress": N_("in progress"), "completed": N_("completed")}

def _conditional(body: bytes, content_type: str, cache: str, language: str) -> CachedPage:
    """``body`` with a strong ETag (``304`` to a client that already has it), said to be
    in ``language`` as the pages are."""
    return CachedPage(body, content_type,
                      headers=(("Cache-Control", cache), ("Content-Language", language)))


def _incident_entry(incident: PublicIncident, tz: str, calendar: str,
                    reader: Language) -> dict[str, Any]:
    _ = reader.gettext
    service = incident.service_name
    started = reader.time(incident.start, tz, calendar)
    if incident.end is None:
        title = _("%(service)s: unavailable since %(at)s") % {"service": service, "at": started}
        text = _("%(service)s has been unavailable since %(at)s.") % {
            "service": service, "at": started}
    else:
        lasted = reader.duration((incident.end - incident.start).total_seconds())
        title = _("%(service)s: outage of %(duration)s (resolved)") % {
            "service": service, "duration": lasted}
        text = _("%(service)s was unavailable from %(start)s to %(end)s (%(duration)s).") % {
            "service": service, "start": started, "end": reader.time(incident.end, tz, calendar),
            "duration": lasted}
    if incident.cause != "provider":
        text += " " + _("Cause: %(cause)s.") % {
            "cause": _(PUBLIC_CAUSE_LABELS.get(incident.cause, incident.cause))}
    for update in incident.updates:
        text += "\n" + _("%(at)s, %(status)s: %(message)s") % {
            "at": reader.time(update.at, tz, calendar), "status": _(UPDATE_WORDS[update.status]),
            "message": update.message}
    # The id stays what it was when entries linked an anchor: readers do not see them anew.
    return {"id": f"/#incident-{incident.id}", "link": f"/incidents/{incident.id}",
            "title": title, "text": text, "published": incident.start,
            "updated": incident.updated_at}


def _window_entry(window: PublicWindow, tz: str, calendar: str,
                  reader: Language) -> dict[str, Any]:
    _ = reader.gettext
    what = _(", ").join(window.services) or _("hosted projects")
    if window.services and window.hosted_projects:
        what += _(" and some hosted projects")
    when = _("%(start)s to %(end)s") % {"start": reader.time(window.start, tz, calendar),
                                        "end": reader.time(window.end, tz, calendar)}
    text = _("Scheduled maintenance of %(what)s, %(when)s.") % {"what": what, "when": when}
    if window.reason:
        text += f" {window.reason}"
    for update in window.updates:
        text += "\n" + _("%(at)s, %(status)s: %(message)s") % {
            "at": reader.time(update.at, tz, calendar), "status": _(UPDATE_WORDS[update.status]),
            "message": update.message}
    # Its beginning and its end change the entry, as an incident's end changes its own.
    reached = {"scheduled": (), "in_progress": (window.start,),
               "completed": (window.start, window.end)}[window.state]
    updated = max([window.created_at, *reached, *(u.at for u in window.updates)])
    title = {"scheduled": _("Maintenance of %(what)s: %(when)s"),
             "in_progress": _("Maintenance of %(what)s (in progress): %(when)s"),
             "completed": _("Maintenance of %(what)s (completed): %(when)s")}[window.state]
    return {"id": f"/#maintenance-{window.id}", "link": f"/#maintenance-{window.id}",
            "title": title % {"what": what, "when": when},
            "text": text, "published": window.created_at, "updated": updated}


async def feed(call: Call) -> web.StreamResponse:
    """``/feed.atom``: the last 90 days' incidents of public services and maintenance."""
    found = await cached(call, ("feed", call.web.settings.reader().code),
                         lambda db: _feed(call, db))
    return found.response(call.request)


async def _feed(call: Call, db: Database) -> CachedPage:
    context = call.web
    settings = context.settings
    now = context.clock.now()
    incidents, windows = await actions.public_history(db, settings, now=now)
    tz, calendar = settings.timezone, settings.calendar
    reader = settings.reader()
    entries = [_incident_entry(i, tz, calendar, reader) for i in incidents]
    entries += [_window_entry(w, tz, calendar, reader) for w in windows]
    entries.sort(key=lambda entry: entry["updated"], reverse=True)
    # Empty: nothing changed in the feed's days, so it was last changed when they began.
    updated = entries[0]["updated"] if entries else history_since(settings, now)
    body = render("feed.atom", provider=settings.provider.name, base=context.public_url,
                  updated=updated, entries=entries[:100], language=reader, timezone=tz,
                  calendar=calendar).encode("utf-8")
    return _conditional(body, "application/atom+xml", "no-cache", reader.code)


# --- Statuspage-compatible JSON ----------------------------------------------------------------

def _page(status: PublicStatus, base: str) -> dict[str, Any]:
    return {"id": "sla-monitor", "name": status.provider, "url": base + "/",
            "time_zone": status.timezone, "updated_at": iso_utc(status.generated_at)}


def _components(status: PublicStatus) -> list[dict[str, Any]]:
    found = []
    for position, service in enumerate(status.services, start=1):
        found.append({
            "id": service.id, "name": service.name, "status": service.state,
            "created_at": None, "updated_at": iso_utc(service.since or status.generated_at),
            "position": position, "description": None, "showcase": True, "start_date": None,
            "group_id": None, "page_id": "sla-monitor", "group": False,
            "only_show_if_degraded": False,
        })
    if status.projects is not None:
        found.append({
            "id": "hosted-projects", "name": "Hosted projects", "status": status.projects.state,
            "created_at": None, "updated_at": iso_utc(status.generated_at),
            "position": len(found) + 1,
            "description": f"{status.projects.unavailable} of {status.projects.total} unavailable",
            "showcase": True, "start_date": None, "group_id": None, "page_id": "sla-monitor",
            "group": False, "only_show_if_degraded": False,
        })
    return found


def _statuspage_incident(incident: PublicIncident, status: PublicStatus,
                         base: str) -> dict[str, Any]:
    """An incident in Statuspage's shape: ``incident_updates`` newest first, the operators'
    updates with their status and message, the automatic entries as ``investigating``
    (``resolved`` for the end)."""
    updates = []
    for number, entry in enumerate(reversed(incident.timeline)):
        if entry.update is not None:
            body, state = entry.update.message, entry.update.status
        else:
            body = {"started": "Outage began.", "started_manual": "Outage began.",
                    "detected": "Detected by our monitoring.",
                    "resolved": "Resolved."}.get(entry.kind) or (
                f"Cause recorded: {PUBLIC_CAUSE_LABELS.get(entry.cause or '', entry.cause)}.")
            state = "resolved" if entry.kind == "resolved" else "investigating"
        updates.append({
            "id": f"{incident.id}-{len(incident.timeline) - number}",
            "status": state,
            "body": body, "incident_id": str(incident.id), "created_at": iso_utc(entry.at),
            "updated_at": iso_utc(entry.at), "display_at": iso_utc(entry.at),
            "affected_components": None, "deliver_notifications": False,
            "custom_tweet": None, "tweet_id": None,
        })
    return {
        "id": str(incident.id), "name": f"{incident.service_name} unavailable",
        "status": incident.status,
        "created_at": iso_utc(incident.start), "updated_at": iso_utc(incident.updated_at),
        "monitoring_at": next((iso_utc(u.at) for u in incident.updates
                               if u.status == "monitoring"), None),
        "resolved_at": iso_utc(incident.end) if incident.end else None,
        "impact": "major", "shortlink": f"{base}/incidents/{incident.id}",
        "started_at": iso_utc(incident.start), "page_id": "sla-monitor",
        "incident_updates": updates,
        "components": [c for c in _components(status) if c["id"] == incident.service],
    }


def _maintenance(window: PublicWindow, status: PublicStatus, base: str) -> dict[str, Any]:
    state = {"scheduled": "scheduled", "in_progress": "in_progress",
             "completed": "completed"}[window.state]
    names = set(window.services)
    updates = [{
        "id": f"maintenance-{window.id}-{update.id}", "status": update.status,
        "body": update.message, "incident_id": f"maintenance-{window.id}",
        "created_at": iso_utc(update.at), "updated_at": iso_utc(update.at),
        "display_at": iso_utc(update.at), "affected_components": None,
        "deliver_notifications": True, "custom_tweet": None, "tweet_id": None,
    } for update in reversed(window.updates)]
    updated = max([window.created_at, *(u.at for u in window.updates)])
    return {
        "id": f"maintenance-{window.id}", "name": "Scheduled maintenance",
        "status": state, "created_at": iso_utc(window.created_at),
        "updated_at": iso_utc(updated), "monitoring_at": None, "resolved_at": None,
        "impact": "maintenance", "shortlink": f"{base}/#maintenance-{window.id}",
        "started_at": iso_utc(window.start), "page_id": "sla-monitor",
        "incident_updates": updates, "scheduled_for": iso_utc(window.start),
        "scheduled_until": iso_utc(window.end),
        "components": [c for c in _components(status)
                       if c["name"] in names or (c["id"] == "hosted-projects"
                                                 and window.hosted_projects)],
    }


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False),
                        content_type="application/json",
                        headers={"Cache-Control": "no-cache",
                                 "Access-Control-Allow-Origin": "*"})


async def statuspage_summary(call: Call) -> web.StreamResponse:
    context = call.web
    status = await actions.public_status(context.db, context.settings, now=context.clock.now())
    return _json({
        "page": _page(status, context.public_url),
        "components": _components(status),
        "incidents": [_statuspage_incident(i, status, context.public_url)
                      for i in status.incidents],
        "scheduled_maintenances": [_maintenance(w, status, context.public_url)
                                   for w in status.maintenance],
        "status": {"indicator": status.indicator, "description": status.description},
    })


async def statuspage_incidents(call: Call) -> web.StreamResponse:
    """``/api/v2/incidents.json``: the open incidents and those of the last 90 days, newest
    first (Statuspage: the 50 most recent)."""
    return await _newest(call, "incidents", lambda s: [*s.incidents, *s.past_incidents],
                         _statuspage_incident)


async def statuspage_maintenances(call: Call) -> web.StreamResponse:
    """``/api/v2/scheduled-maintenances.json``: announced, running and completed (the last
    90 days) maintenance, newest first (Statuspage: the 50 most recent)."""
    return await _newest(call, "scheduled_maintenances",
                         lambda s: [*s.maintenance, *s.past_maintenance], _maintenance)


async def _newest(call: Call, key: str, chosen: Callable[[PublicStatus], list[Any]],
                  shown: Callable[[Any, PublicStatus, str], dict[str, Any]]) -> web.StreamResponse:
    """The page and the 50 most recent of what ``chosen`` picks, newest first, each as
    ``shown`` writes it (a Statuspage list)."""
    context = call.web
    status = await actions.public_status(context.db, context.settings, now=context.clock.now())
    newest = sorted(chosen(status), key=lambda item: (item.start, item.id), reverse=True)[:50]
    return _json({"page": _page(status, context.public_url),
                  key: [shown(item, status, context.public_url) for item in newest]})


async def statuspage_status(call: Call) -> web.StreamResponse:
    context = call.web
    status = await actions.public_status(context.db, context.settings, now=context.clock.now())
    return _json({"page": _page(status, context.public_url),
                  "status": {"indicator": status.indicator, "description": status.description}})


# --- badges ------------------------------------------------------------------------------------

_COLORS = {
    # White text on each at least 4.5:1 (WCAG AA), as on the page's banners.
    "operational": "#2e7d32", "degraded_performance": "#7a5f00", "partial_outage": "#b45309",
    "major_outage": "#c62828", "under_maintenance": "#1565c0",
}
_WORDS = {
    "operational": N_("operational"), "degraded_performance": N_("degraded"),
    "partial_outage": N_("partial outage"), "major_outage": N_("major outage"),
    "under_maintenance": N_("maintenance"),
}


def _width(text: str) -> int:
    """Verdana 11 px is about 6.5 px a character, plus 10 px of padding."""
    return int(len(text) * 6.5) + 10


def _badge(label: str, text: str, color: str, language: str) -> CachedPage:
    body = render("badge.svg", label=label, message=text, color=color,
                  label_width=_width(label), message_width=_width(text)).encode("utf-8")
    return _conditional(body, "image/svg+xml", "public, max-age=60", language)


async def _service(call: Call, db: Database) -> tuple[PublicStatus, Any]:
    context = call.web
    status = await actions.public_status(db, context.settings, now=context.clock.now())
    wanted = call.path("service")
    for service in status.services:
        if service.id == wanted:
            return status, service
    raise NotFound("service", wanted, "a public service id (the web panel, the mobile API)")


async def status_badge(call: Call) -> web.StreamResponse:
    async def badge(db: Database) -> CachedPage:
        _, service = await _service(call, db)
        reader = call.web.settings.reader()
        return _badge(service.name, reader.gettext(_WORDS[service.state]),
                      _COLORS[service.state], reader.code)

    return await _cached_badge(call, "status", badge)


async def availability_badge(call: Call) -> web.StreamResponse:
    async def badge(db: Database) -> CachedPage:
        status, service = await _service(call, db)
        percent = service.month_availability_percent
        target = call.web.settings.policy.target_percent
        color = "#2e7d32" if percent >= target else "#c62828"
        reader = call.web.settings.reader()
        calendar = call.web.settings.calendar
        if reader.code == "en":
            return _badge(f"{service.name} {status.month}", f"{format_percent(percent)}%",
                          color, reader.code)
        return _badge(f"{service.name} {reader.month(status.month, calendar)}",
                      reader.percent(percent, sign=True), color, reader.code)

    return await _cached_badge(call, "availability", badge)


async def _cached_badge(call: Call, kind: str,
                        badge: Callable[[Database], Awaitable[CachedPage]]) -> web.StreamResponse:
    """A badge of a public service, from the pages' cache; an id that is not one is the
    InputError it always was (before the cache: no key for every id tried)."""
    wanted = call.path("service")
    if wanted not in public_service_ids(call.web.settings.topology):
        raise NotFound("service", wanted,
                         "a public service id (the web panel, the mobile API)")
    found = await cached(call, ("badge", kind, wanted, call.web.settings.reader().code), badge)
    return found.response(call.request)
