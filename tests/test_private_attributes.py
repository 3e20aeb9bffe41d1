"""No private attributes of other libraries (or of another module's objects), checked from
the installed package's source with ``ast``:

* ``thing._name`` is read only on ``self``/``cls`` or where ``_name`` belongs to a class of
  the same module (``site._server``, ``clock._base_wall``, ``super()._method`` are flagged);
  a type annotation names a type and reads nothing, so it is left out;
* a subclass of another library's class reads no ``self._name`` it does not set itself
  (``web.TCPSite``'s ``self._runner``, ``self._host``) and overrides none of that class's
  private methods.

The few that remain are listed in :data:`KNOWN`, each with why; the list may only shrink
(a fixed one must leave it, a new one fails).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import sys
import types
from collections.abc import Iterator

from aiohttp import web

from tests.test_architecture import MODULES, _tree

#: (module, what) -> why it is still there.
KNOWN = {
    ("monitor.probes.sessions", "TimedConnector._wrap_create_connection"): (
        "aiohttp's connector: a single address connected by the event loop itself (measured, "
        "README 'The runtime at scale'); aiohttp has no public hook for it"),
    ("monitor.probes.sessions", "TimedConnector self._local_addr_infos"): "the same override",
    ("monitor.probes.sessions", "TimedConnector self._ssl_shutdown_timeout"): "the same override",
    ("monitor.probes.sessions", "TimedConnector self._loop"): "the same override",
    ("monitor.probes.sessions", "super()._wrap_create_connection"): "the same override",
    ("monitor.testing.smtp", "_Controller._create_server"): (
        "the test SMTP sink (aiosmtpd's Controller) binding port 0 and going down and up "
        "without stopping its loop; test support, not the product"),
    ("monitor.testing.smtp", "_Controller self._factory_invoker"): "the same test support",
}


def _annotations(tree: ast.AST) -> set[int]:
    """The ids of every node inside a type annotation."""
    found: set[int] = set()
    for node in ast.walk(tree):
        notes: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        for note in notes:
            if note is not None:
                found.update(id(inner) for inner in ast.walk(note))
    return found


def _own_privates(tree: ast.Module) -> set[str]:
    """The private names this module defines: its functions, classes and globals, and what
    its own classes set on ``self`` (not those derived from another library's class, whose
    ``self._name`` may well be that library's)."""
    local = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    plain = local | set(dir(builtins)) | {"Protocol", "Generic"}
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
        if isinstance(node, ast.ClassDef) and all(
                isinstance(base, ast.Name) and base.id in plain for base in node.bases):
            own.update(inner.attr for inner in ast.walk(node) if isinstance(inner, ast.Attribute)
                       and isinstance(inner.ctx, ast.Store) and _is_self(inner.value))
    return {name for name in own if _private(name)}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def foreign_reads(tree: ast.Module) -> Iterator[str]:
    """``thing._name`` (read or written) of a private that is not this module's own."""
    skip, own = _annotations(tree), _own_privates(tree)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and id(node) not in skip
                and not _is_self(node.value)):
            is_super = (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                        and node.value.func.id == "super")
            if is_super or node.attr not in own:
                yield ast.unparse(node)


def _foreign_bases(module: str, cls: ast.ClassDef) -> list[type]:
    """The classes of other libraries that ``cls`` derives from directly."""
    loaded = getattr(importlib.import_module(module), cls.name, None)
    if not isinstance(loaded, type):
        return []
    return [base for base in loaded.__mro__[1:]
            if base is not object and not base.__module__.startswith("monitor")]


def inherited_privates(module: str, tree: ast.Module) -> Iterator[str]:
    """In a subclass of another library's class: the private methods of that class it
    overrides, and the ``self._name`` it reads without setting it."""
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef) or not cls.bases:
            continue
        bases = _foreign_bases(module, cls)
        if not bases:
            continue
        body = ast.Module(body=cls.body, type_ignores=[])
        own = {node.attr for node in ast.walk(body) if isinstance(node, ast.Attribute)
               and isinstance(node.ctx, ast.Store) and _is_self(node.value)}
        for node in cls.body:
            if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _private(node.name)
                    and any(node.name in vars(base) for base in bases)):
                yield f"{cls.name}.{node.name}"
        read = sorted({node.attr for node in ast.walk(body) if isinstance(node, ast.Attribute)
                       and _private(node.attr) and _is_self(node.value)
                       and isinstance(node.ctx, ast.Load) and node.attr not in own
                       and not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                                   and n.name == node.attr for n in cls.body)})
        yield from (f"{cls.name} self.{name}" for name in read)


def _found() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for name in MODULES:
        tree = _tree(name)
        found.update((name, what) for what in foreign_reads(tree))
        found.update((name, what) for what in inherited_privates(name, tree))
    return found


def test_no_private_attribute_of_another_library() -> None:
    found = _found()
    assert sorted(found - set(KNOWN)) == [], "private attributes of other libraries"
    assert sorted(set(KNOWN) - found) == [], "fixed: take them off KNOWN"


def test_the_check_finds_private_reads() -> None:
    source = """
import asyncio
from aiohttp import web

class Site(web.TCPSite):
    async def start(self) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            self._runner.server, self._host, 0)

class Mine:
    def __init__(self) -> None:
        self._count = 0

def port(site: web.TCPSite, clock: Clock, mine: Mine) -> int:
    clock._base_wall = 0.0
    mine._count += 1
    return site._server.sockets[0].getsockname()[1]

def typed(parser: argparse._SubParsersAction) -> None:
    super()._hidden()
"""
    tree = ast.parse(source)
    # Site sets self._server, but Site is aiohttp's class underneath: site._server is its.
    assert sorted(foreign_reads(tree)) == ["clock._base_wall", "site._server", "super()._hidden"]
    fake = types.ModuleType("monitor_fake_site")
    fake.Site = type("Site", (web.TCPSite,), {})  # type: ignore[attr-defined]
    sys.modules["monitor_fake_site"] = fake
    try:
        assert list(inherited_privates("monitor_fake_site", tree)) == [
            "Site self._host", "Site self._runner"]
    finally:
        del sys.modules["monitor_fake_site"]
