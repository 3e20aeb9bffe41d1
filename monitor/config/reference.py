"""The configuration reference in README.md, generated from the schema.

``python -m monitor.config.reference`` prints the Markdown table; a test
checks that README.md contains exactly this output, so the documentation
cannot drift from the schema.
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import textwrap
import types
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from monitor.config.schema import PROBE_MODELS, Config, HTTPProbe
from monitor.present.formats import format_duration

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _type_name(annotation: Any, metadata: list[Any]) -> str:
    named = next((m.func.type_name for m in metadata  # a validator that says what it takes
                  if hasattr(getattr(m, "func", None), "type_name")), None)
    if named is not None:
        return str(named)
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
            *others, last = PROBE_MODELS  # each kind, as a probe's type names it
            type_name = f"probe ({', '.join(others)} or {last}, below)"
        else:
            type_name = _type_name(field.annotation, list(field.metadata))
        meaning = _description(model, name, field).replace("|", "\\|")
        rows.append((path, type_name, _default(field, type_name), meaning))
        for nested, suffix in _nested(field.annotation):
            rows += _rows(nested, f"{path}{suffix}.")
    return rows


def _description(model: type[BaseModel], name: str, field: Any) -> str:
    """The field's meaning: its ``description``, else its docstring (the string under it in
    the class, as pydantic's ``use_attribute_docstrings`` would read it)."""
    return field.description or _docstrings(model).get(name, "")


@functools.cache
def _docstrings(model: type[BaseModel]) -> dict[str, str]:
    """Each field's docstring, from ``model``'s source and its bases' (a subclass's own
    docstring wins)."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        assert isinstance(body, ast.ClassDef)
        for statement, after in zip(body.body, body.body[1:], strict=False):
            if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                found[statement.target.id] = inspect.cleandoc(after.value.value)
    return found


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
    for model in PROBE_MODELS.values():
        kind = _description(model, "type", model.model_fields["type"])
        lines += [f"| `probe.{p}` ({kind}) | {t} | {d} | {m} |" for p, t, d, m in _rows(model, "")]
    lines += ["", END]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
