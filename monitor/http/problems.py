"""Error answers, one shape for all (:class:`monitor.http.schemas.Problem`): what kind, one
line for people, and the fields at fault, each as a JSON pointer into the body
(``/end``) or a parameter name (``month``). Nothing else: no traceback, no token.

An action's :class:`~monitor.errors.InputError` names its field in the action's words;
:func:`from_input_error` says it in the API's (``end`` → ``/end``), and a field that the
route takes from its path or query string is named as that parameter.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from monitor.errors import InputError

__all__ = ["from_input_error", "from_validation_error", "pointer", "problem"]


def problem(status: int, error: str, detail: str, errors: Sequence[dict[str, Any]] = (),
            headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": error, "detail": detail, "errors": list(errors)}
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


def from_validation_error(exc: ValidationError, parameters: bool) -> web.Response:
    """A body (or query string) that does not fit its model: 422, every field at fault."""
    errors = []
    for error in exc.errors(include_url=False):
        where = error["loc"]
        item: dict[str, Any] = {"allowed": error["msg"], "value": _jsonable(error.get("input"))}
        if parameters:
            item["parameter"] = ".".join(str(p) for p in where)
        else:
            item["pointer"] = pointer(where)
        errors.append(item)
    first = errors[0]
    name = first.get("pointer") or first.get("parameter") or "(body)"
    return problem(422, "invalid", f"{name}: {first['allowed']}", errors)


def from_input_error(exc: InputError, parameters: Collection[str] = ()) -> web.Response:
    """An action refused a value: 422 naming the field as the API does."""

    def name(field: str) -> str:
        return field if field in parameters else pointer([field])

    renamed = exc.renamed(name)
    item: dict[str, Any] = {"allowed": renamed.allowed, "value": _jsonable(exc.value)}
    if exc.field in parameters:
        item["parameter"] = exc.field
    else:
        item["pointer"] = pointer([exc.field])
    return problem(422, "invalid", str(renamed), [item])
