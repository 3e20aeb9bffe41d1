"""The HTTP API's routes, declared once: the aiohttp router and the OpenAPI document are
both built from the same :class:`Route` list, so that neither has a path the other lacks.

A route says who may call it (:data:`Access`), which pydantic model its body and query
string are validated with, and what it answers. :func:`endpoint` wraps its handler with
everything routes share, in this order:

1. **who**: the bearer token (:mod:`monitor.http.auth`): none → 401, unknown or revoked
   → 401, a read token on a write → 403, a customer token on an operator route → 403,
   on another customer's data → 404 (the same answer as for a customer that does not
   exist: existence would leak); a push token may push for its own target only (another
   target's: 404 too), and do nothing else;
2. **the path's ids**: an integer id (``{incident_id}``...) that is not a positive ASCII
   integer below 2**31 names nothing: 404, before the body is read (:func:`parse_id`);
3. **one at a time** (``one_at_a_time``): a call while another of the route is answered
   is 429 with ``Retry-After``, before its body is read;
4. **the body**: at most :data:`BODY_LIMIT` bytes (a configuration's YAML:
   ``http.max_config_bytes``; else 413), JSON (else 415) nested at
   most :data:`JSON_DEPTH_LIMIT` deep (else 422: a deeper document is refused before it
   is parsed, never a recursion error), fitting the model (else 422 with a JSON pointer
   per field);
5. **once**: a write with an ``Idempotency-Key`` runs in one transaction with the record
   of its answer; a retry gets that answer (``Idempotent-Replayed: true``), the same key
   with a different request 422, a concurrent twin 409;
6. **errors**: an action's :class:`~monitor.errors.InputError` → 422 naming the field
   (a path's parameter by its name: a decided claim's ``claim_id``), but an id in the path
   that names nothing (:class:`~monitor.errors.NotFound`) → 404; a
   :class:`~monitor.errors.ConfigError` → 422 with each issue's pointer.

Most routes only read their input, call one action and answer its result: their handler
is declared with :func:`bind` (the action, where each of its arguments comes from, how
its result is answered) instead of written out; a route with more to do keeps a function.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from aiohttp import web
from pydantic import BaseModel, ValidationError

from monitor.errors import ConfigError, InputError, NotFound
from monitor.http.auth import Principal
from monitor.http.context import WEB, Web
from monitor.http.problems import (
    LONE_SURROGATE,
    echoed,
    from_input_error,
    from_validation_error,
    not_unicode,
    not_utf8,
    pointer,
    problem,
)
from monitor.present import as_json, parse_time, report_json_text
from monitor.sla import MonthReport
from monitor.store import idempotency

__all__ = [
    "BODY_LIMIT",
    "JSON_DEPTH_LIMIT",
    "READS",
    "WRITES",
    "Access",
    "Call",
    "Input",
    "Reply",
    "Route",
    "actor",
    "bind",
    "endpoint",
    "form_fields",
    "json_depth",
    "lone_surrogate",
    "now",
    "parse_id",
    "path",
    "path_id",
    "read_limited",
]

BODY_LIMIT = 64 * 1024  # a JSON request body

Access = Literal["public", "read", "write", "customer_read", "customer_write", "push"]
Kind = Literal["json", "html", "text", "xml", "svg", "yaml", "form", "zip"]
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces
RETRY_AFTER = 5  # seconds, for a route answered one at a time (a check takes a few)
JSON_DEPTH_LIMIT = 64  # arrays and objects inside each other; no request needs more than 4
# Numbers, ids, expiries and tokens are read as ASCII only: ``[0-9]`` is ASCII in every
# mode (``\d`` and ``str.isdigit`` accept "²" and "٣", which ``int`` then refuses).
_ID = re.compile(r"[1-9][0-9]{0,9}")
ID_LIMIT = 2**31  # the store's integer keys
_PATH_ID = re.compile(r"\{(\w+_id)\}")


def parse_id(text: str) -> int | None:
    """An id as a path carries it: a positive ASCII integer below 2**31, else None (a
    text that names nothing, answered as an id that does not exist).

    >>> parse_id("42"), parse_id("²"), parse_id("-1"), parse_id("1e3"), parse_id("9" * 40)
    (42, None, None, None, None)
    """
    if _ID.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value < ID_LIMIT else None


_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth(raw: bytes, limit: int = JSON_DEPTH_LIMIT) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects at most ``limit`` deep
    (brackets inside strings do not count), found without parsing it: the parser itself
    recurses once per level and fails with a RecursionError near a thousand.

    >>> json_depth(b'[[1]]', 2), json_depth(b'[[[1]]]', 2), json_depth(b'["[[[["]', 2)
    (True, False, True)
    """
    depth = 0
    for found in _JSON_TOKENS.finditer(raw):
        token = found[0]
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return False
        elif token in (b"]", b"}"):
            depth -= 1
    return True


@dataclass(frozen=True)
class Reply:
    """A JSON answer: a status and a body (a typed result is turned into JSON by
    :func:`monitor.present.as_json`)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One request, as a handler sees it: who, the validated body and query, the web."""

    request: web.Request
    web: Web
    principal: Principal | None
    body: Any = None
    query: Any = None

    @property
    def actor(self) -> str:
        return self.principal.actor if self.principal is not None else "anonymous"

    def path(self, name: str) -> str:
        return self.request.match_info[name]

    def id(self, name: str) -> int:
        """The integer id ``name`` of the path (:func:`parse_id`); an InputError (404 for a
        route's ``path_ids``) when it is not one."""
        raw = self.path(name)
        found = parse_id(raw)
        if found is None:
            raise NotFound(name, raw, f"an existing {name.removesuffix('_id')} id")
        return found


    def customer(self) -> str:
        """The path's ``{customer}``, a configured customer; else an InputError (404 for a
        route's ``path_ids``)."""
        customer = self.path("customer")
        if customer not in self.web.settings.topology.customers:
            raise NotFound("customer", customer, "a configured customer id")
        return customer


Handler = Callable[[Call], Awaitable[Reply | web.StreamResponse]]
Input = Callable[[Call], Any]
"""One argument of an action, read from the call (:func:`bind`)."""


def actor(call: Call) -> str:
    """Who calls (the audit log's actor)."""
    return call.actor


def now(call: Call) -> Any:
    """The daemon's clock."""
    return call.web.clock.now()


READS: Mapping[str, Input] = {"now": now}
"""What a reading action takes besides its input: the time."""
WRITES: Mapping[str, Input] = {"actor": actor, "now": now}
"""What a writing action takes besides its input: who (for the audit log) and the time."""


def path(name: str) -> Input:
    """The path's parameter ``name`` as it is."""
    return lambda call: call.path(name)


def path_id(name: str) -> Input:
    """The path's integer id ``name`` (:meth:`Call.id`)."""
    return lambda call: call.id(name)


def bind(
    action: Callable[..., Awaitable[Any]],
    *,
    name: str | None = None,
    status: int = 200,
    settings: bool = True,
    times: tuple[str, ...] = (),
    rename: Mapping[str, str] | None = None,
    inputs: Mapping[str, Input] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> Handler:
    """The handler of a route that only reads its input, calls ``action`` and answers its
    result with ``status``. The action is called with the database (and the settings
    unless ``settings`` is false) and, as keywords: the fields of the route's query string
    and body (its input models; ``rename`` maps a field to the action's keyword), the body's
    ``times`` read as times in the provider's zone (:func:`monitor.present.parse_time`,
    naming the field), then each of ``inputs`` read from the call in order, then ``fixed``.
    Its name (the OpenAPI operation id) is ``name``, by default the action's."""
    renamed = dict(rename or {})
    readers = dict(inputs or {})
    constants = dict(fixed or {})

    async def handler(call: Call) -> Reply:
        arguments: dict[str, Any] = {}
        for model in (call.query, call.body):
            if isinstance(model, BaseModel):
                arguments.update((renamed.get(key, key), value) for key, value in model)
        zone = call.web.settings.timezone
        for field_name in times:
            text = getattr(call.body, field_name)
            arguments[renamed.get(field_name, field_name)] = (
                None if text is None else parse_time(text, zone, field_name))
        arguments.update((key, read(call)) for key, read in readers.items())
        arguments.update(constants)
        leading = (call.web.db, call.web.settings) if settings else (call.web.db,)
        try:
            return Reply(status, await action(*leading, **arguments))
        except InputError as exc:
            # A time the action refused is shown as the client typed it, then as read.
            typed = getattr(call.body, exc.field, None) if exc.field in times else None
            raise exc.as_typed(typed) from None

    handler.__name__ = handler.__qualname__ = name or action.__name__
    return handler


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str
    body: type[BaseModel] | type[str] | None = None
    body_kind: Kind = "json"
    query: type[BaseModel] | None = None
    answers: Mapping[int, Any] = field(default_factory=dict)  # status -> type (None: no body)
    produces: Kind = "json"
    description: str = ""
    idempotent_key: bool = False  # honours Idempotency-Key
    path_ids: Mapping[str, str] = field(default_factory=dict)  # action field -> path parameter
    form: type[BaseModel] | None = None  # a page's form, read by its handler (documented)
    one_at_a_time: bool = False  # another call meanwhile: 429 with Retry-After

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.lstrip("_")


async def read_limited(request: web.Request, limit: int) -> bytes | web.Response:
    """The body, or a 413 answer once it passes ``limit`` bytes (declared or streamed)."""
    too_large = problem(413, "too_large", f"the request body is over {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    chunks = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        chunks += chunk
        if len(chunks) > limit:
            return too_large
    return bytes(chunks)


def form_fields(raw: bytes, max_fields: int = 100) -> dict[str, list[str]]:
    """A posted form's fields (each a list of its values), read strictly: a byte that is
    not UTF-8, raw or percent-escaped (``caf%E9``), is :class:`UnicodeDecodeError` (it was
    read as U+FFFD, a character nobody typed, and stored); more than ``max_fields`` fields
    :class:`ValueError` (its base class: catch the decoding error first)."""
    return parse_qs(raw.decode("utf-8"), max_num_fields=max_fields, errors="strict")


_TOKEN = re.compile(r"[\x21-\x7e]{1,1024}")
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="sla-monitor"'}
_INVALID = {"WWW-Authenticate": 'Bearer realm="sla-monitor", error="invalid_token"'}


def authenticate(request: web.Request, context: Web) -> Principal | web.Response | None:
    """The caller, None without a token, or a 401 answer for a token that is not valid."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    # A token is printable ASCII (a header's other bytes arrive as surrogates): anything
    # else is not valid, and is never hashed.
    if scheme.lower() != "bearer" or _TOKEN.fullmatch(token) is None:
        return problem(401, "invalid_token", "expected 'Authorization: Bearer TOKEN'",
                       headers=_INVALID)
    principal = context.tokens.find(token)
    if principal is None:
        return problem(401, "invalid_token", "the token is not valid (unknown or revoked)",
                       headers=_INVALID)
    return principal


def _admit(route: Route, request: web.Request, principal: Principal | None) -> web.Response | None:
    """None when ``principal`` may make this call, else the answer that says why not."""
    if route.access == "public":
        return None
    if principal is None:
        return problem(401, "unauthorized", "a bearer token is required "
                       "(Authorization: Bearer TOKEN)", headers=_UNAUTHORIZED)
    if route.access in ("read", "write") and not principal.operator:
        return problem(403, "forbidden", "operators only: a customer token may read and "
                       "write only its own customer's data")
    if route.access == "write" and not principal.may_write:
        return problem(403, "forbidden", "this token may read, not write")
    if route.access.startswith("customer") and not principal.operator:
        if principal.customer != request.match_info.get("customer"):
            return problem(404, "not_found", "no such customer")
    if route.access == "customer_write" and principal.operator and not principal.may_write:
        return problem(403, "forbidden", "this token may read, not write")
    if route.access == "push" and not principal.may_write:
        if principal.scope != "push":
            return problem(403, "forbidden", "a push:ID token pushes for target ID (or an "
                           "operator's write token)")
        named = request.match_info.get("target")  # none: the token says which (Gatus's route)
        if named is not None and principal.target != named:
            return problem(404, "not_found", "no such push target")  # as a customer's
    return None


def _query(route: Route, request: web.Request) -> Any:
    assert route.query is not None
    values: dict[str, Any] = {}
    for name in request.query:
        got = request.query.getall(name)
        values[name] = got[0] if len(got) == 1 else got
    return route.query.model_validate(values)


def _config_error(exc: ConfigError) -> web.Response:
    items = []
    for issue in exc.issues:
        parts = [p for p in re.split(r"[.\[\]]+", issue.path) if p]
        shown = pointer([int(p) if re.fullmatch(r"[0-9]{1,9}", p) else p for p in parts])
        if issue.path.startswith("("):
            shown = ""
        items.append({"pointer": shown, "value": echoed(issue.value), "allowed": str(issue)})
    return problem(422, "invalid", str(exc).splitlines()[0] + ": " + str(exc.issues[0]), items)


def _encode(body: Any, kept: bool) -> tuple[Any, str]:
    """The JSON value of ``body`` if ``kept`` (else None), and its text. A month's report is
    written without its value (:func:`monitor.present.report_json_text`: at 10,000
    customers 143 MB of JSON values), the same text."""
    if isinstance(body, MonthReport) and not kept:
        return None, report_json_text(body, indented=False)
    shown = as_json(body)
    return shown, json.dumps(shown, ensure_ascii=False)


async def _answer(reply: Reply | web.StreamResponse, *, kept: bool = False
                  ) -> tuple[web.StreamResponse, Any]:
    """The response, and the JSON value it carries if ``kept`` (an idempotent write keeps
    it), else None. A month's report of every customer is megabytes: it is encoded off the
    event loop."""
    if isinstance(reply, web.StreamResponse):
        return reply, None
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers), None
    if isinstance(reply.body, list | tuple) or hasattr(reply.body, "to_json"):
        shown, text = await asyncio.to_thread(_encode, reply.body, kept)
    else:
        shown, text = _encode(reply.body, kept)
    response = web.Response(status=reply.status, text=text, content_type="application/json",
                            headers=reply.headers)
    return response, shown


def endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``route``: who, body, once, errors (see the module)."""
    parameters = {*re.findall(r"\{(\w+)", route.path),
                  *(route.query.model_fields if route.query else ())}
    # The pages answer a bad id with their own page (monitor.http.pages).
    integer_ids = _PATH_ID.findall(route.path) if route.path.startswith("/api/") else []

    async def handle(request: web.Request) -> web.StreamResponse:
        context = request.app.get(WEB)
        if context is None:  # metrics and health only, before the database is open
            answer, _ = await _answer(await route.handler(Call(request, None, None)))  # type: ignore[arg-type]
            return answer
        principal: Principal | None = None
        if route.access != "public":
            found = authenticate(request, context)
            if isinstance(found, web.Response):
                return found
            principal = found
        refused = _admit(route, request, principal)
        if refused is not None:
            return refused
        for name in integer_ids:
            given = request.match_info[name]
            if parse_id(given) is None:
                return problem(404, "not_found", str(InputError(
                    name, given, f"an existing {name.removesuffix('_id')} id")))
        call = Call(request, context, principal)
        if route.one_at_a_time:
            running = context.running.setdefault(route.operation_id, asyncio.Lock())
            if running.locked():  # refused before its body is read
                return problem(429, "busy", "another such request is being answered; "
                               "one runs at a time",
                               headers={"Retry-After": str(RETRY_AFTER)})
            async with running:
                return await serve(call)
        return await serve(call)

    async def serve(call: Call) -> web.StreamResponse:
        request, context = call.request, call.web
        raw = b""
        try:
            if route.query is not None:
                undecodable = not_utf8(request.rel_url.raw_query_string)
                if undecodable is not None:
                    return undecodable
                try:
                    call.query = _query(route, request)
                except ValidationError as exc:
                    return from_validation_error(exc, parameters=True)
            if route.body is not None:
                limit = (context.settings.http.max_config_bytes if route.body_kind == "yaml"
                         else BODY_LIMIT)
                read = await read_limited(request, limit)
                if isinstance(read, web.Response):
                    return read
                raw = read
                parsed = _body(route, request, raw)
                if isinstance(parsed, web.Response):
                    return parsed
                call.body = parsed
            key = request.headers.get("Idempotency-Key")
            if route.idempotent_key and key is not None:
                return await _once(route, call, key, raw)
            answer, _ = await _answer(await route.handler(call))
            return answer
        except InputError as exc:
            # The path's words for the action's fields (customer_id -> customer): an id
            # that names nothing is 404; a known one that the action refuses (a claim
            # already decided) is 422 naming the parameter, as the CLI's "ID: ...".
            if isinstance(exc, NotFound) and exc.field in route.path_ids:
                return problem(404, "not_found", str(exc.renamed(
                    lambda f: route.path_ids.get(f, f))))
            return from_input_error(exc, parameters, route.path_ids)
        except ConfigError as exc:
            return _config_error(exc)

    handle.__name__ = route.operation_id
    return handle


def _body(route: Route, request: web.Request, raw: bytes) -> Any:
    assert route.body is not None
    if route.body_kind == "yaml":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if not text.strip():
            return problem(422, "invalid", "the body is not a configuration",
                           [{"pointer": "", "value": None,
                             "allowed": "a non-empty UTF-8 YAML document"}])
        return text
    if request.content_type != "application/json":
        return problem(415, "unsupported_media_type",
                       f"expected Content-Type: application/json, not {request.content_type!r}")
    if not json_depth(raw):
        return problem(422, "invalid", f"the body is JSON nested deeper than "
                       f"{JSON_DEPTH_LIMIT} arrays and objects",
                       [{"pointer": "", "value": None, "allowed": f"JSON nested at most "
                         f"{JSON_DEPTH_LIMIT} deep"}])
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return problem(422, "invalid", "the body is not JSON",
                       [{"pointer": "", "value": None, "allowed": "a JSON object"}])
    found = lone_surrogate(document)
    if found is not None:
        where, text = found
        return not_unicode(pointer(where), text)
    try:
        return route.body.model_validate(document)  # type: ignore[union-attr]
    except ValidationError as exc:
        return from_validation_error(exc, parameters=False)


def lone_surrogate(document: Any, where: tuple[str | int, ...] = ()
                   ) -> tuple[tuple[str | int, ...], str] | None:
    r"""Where the JSON ``document`` holds the first string (a value or a key) that is not
    Unicode text, and that string: JSON may escape half of a surrogate pair alone
    (``"\ud800"``), which no UTF-8 text, nor the database, can hold.

    >>> lone_surrogate({"services": ["panel", "\ud800"]})
    (('services', 1), '\ud800')
    >>> lone_surrogate({"note": "\U0001f600"}) is None  # a pair is one character
    True
    """
    if isinstance(document, str):
        return (where, document) if LONE_SURROGATE.search(document) else None
    items: Any = ()
    if isinstance(document, dict):
        for key in document:
            if LONE_SURROGATE.search(key):
                return (*where, key), key
        items = document.items()
    elif isinstance(document, list):
        items = enumerate(document)
    for key, value in items:
        found = lone_surrogate(value, (*where, key))
        if found is not None:
            return found
    return None


async def _once(route: Route, call: Call, key: str, raw: bytes) -> web.StreamResponse:
    """A keyed write: the write and the record of its answer in one transaction."""
    if not _KEY.fullmatch(key):
        return problem(422, "invalid", "Idempotency-Key: printable ASCII without spaces, "
                       "at most 200 characters", [{"parameter": "Idempotency-Key",
                                                   "value": key[:200], "allowed": "1-200 "
                                                   "printable ASCII characters"}])
    request = call.request
    digest = hashlib.sha256(raw).hexdigest()
    now = call.web.clock.now()
    db = call.web.db
    try:
        async with db.transaction() as tx:
            stored = await idempotency.find(tx, call.actor, key)
            if stored is not None:
                if (stored.method, stored.path, stored.request_hash) != (
                        request.method, request.path, digest):
                    return problem(422, "invalid", "this Idempotency-Key was used for a "
                                   "different request", [{"parameter": "Idempotency-Key",
                                                          "value": key, "allowed": "a new key "
                                                          "for a different request"}])
                response = web.Response(
                    status=stored.status,
                    text=json.dumps(stored.response, ensure_ascii=False),
                    content_type="application/json",
                )
                response.headers["Idempotent-Replayed"] = "true"
                return response
            reply = await route.handler(call)
            answer, shown = await _answer(reply, kept=True)
            if isinstance(reply, Reply) and 200 <= reply.status < 300:
                await idempotency.purge(tx, now)
                await idempotency.store(
                    tx, actor=call.actor, key=key, method=request.method, path=request.path,
                    request_hash=digest, status=reply.status, response=shown, at=now,
                )
            return answer
    except idempotency.KeyInUse:
        return problem(409, "conflict", "a request with this Idempotency-Key is being "
                       "answered; retry it in a moment")
