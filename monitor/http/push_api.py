"""``POST /api/v1/push/{target}``: a push target's job says it is alive
(:mod:`monitor.probes.push`), with a ``push:ID`` token (or an operator's write token).

The push URLs of Uptime Kuma and Gatus are answered too, so that a job moved from either
keeps its URL's path and token (the host name changes): Kuma's ``/api/push/TOKEN`` (any
method, the token in the path) and Gatus's ``POST /api/v1/endpoints/KEY/external`` (the
token in ``Authorization``; the token says which target, not the key). Each token is a
``push:ID`` line of ``http.tokens_file``, as the imports print it (hashed)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from monitor import actions
from monitor.actions import PushReceived
from monitor.errors import InputError
from monitor.http.problems import problem
from monitor.http.routing import Call, Reply, Route
from monitor.http.schemas import GatusPushQuery, KumaPushQuery, PushQuery

__all__ = ["ROUTES"]


async def push(call: Call) -> Reply:
    query: PushQuery = call.query
    return await _record(call, call.path("target"), query.status, query.message)


async def kuma_push(call: Call) -> Reply | web.Response:
    # Public: the token is the path's, found as any (monitor.http.auth).
    found = call.web.tokens.find(call.path("token"))
    if found is None or found.target is None:
        return problem(404, "not_found", "no push target has this token (a push:ID line of "
                       "http.tokens_file)")
    query: KumaPushQuery = call.query
    return await _record(call, found.target, query.status, query.msg, said="msg")


async def kuma_push_posted(call: Call) -> Reply | web.Response:
    """Kuma answers its push URL with any method: POST as GET."""
    return await kuma_push(call)


async def gatus_push(call: Call) -> Reply | web.Response:
    target = None if call.principal is None else call.principal.target
    if target is None:  # an operator's write token names no target
        return problem(403, "forbidden", "this route takes the push:ID token of the target")
    query: GatusPushQuery = call.query
    return await _record(call, target, "up" if query.success else "down", query.error,
                         said="error")


async def _record(call: Call, target: str, status: Literal["up", "down"],
                  message: str | None, said: str = "message") -> Reply:
    """The push kept; a refused message named as the URL's query said it (``said``)."""
    try:
        return Reply(200, await actions.record_push(
            call.web.pushes, call.web.settings, target=target, status=status, message=message,
            now=call.web.clock.now()))
    except InputError as exc:
        raise exc.renamed(lambda field: said if field == "message" else field) from None


_ANSWERS = {200: PushReceived, 401: "Problem", 403: "Problem", 404: "Problem", 422: "Problem"}
_KUMA = ("Uptime Kuma's push URL: a job moved from Kuma keeps its path and token (a push:ID "
         "line of http.tokens_file, as the Kuma import prints it); status and msg as Kuma "
         "reads them, ping accepted and not kept. The same as POST /api/v1/push/{target}.")

ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/push/{target}", push,
          "A push target's job says it is alive (or down, with a message)", "push", "push",
          query=PushQuery, answers=_ANSWERS, path_ids={"target": "target"},
          description="Call it at least once every interval of the target's probe (type "
          "push); none within the interval and its timeout is an outage (failure class "
          "timeout), and status=down is one too (condition, the message its detail). The "
          "last push before each check counts. Token: push:TARGET (sla-monitor token new "
          "push:TARGET), or an operator's write token. The daemon keeps the last push of "
          "each target (in memory at once, in the database within a second, where a "
          "cluster's other nodes read it)."),
    Route("GET", "/api/push/{token}", kuma_push, "Uptime Kuma's push URL (GET)", "public",
          "push", query=KumaPushQuery, answers=_ANSWERS, description=_KUMA),
    Route("POST", "/api/push/{token}", kuma_push_posted, "Uptime Kuma's push URL (POST)", "public",
          "push", query=KumaPushQuery, answers=_ANSWERS, description=_KUMA),
    Route("POST", "/api/v1/endpoints/{key}/external", gatus_push,
          "Gatus's external endpoint URL", "push", "push", query=GatusPushQuery,
          answers=_ANSWERS,
          description="A job moved from Gatus keeps its URL and token (Authorization: Bearer; "
          "a push:ID line of http.tokens_file, as the Gatus import prints it); the token "
          "says which target, whatever the key. success=false is down with error as its "
          "message; duration is accepted and not kept."),
)
