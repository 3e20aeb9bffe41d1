"""The OpenAPI 3.1 document at ``/api/v1/openapi.json``, generated from the route table
(:mod:`monitor.http.routing`) and the types the handlers use: request bodies and query
strings from their pydantic models (:mod:`monitor.http.schemas`), answers from the
actions' result dataclasses (through pydantic's ``TypeAdapter``), with the engine's
reports as their SPEC section 7 JSON and ``Decimal`` as a number, as
:func:`monitor.present.as_json` writes them. Every route the application serves is in
it, pages and ``/metrics`` too, and nothing else (a test checks both ways), but for
``HEAD`` and ``OPTIONS``, derived from GET and said once in the description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from monitor import __version__
from monitor.http.context import WEB
from monitor.http.routing import Route
from monitor.http.schemas import (
    MONTH_SHAPE,
    CreditLineJSON,
    CustomerReportJSON,
    MonthReportJSON,
    Problem,
)
from monitor.sla import CreditLine, CustomerReport, MonthReport
from monitor.sla.calendar import CalendarName, month_pattern

__all__ = ["OPENAPI_KEY", "build_document", "document_of", "openapi_document"]

OPENAPI_KEY = web.AppKey("openapi", tuple)  # the routes whose document it is

# The engine's reports are sent as their SPEC section 7 JSON (their to_json()).
_JSON_FORMS: dict[type, type[BaseModel]] = {
    MonthReport: MonthReportJSON,
    CustomerReport: CustomerReportJSON,
    CreditLine: CreditLineJSON,
}

_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "incident_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "claim_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "ticket_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "window_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "customer": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"},
    "month": {"type": "string", "pattern": MONTH_SHAPE},
    "service": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"},
    "target": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"},
    "token": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,1024}$"},
    "key": {"type": "string", "minLength": 1, "maxLength": 256},
    "name": {"type": "string", "pattern": "^[a-z0-9_.-]{1,64}$"},
}

_MEDIA = {
    "json": "application/json",
    "html": "text/html",
    "text": "text/plain",
    "xml": "application/atom+xml",
    "svg": "image/svg+xml",
    "yaml": "application/yaml",
    "form": "application/x-www-form-urlencoded",
    "zip": "application/zip",
}


class _Schemas(GenerateJsonSchema):
    """pydantic's generator, writing values as :func:`monitor.present.as_json` does."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        """A number, with the bounds validation checks: ``gt=0`` is ``exclusiveMinimum``,
        ``max_digits`` and ``decimal_places`` the largest number they leave
        (``exclusiveMaximum``). The decimals are said in words: ``multipleOf: 0.0001`` is
        no exact binary number, and validators that divide floats would refuse 0.3."""
        found: JsonSchemaValue = {"type": "number"}
        for key, name in (("gt", "exclusiveMinimum"), ("ge", "minimum"),
                          ("lt", "exclusiveMaximum"), ("le", "maximum")):
            if key in schema:
                found[name] = _number(schema[key])  # type: ignore[literal-required]
        places, digits = schema.get("decimal_places"), schema.get("max_digits")
        if places is not None:
            found["description"] = (f"at most {places} decimal place{'s' if places > 1 else ''}"
                                    + (f", {digits} digits in all" if digits else ""))
            if digits is not None and "exclusiveMaximum" not in found and "maximum" not in found:
                found["exclusiveMaximum"] = 10 ** (digits - places)
        return found

    def dataclass_schema(self, schema: core_schema.DataclassSchema) -> JsonSchemaValue:
        form = _JSON_FORMS.get(schema["cls"])
        if form is not None:
            return self.generate_inner(form.__pydantic_core_schema__)
        return super().dataclass_schema(schema)


def _number(value: object) -> int | float:
    """A bound as JSON writes a number: an integer when it is whole."""
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _adapters(routes: Iterable[Route]) -> dict[Any, TypeAdapter[Any]]:
    found: dict[Any, TypeAdapter[Any]] = {"Problem": TypeAdapter(Problem)}
    for route in routes:
        for answer in route.answers.values():
            if answer is not None and answer != "Problem" and answer is not dict:
                found.setdefault(answer, TypeAdapter(answer))
        if isinstance(route.body, type) and issubclass(route.body, BaseModel):
            found.setdefault(route.body, TypeAdapter(route.body))
        if route.form is not None:
            found.setdefault(route.form, TypeAdapter(route.form))
    return found


def _parameters(route: Route, schemas: dict[Any, JsonSchemaValue]) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_PARAMETERS[name]}
        for name in re.findall(r"\{(\w+)", route.path)
    ]
    if route.query is not None:
        model = route.query.model_json_schema(schema_generator=_Schemas)
        required = set(model.get("required", ()))
        for name, schema in model["properties"].items():
            schema = dict(schema)
            schema.pop("title", None)
            if "anyOf" in schema:  # X | None: absent is None; the query string has no null
                schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
            parameters.append({"name": name, "in": "query", "required": name in required,
                               "schema": schema})
    if route.idempotent_key:
        parameters.append({
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "a retry with the same key gets the first answer (24 h)",
            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
        })
    return parameters


def _operation(route: Route, schemas: dict[Any, JsonSchemaValue]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in sorted(route.answers.items()):
        if answer is None:
            responses[str(status)] = {"description": "no content"}
            continue
        media = "application/json" if answer == "Problem" else _MEDIA[route.produces]
        if route.produces == "zip" and status >= 400 and answer is str:
            media = _MEDIA["html"]  # a download's refusals are pages in the reader's language
        if answer is dict:
            schema: JsonSchemaValue = {"type": "object"}
        elif answer is str:
            schema = {"type": "string"}
        else:
            schema = schemas[answer]
        responses[str(status)] = {
            "description": "an error" if answer == "Problem" else "success",
            "content": {media: {"schema": schema}},
        }
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    parameters = _parameters(route, schemas)
    if parameters:
        operation["parameters"] = parameters
    if route.access != "public":
        operation["security"] = [{"bearer": []}]
    if route.form is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": schemas[route.form]}}}
    if route.body is not None:
        if route.body_kind == "yaml":
            content = {"application/yaml": {"schema": {"type": "string", "minLength": 1}}}
        elif route.body_kind == "form":
            content = {"application/x-www-form-urlencoded": {"schema": schemas[route.body]}}
        else:
            content = {"application/json": {"schema": schemas[route.body]}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


_BUILT: dict[tuple[CalendarName, tuple[tuple[str, str], ...]], dict[str, Any]] = {}


def document_of(routes: tuple[Route, ...], calendar: CalendarName = "gregorian") -> dict[str, Any]:
    """The document of ``routes`` for a provider of ``calendar``, built once per process for
    each: its pydantic schemas cost about a third of a second, paid at the first request for
    it rather than at every application built (the daemon builds one at each start and
    reload; the tests one per test)."""
    key = (calendar, tuple((route.method, route.path) for route in routes))
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = build_document(routes, calendar)
    return found


def build_document(routes: tuple[Route, ...],
                   calendar: CalendarName = "gregorian") -> dict[str, Any]:
    """The document; a month anywhere in it (a path, a query, a body) is a month of
    ``calendar`` (:func:`monitor.sla.calendar.month_pattern`): validation checks its shape
    (:data:`~monitor.http.schemas.MONTH_SHAPE`) and then the calendar reads it."""
    adapters = _adapters(routes)
    keys = list(adapters)
    found, definitions = TypeAdapter.json_schemas(
        [(key, "serialization", adapters[key]) for key in keys],
        ref_template="#/components/schemas/{model}",
        schema_generator=_Schemas,
    )
    schemas = {key: found[(key, "serialization")] for key in keys}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "sla-monitor",
            "version": __version__,
            "description": "The HTTP API of sla-monitor: the command line's actions, the "
            "status page and the customer pages. Times in answers are UTC with Z; times "
            "in requests are ISO 8601, without an offset in the provider's zone. "
            "Every GET operation also answers HEAD (the same status and headers, no "
            "body), and every path OPTIONS (204 with Allow); they are not listed.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", definitions),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return _with_months(document, month_pattern(calendar))  # type: ignore[return-value]


def _with_months(value: object, pattern: str) -> object:
    """``value`` with each month's shape (:data:`MONTH_SHAPE`) replaced by ``pattern``."""
    if isinstance(value, dict):
        return {key: pattern if key == "pattern" and item == MONTH_SHAPE
                else _with_months(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_months(item, pattern) for item in value]
    return value


def openapi_document(app: web.Application) -> dict[str, Any]:
    """The document of ``app``'s routes, its months those of the provider's calendar."""
    return document_of(app[OPENAPI_KEY], app[WEB].settings.config.provider.calendar)
