"""The configuration reference in README.md, generated from the schema.

``python -m monitor.config.reference`` prints the Markdown table; a test
checks that README.md contains exactly this output, so the documentation
cannot drift from the schema.
"""

from __future__ import annotations

import enum
import types
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from monitor.config.schema import Config, HTTPProbe, TCPProbe
from monitor.present.formats import format_duration

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _type_name(annotation: Any, metadata: list[Any]) -> str:
    if any(getattr(m, "func", None) is not None and "duration" in getattr(m.func, "__name__", "")
           for m in metadata):
        bounds = [getattr(m.func, "bounds", None) for m in metadata if hasattr(m, "func")]
        low_high = next((b for b in bounds if b is not None), None)
        if low_high is None:
            return "duration"
        return f"duration ({format_duration(low_high[0])} to {format_duration(low_high[1])})"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0], list(args[1:]))
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin in (types.UnionType, typing.Union):
        names = [_type_name(a, []) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0], [])}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "mapping"
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(str(m.value) for m in annotation)
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
                "Decimal": "number", "date": "date"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _default(field: Any, type_name: str) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, BaseModel):
        return ""
    if type_name.startswith("duration") or (
        type_name.endswith("or null") and "duration" in type_name
    ):
        return f"`{format_duration(float(value))}`"
    if isinstance(value, list):
        if value and isinstance(value[0], BaseModel):
            return "see example"
        return f"`{value}`" if value else "`[]`"
    if isinstance(value, Decimal):
        return f"`{value}`"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        if _is_probe(field.annotation):
            type_name = "probe (http or tcp, below)"
        else:
            type_name = _type_name(field.annotation, list(field.metadata))
        meaning = (field.description or "").replace("|", "\\|")
        rows.append((path, type_name, _default(field, type_name), meaning))
        for nested, suffix in _nested(field.annotation):
            rows += _rows(nested, f"{path}{suffix}.")
    return rows


def _is_probe(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    return HTTPProbe in args or any(_is_probe(a) for a in args if typing.get_args(a))


def _nested(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    if _is_probe(annotation):
        return []  # probes are documented once, below
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    if origin is list and args:
        return [(model, "[]" + suffix) for model, suffix in _nested(args[0])]
    if origin in (types.UnionType, typing.Union, typing.Annotated):
        return [pair for arg in args for pair in _nested(arg)]
    return []


def render() -> str:
    lines = [START, "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{p}` | {t} | {d} | {m} |" for p, t, d, m in _rows(Config, "")]
    lines += ["", "Every `probe:` (servers, services, canaries) is one of these, chosen by `type`:",
              "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for model in (HTTPProbe, TCPProbe):
        lines += [f"| `probe.{p}` ({model.model_fields['type'].description}) | {t} | {d} | {m} |"
                  for p, t, d, m in _rows(model, "")]
    lines += ["", END]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
