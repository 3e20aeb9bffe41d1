"""Error answers, one shape for all (:class:`monitor.http.schemas.Problem`): what kind, one
line for people, and the fields at fault, each as a JSON pointer into the body
(``/end``) or a parameter name (``month``). Nothing else: no traceback, no token.

A reply echoes what the client sent, and JSON may spell text no UTF-8 can hold (a lone
surrogate, ``"\\ud800"``): every string of a reply is made encodable in one place
(:func:`problem`), the surrogate shown as the escape the client typed.

An action's :class:`~monitor.errors.InputError` names its field in the action's words;
:func:`from_input_error` says it in the API's (``end`` → ``/end``), and a field that the
route takes from its path or query string is named as that parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from pydantic import ValidationError

from monitor.errors import InputError, shortened

__all__ = [
    "LONE_SURROGATE",
    "echoed",
    "encodable",
    "from_input_error",
    "from_validation_error",
    "not_unicode",
    "not_utf8",
    "pointer",
    "problem",
]

#: A surrogate code point on its own: Python's text from JSON holds each pair as one
#: character, so any left is lone, and no UTF-8 text (nor a database's) can hold it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(value: Any) -> Any:
    r"""``value`` with every string (keys too) fit for UTF-8: a lone surrogate shown as the
    JSON escape that sent it.

    >>> encodable({"note": "a\ud800b", "n": [1, "\udfff"]})
    {'note': 'a\\ud800b', 'n': [1, '\\udfff']}
    """
    if isinstance(value, str):
        return LONE_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", value)
    if isinstance(value, dict):
        return {encodable(key): encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value


def problem(status: int, error: str, detail: str, errors: Sequence[dict[str, Any]] = (),
            headers: dict[str, str] | None = None) -> web.Response:
    body = encodable({"error": error, "detail": detail, "errors": list(errors)})
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, default=str),
        content_type="application/json",
        headers=headers,
    )


def pointer(parts: Sequence[str | int]) -> str:
    """RFC 6901: ``("services", 0)`` → ``/services/0`` (``~`` and ``/`` escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def echoed(value: Any) -> Any:
    """``value`` as an error reply's ``"value"`` shows it: JSON, each text in it
    :func:`~monitor.errors.shortened` as the command line shows it."""
    value = _jsonable(value)
    if isinstance(value, dict):
        return {key: echoed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [echoed(item) for item in value]
    return shortened(value)


# pydantic's words for a value of a type the project names in its own (one reading of a
# month, monitor.sla.calendar.month_period, says its own; ids and times are strings).
_OUR_WORDS = {
    "bool_parsing": "true or false (also 1 or 0, yes or no, on or off)",
    "bool_type": "true or false",
}


def from_validation_error(exc: ValidationError, parameters: bool) -> web.Response:
    """A body (or query string) that does not fit its model: 422, every field at fault;
    the first in one line, as an :class:`InputError` says it when it had a value."""
    errors = []
    for error in exc.errors(include_url=False):
        where = error["loc"]
        allowed = _OUR_WORDS.get(error["type"], error["msg"])
        item: dict[str, Any] = {"allowed": allowed, "value": echoed(error.get("input"))}
        if parameters:
            item["parameter"] = ".".join(str(p) for p in where)
        else:
            item["pointer"] = pointer(where)
        errors.append(item)
    first = errors[0]
    name = first.get("pointer") or first.get("parameter") or "(body)"
    detail = f"{name}: {first['allowed']}"
    if exc.errors()[0]["type"] in _OUR_WORDS:
        detail = str(InputError(name, first["value"], first["allowed"]))
    return problem(422, "invalid", detail, errors)


def from_input_error(exc: InputError, parameters: Collection[str] = (),
                     in_path: Mapping[str, str] | None = None) -> web.Response:
    """An action refused a value: 422 naming the field as the API does, showing the value
    as the client typed it (:meth:`InputError.as_typed`) when the edge read it into
    another form (a time). ``in_path``: the action's fields the route's path carries, and
    the path's name for each (a query's or the path's parameter is named as it is)."""
    path_names = in_path or {}

    def name(field: str) -> str:
        found = path_names.get(field, field)
        return found if found in parameters else pointer([field])

    renamed = exc.renamed(name)
    typed = exc.value if exc.typed is None else exc.typed
    item: dict[str, Any] = {"allowed": renamed.allowed, "value": echoed(typed)}
    if name(exc.field) in parameters:
        item["parameter"] = name(exc.field)
    else:
        item["pointer"] = pointer([exc.field])
    return problem(422, "invalid", str(renamed), [item])


def not_unicode(where: str, text: str) -> web.Response:
    """A JSON body's string at the pointer ``where`` holds a lone surrogate: 422."""
    lone = encodable(LONE_SURROGATE.findall(text)[0])
    allowed = (f"text that is valid Unicode ({lone} is a lone surrogate, half of a pair, "
               "which is not valid Unicode)")
    return problem(422, "invalid", str(InputError(where, text, allowed)),
                   [{"pointer": where, "value": echoed(text), "allowed": allowed}])


def not_utf8(query: str) -> web.Response | None:
    """A 422 naming the first parameter of the raw query string ``query`` whose
    percent-escapes are bytes that are not UTF-8 (``service=%ED%A0%80``), showing it as
    typed; None when every one is text. (aiohttp would read them as U+FFFD, a value the
    client never sent.)"""
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        try:
            for part in (name, value):
                unquote_to_bytes(part.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            allowed = "text in UTF-8 (these percent-escaped bytes are not UTF-8)"
            return problem(422, "invalid", str(InputError(name, value, allowed)),
                           [{"parameter": name, "value": echoed(value), "allowed": allowed}])
    return None
