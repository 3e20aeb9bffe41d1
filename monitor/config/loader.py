"""Read a YAML configuration into a validated :class:`Config`, or fail with every problem.

The YAML is composed once into a node tree so that each problem can name its
line; pydantic checks types and values, :mod:`monitor.config.checks` checks
what ties sections together. All issues are collected before anything fails,
so an operator fixes a file in one pass, not one error per restart.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monitor import collector
from monitor.config.checks import semantic_issues
from monitor.config.schema import PROBE_MODELS, PROBE_TYPES, Config
from monitor.errors import ConfigError, ConfigIssue
from monitor.redact import redact, redact_value

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
    """Where YAML paths start in the file, read from libyaml's event stream.

    Only the lines under the sections with a problem are kept (``heads``: the first two
    steps of each problem's path), and duplicate keys are looked for only when the
    loader saw some. No node tree is built: the error path of a 7 MB file costs about
    a second, not the minutes a pure-Python tree took.
    """

    def __init__(
        self, text: str, heads: Iterable[Sequence[Any]] = (), find_duplicates: bool = True
    ) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[ConfigIssue] = []
        wanted = {tuple(head[:2]) for head in heads}
        stack: list[_Frame] = []
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                frame = stack[-1] if stack else None
                if frame is not None and frame.is_map and frame.key_turn:
                    frame.key = str(event.value) if isinstance(event, yaml.ScalarEvent) else "*"
                    if find_duplicates:
                        self._seen(frame, event)
                else:
                    self._note(_path(stack), event, wanted)
                _done(stack)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                frame = stack[-1] if stack else None
                if frame is not None and frame.is_map and frame.key_turn:
                    frame.key = "?"  # a complex key: nothing of ours has one
                    path: Loc = (*frame.path, "?")
                else:
                    path = _path(stack)
                    self._note(path, event, wanted)
                stack.append(_Frame(path, isinstance(event, yaml.MappingStartEvent)))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                _done(stack)

    def _note(self, path: Loc, event: Any, wanted: set[Loc]) -> None:
        if len(path) < 2 or path[:2] in wanted:
            self.lines.setdefault(path, event.start_mark.line + 1)

    def _seen(self, frame: _Frame, event: Any) -> None:
        if frame.key in frame.seen:
            self.duplicates.append(
                ConfigIssue(
                    format_path((*frame.path, frame.key)),
                    event.start_mark.line + 1,
                    f"duplicate key {frame.key!r}; each key may appear once",
                )
            )
        frame.seen.add(frame.key)

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


class _Frame:
    """An open mapping or sequence while reading events."""

    __slots__ = ("index", "is_map", "key", "key_turn", "path", "seen")

    def __init__(self, path: Loc, is_map: bool) -> None:
        self.path = path
        self.is_map = is_map
        self.key_turn = is_map  # a mapping reads a key first
        self.key = ""
        self.index = 0
        self.seen: set[str] = set()


def _path(stack: list[_Frame]) -> Loc:
    """The path of the value node that starts now."""
    if not stack:
        return ()
    frame = stack[-1]
    return (*frame.path, frame.key) if frame.is_map else (*frame.path, frame.index)


def _done(stack: list[_Frame]) -> None:
    """A node ended: its mapping now reads the other of key and value, its sequence the
    next item."""
    if stack:
        frame = stack[-1]
        if frame.is_map:
            frame.key_turn = not frame.key_turn
        else:
            frame.index += 1


_PYDANTIC_STEPS = {"function-after", "function-before", "function-plain", "function-wrap"}


def _is_tag(part: object) -> bool:
    # Discriminated-union tags (probe types) and union member names.
    return part in PROBE_MODELS or (isinstance(part, str) and "[" in part)


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
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # pydantic 2.14 gives a missing tag's error no expected tags: the probes' types.
        expected = error["ctx"].get("expected_tags") or PROBE_TYPES
        if kind == "union_tag_not_found":
            return f"type is missing: expected {expected}"
        return f"type {error['ctx']['tag']!r} is not valid: expected {expected}"
    # A YAML boolean as the file spells it (true, false), not as Python does.
    shown = str(value).lower() if isinstance(value, bool) else repr(value)
    return f"{shown} is not valid: {reason}"


@dataclass(frozen=True)
class ReadLimits:
    """What a configuration file may cost to read (a 377-byte YAML file took
    5.9 GB through its aliases; a 50 MB one minutes).

    * ``max_bytes``: the file's size (default 32 MiB; a 20,000-customer file is about 7).
    * ``max_alias_nodes``: how many nodes YAML aliases may add once expanded (default
      200,000: a probe template shared by 20,000 services adds about 140,000). An alias
      bomb multiplies a few lines into billions; it is refused before it is expanded.
    * ``max_depth``: nesting (64; a configuration needs about 8).

    Both of the first two are set for every command and the daemon's reload by the
    environment (``SLA_MONITOR_CONFIG_MAX_BYTES``, ``SLA_MONITOR_CONFIG_MAX_ALIAS_NODES``),
    since they must be known before the file is read:

    >>> ReadLimits.from_environment({"SLA_MONITOR_CONFIG_MAX_BYTES": "1048576"}).max_bytes
    1048576
    >>> ReadLimits.from_environment({"SLA_MONITOR_CONFIG_MAX_BYTES": "lots"})
    Traceback (most recent call last):
    ...
    monitor.errors.ConfigError: $SLA_MONITOR_CONFIG_MAX_BYTES: 1 configuration error(s)
      SLA_MONITOR_CONFIG_MAX_BYTES: 'lots' is not valid: expected a whole number from 1 to 1073741824
    """

    max_bytes: int = 32 * 1024 * 1024
    max_alias_nodes: int = 200_000
    max_depth: int = 64

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        environ = os.environ if environ is None else environ
        issues: list[ConfigIssue] = []
        values: dict[str, int] = {}
        for field, variable, highest in (
            ("max_bytes", MAX_BYTES_VARIABLE, 1024**3),
            ("max_alias_nodes", MAX_ALIAS_NODES_VARIABLE, 100_000_000),
        ):
            raw = environ.get(variable)
            if raw is None or raw == "":
                continue
            text = raw.strip().replace("_", "")
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= highest:
                issues.append(
                    ConfigIssue(
                        variable,
                        None,
                        f"{raw!r} is not valid: expected a whole number from 1 to {highest}",
                    )
                )
                continue
            values[field] = int(text)
        if issues:
            raise ConfigError("$" + issues[0].path, issues)
        return cls(**values)


MAX_BYTES_VARIABLE = "SLA_MONITOR_CONFIG_MAX_BYTES"
MAX_ALIAS_NODES_VARIABLE = "SLA_MONITOR_CONFIG_MAX_ALIAS_NODES"
MAX_ISSUES = 200  # a file with more problems than this lists the first ones and a count


def load_config(path: str | Path, limits: ReadLimits | None = None, *,
                workers: int = 1) -> Config:
    """Read and validate ``path`` and the files it includes; raise :class:`ConfigError`
    listing every problem.

    Each file must be UTF-8 and at most ``limits.max_bytes`` long, and so must all of them
    together; a larger one is refused before it is read whole. ``workers``: processes that
    parse many included files at once (:func:`_load_all`); the daemon's reader child uses
    every core, everything else one (a process with threads must not fork)."""
    limits = limits or ReadLimits.from_environment()
    source = str(path)
    text = _read(path, limits, source)
    return parse_config(text, source, limits, directory=Path(path).parent, workers=workers)


def _read(path: str | Path, limits: ReadLimits, source: str, file: str | None = None,
          budget: int | None = None) -> str:
    """One file's text; ``file``: the name its problems are reported under (an included
    one); ``budget``: the bytes left for it (the files together are bounded too)."""
    most = limits.max_bytes if budget is None else min(budget, limits.max_bytes)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = b"" if size > most else handle.read(most + 1)
    except OSError as exc:
        raise ConfigError(
            source, [ConfigIssue("(file)", None, f"cannot read: {exc.strerror or exc}",
                                 file=file)]
        ) from None
    size = max(size, len(raw))
    if size > most:
        issue = _too_large(size, limits)
        if most < limits.max_bytes:
            issue = ConfigIssue("(file)", None, issue.message.replace(
                "is too large", "is too large with the files before it"), file=file)
        raise ConfigError(source, [replace(issue, file=file)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            source,
            [
                ConfigIssue(
                    "(file)",
                    line,
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                    "allowed: a UTF-8 text file",
                    file=file,
                )
            ],
        ) from None


def _too_large(size: int, limits: ReadLimits) -> ConfigIssue:
    return ConfigIssue(
        "(file)",
        None,
        f"{size:,} bytes is too large; allowed: at most {limits.max_bytes:,} bytes "
        f"(${MAX_BYTES_VARIABLE} raises the limit)",
    )


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading, with libyaml's parser when available, noting duplicate keys.

    Memory matters: a configuration of 20,000 services takes about 200 MB of peak
    memory through the pure-Python loader and about 130 MB through libyaml, and a
    daemon never gives that peak back. The node tree that names lines is built
    only when there is a problem to report.
    """

    has_duplicates = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.note_duplicates(node)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    def note_duplicates(self, node: yaml.MappingNode) -> None:
        """Whether a key of ``node`` is written twice (the last counts). A key that is a
        sequence or a mapping (``? [1, 2]``) is PyYAML's to refuse (it cannot be a key);
        its nodes were taken for a key here, a traceback."""
        keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
        if len(set(keys)) != len(keys):
            self.has_duplicates = True

    def construct_timestamp(self, node: yaml.ScalarNode) -> object:
        """A date or time YAML reads as one; one no calendar has (``2026-02-30``) is its
        text, for the model to refuse naming its setting and line (PyYAML's ValueError
        was a traceback for every command)."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_timestamp)

_STR, _MAP, _SEQ = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map",
                    "tag:yaml.org,2002:seq")
#: The scalar tags :func:`_built` builds with the loader's own constructor of each.
_SCALARS = frozenset(f"tag:yaml.org,2002:{name}"
                     for name in ("bool", "int", "float", "null", "timestamp"))


class _NotPlain(Exception):
    """The document has what only PyYAML's own construction handles."""


def _constructed(loader: _Loader, node: yaml.Node) -> Any:
    """The document's values: :func:`_built` when it is plain mappings, sequences and
    scalars, else PyYAML's construction. The same values either way; PyYAML's bookkeeping
    for aliases and recursion (a dict of every node built, a generator for each mapping)
    was a third of reading a configuration of 10,000 customers (0.5 of 1.6 s), which has
    none of them."""
    try:
        return _built(loader, node)
    except (_NotPlain, RecursionError):  # deeper than Python's stack: PyYAML's own way
        return loader.construct_document(node)


def _built(loader: _Loader, node: yaml.Node) -> Any:
    """``node`` built as PyYAML builds it, for a document without aliases (its caller's
    word) or merge keys, of the core tags; :class:`_NotPlain` at anything else (another
    tag, a key that cannot be one), for PyYAML to build or refuse in its words."""
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag == _STR:
            return node.value
        if tag in _SCALARS:
            return loader.yaml_constructors[tag](loader, node)
    elif isinstance(node, yaml.MappingNode) and tag == _MAP:
        found: dict[Any, Any] = {}
        for key, value in node.value:
            if key.tag not in (_STR, *_SCALARS):  # a merge key (<<), a mapping as a key
                raise _NotPlain
            found[_built(loader, key)] = _built(loader, value)
        loader.note_duplicates(node)
        return found
    elif isinstance(node, yaml.SequenceNode) and tag == _SEQ:
        return [_built(loader, item) for item in node.value]
    raise _NotPlain


# An anchor (&name) can only follow white space, a flow indicator or the start of the text;
# "a=1&b=2" in a URL cannot be one. Without anchors there are no aliases to expand.
_ANCHOR = re.compile(r"(?:^|[\s\[\]{},])&[^\s\[\]{},]")


# What json reads as a float and YAML 1.1 too: a dot, and an exponent only with its sign
# (PyYAML reads 1e3 and 1.5e3 as text).
_YAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")
# What YAML refuses in a stream (PyYAML's reader), reads as a line break, and escapes of
# UTF-16 halves (libyaml refuses them).
_NOT_YAML = re.compile(
    "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]"
    "|[\x85\u2028\u2029]"  # line breaks to YAML 1.1, even inside a quoted string
    r"|\\u[dD][89abAB]"
)


class _NotAsYaml(ValueError):
    """Text that json and YAML would read differently."""


def _yaml_float(text: str) -> float:
    if _YAML_FLOAT.fullmatch(text) is None:
        raise _NotAsYaml(text)
    return float(text)


def _refuse(text: str) -> Any:
    raise _NotAsYaml(text)  # NaN, Infinity: text to YAML 1.1


def json_document(text: str) -> tuple[Any, bool] | None:
    """The document of a configuration written as JSON (YAML's subset, as a provisioning
    system writes a large one) and whether it repeats a key, read by the json module; None
    when the text is not plain JSON, or holds what YAML 1.1 would read otherwise (a number
    such as ``1e3``, which YAML reads as text; ``NaN``): YAML reads it then.

    *Decision (cost):* libyaml builds a node per value and PyYAML's constructor then walks
    them in Python: a 10,000-customer configuration of 4 MB took 7 CPU-s to read, 0.05
    through json. The document is the same either way (a property test compares them),
    a repeated key counts last and is noted as in YAML, and a problem is reported with its
    line as for any file (the lines are read from libyaml's events only then)."""
    if not text.lstrip(" \t\r\n").startswith("{") or _NOT_YAML.search(text) is not None:
        return None
    repeated = False

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        found = dict(pairs)
        if len(found) != len(pairs):
            repeated = True
        return found

    try:
        document = json.loads(text, object_pairs_hook=mapping, parse_float=_yaml_float,
                              parse_constant=_refuse)
    except (ValueError, RecursionError):  # _NotAsYaml and json's own errors included
        return None
    return document, repeated


def _load(text: str, source: str, limits: ReadLimits, file: str | None = None
          ) -> tuple[Any, bool]:
    found = json_document(text)
    if found is not None:
        return found
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        anchored = _ANCHOR.search(text) is not None
        if node is not None and anchored:
            _check_expansion(node, limits, source)
        data = (None if node is None else loader.construct_document(node) if anchored
                else _constructed(loader, node))
        return data, loader.has_duplicates
    except ConfigError as exc:
        if file is None:
            raise
        raise ConfigError(source, [replace(i, file=file) for i in exc.issues]) from None
    except yaml.YAMLError as exc:
        # libyaml's words (the pure-Python parser would re-read the file slowly to say it).
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):
            # A character YAML does not take (a NUL): said by its place in the text.
            line = text.count("\n", 0, exc.position) + 1
            problem = (f"unacceptable character #x{exc.character:04x}: {exc.reason}"
                       if isinstance(exc.character, int) else exc.reason)
        raise ConfigError(
            source, [ConfigIssue("(file)", line, f"not valid YAML: {problem}", file=file)]
        ) from None
    except RecursionError:
        raise ConfigError(source, [replace(_too_deep(limits), file=file)]) from None
    finally:
        loader.dispose()


def read_yaml(text: str, source: str, limits: ReadLimits | None = None) -> Any:
    """Any YAML document (another monitor's configuration) with the configuration's own
    bounds: safe loading, aliases and depth limited, problems as a :class:`ConfigError`."""
    return _load(text, source, limits or ReadLimits())[0]


def _too_deep(limits: ReadLimits, line: int | None = None) -> ConfigIssue:
    return ConfigIssue(
        "(file)", line, f"nested too deeply; allowed: at most {limits.max_depth} levels"
    )


def _check_expansion(root: yaml.Node, limits: ReadLimits, source: str) -> None:
    """Refuse aliases that expand beyond ``limits`` (or into themselves) before anything is
    built from them: each node's expanded size and depth, computed once per node (a shared
    node is counted where it is used, never copied)."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    unique = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            size, depth = 1, 0
            for child in children:
                child_size, child_depth = sizes[id(child)]
                size += child_size
                depth = max(depth, child_depth)
            sizes[key] = (size, depth + 1)
            line = node.start_mark.line + 1
            if depth + 1 > limits.max_depth:
                raise ConfigError(source, [_too_deep(limits, line)])
            if size - unique > limits.max_alias_nodes:
                raise ConfigError(
                    source,
                    [
                        ConfigIssue(
                            "(file)",
                            line,
                            f"YAML aliases expand to more than {limits.max_alias_nodes:,} "
                            f"nodes here; allowed: at most {limits.max_alias_nodes:,} "
                            f"(${MAX_ALIAS_NODES_VARIABLE} raises the limit)",
                        )
                    ],
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ConfigError(
                source,
                [
                    ConfigIssue(
                        "(file)",
                        node.start_mark.line + 1,
                        "a YAML alias refers to a node that contains it; allowed: aliases "
                        "of complete nodes only",
                    )
                ],
            )
        open_nodes.add(key)
        unique += 1
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


INCLUDED_SECTIONS = ("servers", "services", "customers", "ticket_types")
_GLOB = re.compile(r"[*?\[]")


@dataclass
class _Part:
    """The main file or one included file: its text and where its items landed in the
    merged lists (``starts[section]``, ``counts[section]``)."""

    file: str | None
    text: str
    has_duplicates: bool
    starts: dict[str, int]
    counts: dict[str, int]

    def holds(self, section: object, index: object) -> bool:
        start = self.starts.get(str(section), 0)
        return isinstance(index, int) and start <= index < start + self.counts.get(
            str(section), 0)


def _include(data: dict[str, Any], text: str, has_duplicates: bool, source: str,
             limits: ReadLimits, directory: Path | None, workers: int = 1) -> list[_Part]:
    """Add the included files' list sections to ``data``; the parts, the main file first.

    The main file's items stay first in each list, then each file's in the order
    ``include`` names them (a glob's or a directory's files sorted by name)."""
    main = _Part(None, text, has_duplicates, {}, {
        section: len(data[section]) for section in INCLUDED_SECTIONS
        if isinstance(data.get(section), list)})
    entries = data.get("include")
    if entries is None or entries == []:
        return [main]
    positions = range(len(entries)) if isinstance(entries, list) else range(0)
    index = LineIndex(text, [("include",), *(("include", i) for i in positions)],
                      find_duplicates=False)
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise ConfigError(source, [ConfigIssue(
            "include", index.lines.get(("include",)),
            f"{entries!r} is not valid: expected a list of paths, globs or directories")])
    if directory is None:
        raise ConfigError(source, [ConfigIssue(
            "include", index.lines.get(("include",)),
            "not allowed here; allowed: in a configuration file (included paths are "
            "relative to its directory)")])
    parts = [main]
    budget = limits.max_bytes - len(text.encode("utf-8"))
    texts: list[tuple[str, str]] = []  # (name, text) of each included file, in order
    for position, entry in enumerate(entries):
        files = _included_files(entry, directory)
        if files is None:
            raise ConfigError(source, [ConfigIssue(
                f"include[{position}]", index.lines.get(("include", position)),
                f"{entry!r} is not valid: no such file or directory; allowed: a file, a "
                "directory or a glob, relative to this file")])
        for path in files:
            name = os.path.relpath(path, directory)
            part_text = _read(path, limits, source, name, budget)
            budget -= len(part_text.encode("utf-8"))
            texts.append((name, part_text))
    for (name, part_text), loaded in zip(
            texts, _load_all(texts, source, limits, workers), strict=True):
        parts.append(_included(data, part_text, name, source, limits, loaded))
    return parts


#: Included files from which several processes parse them (fewer: not worth a fork).
PARALLEL_FROM = 200


def _load_all(texts: list[tuple[str, str]], source: str, limits: ReadLimits, workers: int
              ) -> Iterator[tuple[Any, bool]]:
    """Each included file's document and whether it repeats a key, in order: in this
    process, or with ``workers`` > 1 and many files in that many forked processes (the
    YAML is most of a large configuration's reading: 10,000 one-customer files take
    about 3 of 5 CPU-seconds). The first file with a problem raises its
    :class:`ConfigError`, as in one process. What comes back is Python's own objects from
    a process of this program (``multiprocessing``), never data from outside unpickled."""
    if workers <= 1 or len(texts) < PARALLEL_FROM:
        for name, text in texts:
            yield _load(text, source, limits, name)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, len(texts) // (workers * 4))
    chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for results in pool.map(_load_chunk, chunks, [source] * len(chunks),
                                [limits] * len(chunks)):
            for result in results:
                if isinstance(result, ConfigIssues):
                    raise ConfigError(source, list(result.issues))
                yield result


@dataclass(frozen=True)
class ConfigIssues:
    """A worker's :class:`ConfigError`, as it travels back (an exception's own arguments
    do not survive the trip)."""

    issues: tuple[ConfigIssue, ...]


def _load_chunk(texts: list[tuple[str, str]], source: str, limits: ReadLimits
                ) -> list[tuple[Any, bool] | ConfigIssues]:
    """In a worker: :func:`_load` of each file, up to the first problem."""
    found: list[tuple[Any, bool] | ConfigIssues] = []
    for name, text in texts:
        try:
            found.append(_load(text, source, limits, name))
        except ConfigError as exc:
            found.append(ConfigIssues(tuple(exc.issues)))
            break
    return found


def _included_files(entry: str, directory: Path) -> list[Path] | None:
    """The files one ``include`` entry names (None: a path that is not there)."""
    if _GLOB.search(entry):
        return sorted(p for p in directory.glob(entry) if p.is_file())
    path = directory / entry
    if path.is_dir():
        return sorted(p for p in path.iterdir()
                      if p.suffix in (".yaml", ".yml") and p.is_file()
                      and not p.name.startswith("."))
    return [path] if path.is_file() else None


def _included(data: dict[str, Any], text: str, name: str, source: str,
              limits: ReadLimits, loaded: tuple[Any, bool]) -> _Part:
    found, has_duplicates = loaded
    found = {} if found is None else found
    problems = []
    if not isinstance(found, dict):
        problems.append(ConfigIssue("(top level)", 1, "expected a mapping of " + ", ".join(
            INCLUDED_SECTIONS), file=name))
        found = {}
    for key, value in found.items():
        if key not in INCLUDED_SECTIONS:
            line = LineIndex(text, [(key,)], find_duplicates=False).lines.get((key,))
            allowed = ", ".join(INCLUDED_SECTIONS)
            problems.append(ConfigIssue(format_path((str(key),)), line, (
                f"unknown key {key!r}; allowed keys in an included file: {allowed}"
                + (" (only the main file includes)" if key == "include" else "")), file=name))
        elif not isinstance(value, list):
            line = LineIndex(text, [(key,)], find_duplicates=False).lines.get((key,))
            problems.append(ConfigIssue(key, line, f"{value!r} is not valid: expected a list",
                                        file=name))
    if problems:
        raise ConfigError(source, problems)
    part = _Part(name, text, has_duplicates, {}, {})
    for section, items in found.items():
        merged = data.get(section)
        if not isinstance(merged, list):
            merged = data[section] = [] if merged is None else merged
        if isinstance(merged, list):
            part.starts[section] = len(merged)
            part.counts[section] = len(items)
            merged.extend(items)
    return part


def _value_at(data: object, loc: Sequence[Any]) -> object:
    """The value at a semantic issue's location in the file's data (:func:`_plain`), None
    for a key that is missing."""
    value = data
    for step in loc:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            value = value[step]
        else:
            return None
    return _plain(value)


def _plain(value: object) -> object:
    """``value`` when an issue can show it (a text, a number, a boolean), else None (a
    whole section is not echoed)."""
    return value if isinstance(value, str | int | float | bool) else None


def _local(parts: list[_Part], loc: Sequence[Any]) -> tuple[_Part, Loc]:
    """The part holding a merged location, and the location within it."""
    if len(loc) >= 2 and loc[0] in INCLUDED_SECTIONS:
        for part in parts:
            if part.holds(loc[0], loc[1]):
                return part, (loc[0], loc[1] - part.starts.get(loc[0], 0), *loc[2:])
    return parts[0], tuple(loc)


_MERGED_ITEM = re.compile(
    r"\b(" + "|".join(INCLUDED_SECTIONS) + r")\[(\d+)\]((?:\.\w+|\[\d+\])*)")


def _local_names(parts: list[_Part], message: str, owner: _Part, main: str) -> str:
    """``customers[12]`` in a message about ``owner``'s items, named where it is written:
    ``customers[0] in customers.d/acme.yaml`` (``main``: the main file's name), or just
    ``customers[0]`` when it is in ``owner`` too."""
    if len(parts) == 1:
        return message

    def named(match: re.Match[str]) -> str:
        part, loc = _local(parts, (match[1], int(match[2])))
        text = format_path(loc) + match[3]
        return text if part is owner else f"{text} in {part.file or main}"

    return _MERGED_ITEM.sub(named, message)


def parse_config(text: str, source: str = "<config>", limits: ReadLimits | None = None,
                 directory: Path | None = None, *, workers: int = 1) -> Config:
    """Validate YAML text; raise :class:`ConfigError` listing every problem (at most
    ``MAX_ISSUES`` of them, with the count of the rest). ``directory``: where the text's
    ``include`` paths are (a text without a directory may not include).

    The garbage collector is paused meanwhile (:mod:`monitor.collector`): a configuration
    of 10,000 customers is a million YAML nodes and values, which it walked again and
    again as they piled up (9.7 s to read it, 1.6 s paused)."""
    with collector.paused():
        return _parse_config(text, source, limits, directory, workers)


def _parse_config(text: str, source: str, limits: ReadLimits | None, directory: Path | None,
                  workers: int) -> Config:
    limits = limits or ReadLimits()
    if len(text) > limits.max_bytes:
        raise ConfigError(source, [_too_large(len(text.encode("utf-8")), limits)])
    data, has_duplicates = _load(text, source, limits)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("(top level)", 1, "expected a mapping of sections")])
    parts = _include(data, text, has_duplicates, source, limits, directory, workers)

    found: list[tuple[Sequence[Any], str]] = []  # (location, message)
    values: dict[int, object] = {}  # the value each of found names, as the file has it
    config: Config | None = None
    try:
        config = Config.model_validate(data)
        found += semantic_issues(data)
    except ValidationError as exc:
        for error in exc.errors()[:MAX_ISSUES]:
            loc = error["loc"]
            if error["type"].startswith("union_tag_"):
                loc = (*loc, "type")
            allowed = _allowed_keys(Config, loc) if error["type"] == "extra_forbidden" else []
            if error["type"] != "missing":
                values[len(found)] = _plain(error.get("input"))
            found.append((loc, _message(error, allowed)))
        found += semantic_issues(data)
    except RecursionError:
        raise ConfigError(source, [_too_deep(limits)]) from None
    if not found and not any(part.has_duplicates for part in parts) and config is not None:
        return config
    located = [(*_local(parts, where), message,
                values[n] if n in values else _value_at(data, where))
               for n, (where, message) in enumerate(found)]
    main = os.path.basename(source)
    issues: list[ConfigIssue] = []
    for part in parts:
        mine = [(where, message, value)
                for owner, where, message, value in located if owner is part]
        if not mine and not part.has_duplicates:
            continue
        index = LineIndex(part.text, [where for where, _, _ in mine],
                          find_duplicates=part.has_duplicates)
        issues += [replace(issue, file=part.file) for issue in index.duplicates]
        for where, message, value in mine:
            path, line = index.resolve(where)
            # Secrets never reach an error: a storage.url or probe URL's password.
            issues.append(ConfigIssue(format_path(path), line,
                                      redact(_local_names(parts, message, part, main)),
                                      redact_value(value), file=part.file))
    issues.sort(key=lambda issue: (issue.file or "", issue.line or 0, issue.path))
    if len(issues) > MAX_ISSUES:
        more = len(issues) - MAX_ISSUES
        issues = [*issues[:MAX_ISSUES], ConfigIssue("(file)", None, f"... and {more} more")]
    raise ConfigError(source, issues)
