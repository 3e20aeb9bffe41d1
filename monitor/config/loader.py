"""Read a YAML configuration into a validated :class:`Config`, or fail with every problem.

The YAML is composed once into a node tree so that each problem can name its
line; pydantic checks types and values, :mod:`monitor.config.checks` checks
what ties sections together. All issues are collected before anything fails,
so an operator fixes a file in one pass, not one error per restart.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monitor.config.checks import semantic_issues
from monitor.config.schema import Config
from monitor.errors import ConfigError, ConfigIssue

Loc = tuple[str | int, ...]


def format_path(loc: Sequence[str | int]) -> str:
    """``("services", 2, "probe", "interval")`` → ``services[2].probe.interval``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


class LineIndex:
    """Where each YAML path starts in the file, built from the composed node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[ConfigIssue] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, loc: Loc) -> None:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.duplicates.append(
                        ConfigIssue(
                            format_path((*loc, key)),
                            key_node.start_mark.line + 1,
                            f"duplicate key {key!r}; each key may appear once",
                        )
                    )
                seen.add(key)
                self._walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*loc, index))

    def resolve(self, loc: Sequence[Any]) -> tuple[Loc, int | None]:
        """The YAML path of a pydantic location and its line.

        Pydantic adds steps that are not in the file (a union's tag, a
        validator's name); those are skipped. A missing key takes the line
        of the mapping that lacks it.
        """
        path: Loc = ()
        for part in loc:
            candidate = (*path, part)
            if candidate in self.lines:
                path = candidate
            elif isinstance(part, str) and part in _PYDANTIC_STEPS:
                continue
            elif isinstance(part, str | int) and not _is_tag(part):
                path = candidate  # a missing key: name it, point at its parent
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            probe = probe[:-1]
            line = self.lines.get(probe)
        return path, line


_PYDANTIC_STEPS = {"function-after", "function-before", "function-plain", "function-wrap"}


def _is_tag(part: object) -> bool:
    # Discriminated-union tags (probe types) and union member names.
    return part in ("http", "tcp") or (isinstance(part, str) and "[" in part)


def _allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the model at pydantic location ``loc`` accepts (for 'unknown key' messages).

    ``loc`` is pydantic's own, so a union member shows up as its tag (``tcp``).
    """
    candidates: list[Any] = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        tagged = [m for m in candidates if _tag_of(m) == part]
        if tagged:
            candidates = tagged
            continue
        fields = [
            f
            for m in candidates
            for n, f in getattr(m, "model_fields", {}).items()
            if part in (n, f.alias)
        ]
        if not fields:
            return []
        candidates = _models_in(fields[0].annotation)
    if len(candidates) != 1:
        return []
    fields = candidates[0].model_fields
    return sorted(field.alias or name for name, field in fields.items())


def _tag_of(model: Any) -> object:
    field = getattr(model, "model_fields", {}).get("type")
    args: tuple[object, ...] = getattr(field.annotation, "__args__", ()) if field else ()
    return args[0] if len(args) == 1 else None


def _models_in(annotation: Any) -> list[Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _message(error: Any, allowed_keys: list[str]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        hint = difflib.get_close_matches(str(key), allowed_keys, n=1)
        text = f"unknown key {key!r}"
        if hint:
            text += f" (did you mean {hint[0]!r}?)"
        return text + f"; allowed keys: {', '.join(allowed_keys)}"
    if kind == "missing":
        return "required key is missing"
    reason = str(error["msg"]).removeprefix("Value error, ")
    reason = reason[:1].lower() + reason[1:]
    if kind == "literal_error":
        reason = "expected " + str(error["ctx"]["expected"])
    if kind == "union_tag_invalid":
        return (
            f"type {error['ctx']['tag']!r} is not valid: expected {error['ctx']['expected_tags']}"
        )
    if kind == "union_tag_not_found":
        return f"type is missing: expected {error['ctx']['expected_tags']}"
    return f"{value!r} is not valid: {reason}"


def load_config(path: str | Path) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            source, [ConfigIssue("(file)", None, f"cannot read: {exc.strerror}")]
        ) from None
    return parse_config(text, source)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading, with libyaml's parser when available, noting duplicate keys.

    Memory matters: a configuration of 20,000 services takes about 200 MB of peak
    memory through the pure-Python loader and about 130 MB through libyaml, and a
    daemon never gives that peak back. The node tree that names lines is built
    only when there is a problem to report.
    """

    has_duplicates = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value]
        if len(set(keys)) != len(keys):
            self.has_duplicates = True
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def _load(text: str, source: str) -> tuple[Any, bool]:
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.has_duplicates
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    # Say what is wrong in the pure-Python parser's words, the same everywhere.
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            source, [ConfigIssue("(file)", line, f"not valid YAML: {problem}")]
        ) from None
    raise ConfigError(source, [ConfigIssue("(file)", None, "not valid YAML")])


def parse_config(text: str, source: str = "<config>") -> Config:
    data, has_duplicates = _load(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("(top level)", 1, "expected a mapping of sections")])

    found: list[tuple[Sequence[Any], str]] = []  # (location, message)
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            if error["type"].startswith("union_tag_"):
                loc = (*loc, "type")
            allowed = _allowed_keys(Config, loc) if error["type"] == "extra_forbidden" else []
            found.append((loc, _message(error, allowed)))
    found += semantic_issues(data)
    if not found and not has_duplicates and config is not None:
        return config
    index = LineIndex(yaml.compose(text, Loader=yaml.SafeLoader))
    issues = list(index.duplicates)
    for where, message in found:
        path, line = index.resolve(where)
        issues.append(ConfigIssue(format_path(path), line, message))
    issues.sort(key=lambda issue: (issue.line or 0, issue.path))
    raise ConfigError(source, issues)
