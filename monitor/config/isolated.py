"""The daemon's configuration, read in a child process so that the daemon never pays for YAML.

Parsing YAML is slow and its memory is never given back: 40,000 targets take about
8 s of CPU and 290 MB of peak memory in the process that parses them, and a process
keeps that peak (the objects that live on are scattered over the memory the parse
used). So ``sla-monitor run`` and its reloads (SIGHUP) do not parse in the daemon:

1. a child process (this interpreter, the installed package, ``python -I -m
   monitor.config.isolated PATH``) reads the file with :func:`load_config`, checks it
   the same way, and writes it back as lines of ``SECTION<TAB>JSON``: the
   configuration without its long lists, then the servers, services, customers and
   canaries in chunks;
2. the daemon validates those lines with pydantic's JSON parser (in Rust, no
   intermediate dicts): the same models, built in fresh memory. On a reload it
   awaits the child without blocking (the parse runs on the other core) and
   validates a chunk at a time, yielding to the event loop in between, so that
   probing never stalls (:func:`load_config_async`).

A configuration error is found by the child and raised in the daemon as the very
same :class:`ConfigError` (every issue, with its path and line).

The HTTP API's check of a configuration sent to it (``POST /api/v1/config/check``) runs
in such a child too (:func:`run_isolated`, :mod:`monitor.actions.config_check`): the
whole check, its answer sent back as JSON, never parsed by the daemon.

*Measured* (``benchmarks/HISTORY.md``, 40,000 targets): the daemon's resident memory after
loading drops from about 330 MB to about 110 MB, and a reload no longer holds the
event loop for the parse.

>>> config = Config()
>>> lines = list(_dump(config))
>>> _assemble([_decode(line) for line in lines]) == config
True
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from monitor.config.loader import load_config
from monitor.config.schema import Canary, Config, Customer, Server, Service
from monitor.errors import ConfigError, ConfigIssue

__all__ = [
    "MEMORY_VARIABLE",
    "error_line",
    "load_config_async",
    "load_config_isolated",
    "restrict",
    "run_isolated",
]

CHUNK = 1000  # list items per line: one line validates in a few tens of milliseconds
# The sections long enough to matter, and the type of their items.
_LISTS: dict[str, TypeAdapter[Any]] = {
    "servers": TypeAdapter(list[Server]),
    "services": TypeAdapter(list[Service]),
    "customers": TypeAdapter(list[Customer]),
}
_CANARIES = TypeAdapter(list[Canary])
_CHILD_LIMIT = 600.0  # seconds: a configuration that takes longer to read is refused
MEMORY_VARIABLE = "SLA_MONITOR_CHILD_MEMORY"  # bytes of address space a child may take
CHILD_NICENESS = 10  # a check's child yields the CPU to the daemon (and its probe workers)


def _command(path: Path) -> list[str]:
    # -I: the installed package only (neither the working directory nor PYTHONPATH).
    return [sys.executable, "-I", "-m", "monitor.config.isolated", str(path)]


def _dump(config: Config) -> Iterator[str]:
    """The configuration as ``config<TAB>{...}`` without the long lists, then
    ``SECTION<TAB>[items...]`` per chunk of each list."""
    # exclude_unset: only what the file set, so that the daemon's models are those of an
    # in-process load, down to their fields_set and the defaults they share (a TLSSettings
    # per probe, were it written out, is a few hundred bytes times 40,000).
    options: dict[str, Any] = {"mode": "json", "by_alias": True, "exclude_unset": True}
    rest = config.model_dump(exclude=set(_LISTS) | {"monitor"}, **options)
    monitor = config.monitor.model_dump(exclude={"canaries"}, **options)
    yield "config\t" + json.dumps({**rest, "monitor": monitor})
    for section in _LISTS:
        items = getattr(config, section)
        for start in range(0, len(items), CHUNK):
            chunk = [item.model_dump(**options) for item in items[start : start + CHUNK]]
            yield f"{section}\t{json.dumps(chunk)}"
    canaries = [c.model_dump(**options) for c in config.monitor.canaries]
    yield "canaries\t" + json.dumps(canaries)


def _decode(line: str) -> tuple[str, Any]:
    """One line, its list validated into the models themselves."""
    name, _, body = line.rstrip("\n").partition("\t")
    if name in _LISTS:
        return name, _LISTS[name].validate_json(body)
    if name == "canaries":
        return name, _CANARIES.validate_json(body)
    if name == "config":
        return name, json.loads(body)
    raise ValueError(f"unexpected line from the configuration reader: {line[:80]!r}")


def share_equal_parts(models: Iterable[BaseModel]) -> None:
    """Make the equal parts of ``models`` (and of the models inside them) one object each.

    Validated from JSON, every service has its own copy of what most services hold alike:
    its ``fields_set`` sets (about 216 bytes each), the defaults pydantic copies per
    instance (``expected_status: ["2xx"]``, ``headers: {}``), the numbers and the literal
    strings (``"mobile_api"``, ``"http"``, ``"GET"``). The models are frozen and nothing
    changes these parts after validation, so equal ones can be the same object: measured,
    a plain HTTP service drops from about 1,580 to about 1,080 bytes, 20 MB of the daemon's
    memory at 40,000 targets. Values and equality stay the same; a value seen once (a URL,
    an id) is kept as it is: the pool lives only for this call.
    """
    pool: dict[tuple[type, Any], Any] = {}

    def same(value: Any) -> Any:
        kind = type(value)
        if kind in (str, float, int):
            return pool.setdefault((kind, value), value)
        if kind is list and all(type(item) in (str, int) for item in value):
            items = tuple(same(item) for item in value)
            shared = pool.get((list, items))
            if shared is None:
                shared = pool[(list, items)] = list(items)
            return shared
        if kind is dict and not value:
            return pool.setdefault((dict, ()), value)
        if isinstance(value, BaseModel):
            share(value)
        return value

    def share(model: BaseModel) -> None:
        fields_set = frozenset(model.__pydantic_fields_set__)
        kept = pool.get((set, fields_set))
        if kept is None:
            kept = pool[(set, fields_set)] = set(fields_set)
        object.__setattr__(model, "__pydantic_fields_set__", kept)
        values = model.__dict__
        for name, value in values.items():
            values[name] = same(value)

    for model in models:
        share(model)


def _assemble(parts: list[tuple[str, Any]]) -> Config:
    top: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {name: [] for name in _LISTS}
    canaries: list[Canary] = []
    for name, value in parts:
        if name == "config":
            top = value
        elif name == "canaries":
            canaries = value
        else:
            lists[name].extend(value)
    share_equal_parts(model for items in lists.values() for model in items)
    # Validated models are taken as they are (pydantic does not validate an instance again).
    return Config.model_validate(
        {**top, **lists, "monitor": {**top.get("monitor", {}), "canaries": canaries}}
    )


def error_line(exc: ConfigError) -> str:
    """``exc`` as the one JSON line a child prints for it (read back by :func:`run_isolated`)."""
    issues = [
        {
            "path": i.path,
            "line": i.line,
            "message": i.message,
            "value": i.value if isinstance(i.value, str | int | float | bool) else None,
            "file": i.file,
        }
        for i in exc.issues
    ]
    return json.dumps({"source": exc.source, "issues": issues})


async def run_isolated(module: str, stdin: bytes, *, source: str, seconds: float,
                       memory: int | None = None) -> bytes:
    """``python -I -m MODULE`` fed ``stdin``: what it printed, once it exits 0; the
    :class:`ConfigError` it printed (:func:`error_line`), or one saying why it failed
    (a crash, ``seconds`` passed: the child is killed). With ``memory`` (bytes),
    the child limits its own address space to that (``MODULE`` calls :func:`restrict`,
    which reads :data:`MEMORY_VARIABLE`): what it parses cannot take the machine's memory.

    The daemon only waits for it: the parse runs in another process, on another core,
    and its memory is given back when it exits."""
    environment = dict(os.environ)
    if memory is not None:
        environment[MEMORY_VARIABLE] = str(memory)
    # No shell: this interpreter and a fixed module.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-m", module,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=environment,
    )
    try:
        async with asyncio.timeout(seconds):
            out, err = await child.communicate(stdin)
    except TimeoutError:
        raise _error(f"checking took longer than {seconds:g} s", source) from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode != 0:
        raise _error(out.decode(errors="replace") or err.decode(errors="replace"), source)
    return out


def restrict() -> None:
    """In a child of :func:`run_isolated`: the address space it was given, if any, and a
    lower CPU priority (:data:`CHILD_NICENESS`): on a busy machine the daemon's probes
    come before a check someone asked for."""
    import resource

    given = os.environ.get(MEMORY_VARIABLE, "")
    if re.fullmatch(r"[0-9]{1,15}", given):
        resource.setrlimit(resource.RLIMIT_AS, (int(given), int(given)))
    os.nice(CHILD_NICENESS)


def _error(text: str, source: str) -> ConfigError:
    """The child's ConfigError, or one saying why the child could not read the file."""
    try:
        found = json.loads(text.strip().splitlines()[-1])
        return ConfigError(
            found["source"],
            [ConfigIssue(i["path"], i["line"], i["message"], i["value"], i.get("file"))
             for i in found["issues"]],
        )
    except (ValueError, KeyError, IndexError, TypeError):
        reason = text.strip().splitlines()[-1] if text.strip() else "no reason given"
        return ConfigError(source, [ConfigIssue("(file)", None, f"cannot be read: {reason}")])


def load_config_isolated(path: str | Path) -> Config:
    """:func:`load_config` through a child process (at start, before the event loop runs)."""
    try:
        # No shell: this interpreter and a fixed module, the path as one argument.
        child = subprocess.run(  # noqa: S603
            _command(Path(path)),
            capture_output=True,
            text=True,
            timeout=_CHILD_LIMIT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise _error(f"reading took longer than {_CHILD_LIMIT:g} s", str(path)) from None
    if child.returncode != 0:
        raise _error(child.stdout or child.stderr, str(path))
    return _assemble([_decode(line) for line in child.stdout.splitlines() if line])


async def load_config_async(path: str | Path) -> Config:
    """:func:`load_config` through a child process, never blocking the event loop for long:
    the child parses on another core, and the daemon validates one chunk at a time."""
    child = await asyncio.create_subprocess_exec(
        *_command(Path(path)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        limit=64 * 1024 * 1024,  # one line is a chunk of CHUNK items
    )
    parts: list[tuple[str, Any]] = []
    try:
        async with asyncio.timeout(_CHILD_LIMIT):
            assert child.stdout is not None and child.stderr is not None
            lines: list[str] = []
            while line := await child.stdout.readline():
                lines.append(line.decode())
            errors = await child.stderr.read()
            status = await child.wait()
            if status != 0:
                raise _error("".join(lines) or errors.decode(errors="replace"), str(path))
            for text in lines:
                parts.append(_decode(text))
                await asyncio.sleep(0)  # let the probes run between chunks
    except TimeoutError:
        raise _error(f"reading took longer than {_CHILD_LIMIT:g} s", str(path)) from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _assemble(parts)


def main() -> int:
    """The child: read ``argv[1]``; JSON lines on stdout, or the ConfigError and exit 2."""
    source = sys.argv[1]
    try:
        # This process has no threads: it may fork to parse many included files at once.
        config = load_config(source, workers=os.cpu_count() or 1)
    except ConfigError as exc:
        print(error_line(exc))
        return 2
    out = sys.stdout
    for line in _dump(config):
        out.write(line)
        out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
