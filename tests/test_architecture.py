"""The shape of the installed package, checked from its source with ``ast``:

* no module outside ``monitor/store/`` (and the migrations) imports SQLAlchemy at run
  time (imports under ``if TYPE_CHECKING:`` are type-only);
* no error raised outside ``monitor/cli/`` names a ``--flag``: actions name fields, and
  each edge says them in its own words;
* the graph of ``monitor.*`` imports has no cycle, and each layer imports only its own
  and those below (the layers of ``monitor/__init__.py``);
* the runtime stays made of parts: ``app.py`` at most 300 lines, no class over 350 lines;
* every module logs under its own name (``getLogger(__name__)``), and no two modules
  define a public class or type alias of the same name (one name, one thing);
* every ``>>>`` example in a docstring runs (``# doctest: +SKIP`` only where an example
  needs a live server or a configuration file).

The package scanned is the installed one (the suite never imports the checkout).
"""

from __future__ import annotations

import ast
import doctest
import functools
import importlib
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

import monitor

PACKAGE = Path(monitor.__file__).resolve().parent
# Shipped inside the package but not Python of ours to import: alembic runs env.py.
NOT_MODULES = ("migrations",)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in NOT_MODULES or "__pycache__" in relative.parts:
            continue
        parts = ["monitor", *relative.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs: ``if TYPE_CHECKING:`` bodies left out (their ``else`` kept)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


@functools.cache
def _tree(name: str) -> ast.Module:
    """The module's syntax tree, parsed once per test process (the checks only read it)."""
    return ast.parse(MODULES[name].read_text(encoding="utf-8"), str(MODULES[name]))


def _imports(name: str) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every run-time import of ``name``."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in _runtime_nodes(_tree(name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names]


def test_the_scan_sees_the_package() -> None:
    assert {"monitor.app", "monitor.store.db", "monitor.actions", "monitor.sla.engine",
            "monitor.present.formats", "monitor.daemon.watch"} <= set(MODULES)
    assert "monitor.daemon.monitor" not in MODULES  # renamed: daemon/watch.py (Watch)


def test_no_sqlalchemy_outside_the_store() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name in MODULES
        if not name.startswith("monitor.store")
        for imported, _ in _imports(name)
        if imported == "sqlalchemy" or imported.startswith("sqlalchemy.")
    ]
    assert offenders == []


def test_the_check_finds_a_sqlalchemy_import() -> None:
    # The store does import it, at run time: the scan would see an offender.
    assert any(imported.startswith("sqlalchemy") for imported, _ in _imports("monitor.store.db"))


FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _error_texts(node: ast.AST) -> Iterator[str]:
    """String constants inside ``raise`` statements and calls of ``...Error(...)``."""
    for found in _runtime_nodes(node):
        if isinstance(found, ast.Raise) and found.exc is not None:
            targets: list[ast.AST] = [found.exc]
        elif isinstance(found, ast.Call) and _called(found).endswith(("Error", "Issue")):
            targets = [found]
        else:
            continue
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield part.value


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def test_no_error_outside_the_cli_names_a_flag() -> None:
    offenders = [
        f"{name}: {text!r}"
        for name in MODULES
        if not name.startswith("monitor.cli")
        for text in _error_texts(_tree(name))
        if FLAG.search(text)
    ]
    assert offenders == []


def test_the_flag_check_sees_the_cli_flags() -> None:
    texts = [
        text
        for name in MODULES
        if name.startswith("monitor.cli")
        for text in _error_texts(_tree(name))
    ] + ["--end: is not valid"]
    assert any(FLAG.search(text) for text in texts)


def _graph() -> dict[str, set[str]]:
    """Module -> the ``monitor.*`` modules it imports at run time. ``from pkg import mod``
    points at ``pkg.mod``; ``from pkg import name`` at ``pkg`` (its ``__init__``)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for imported, members in _imports(name):
            submodules = {f"{imported}.{m}" for m in members} & MODULES.keys()
            graph[name] |= submodules
            if imported in MODULES and (not members or len(submodules) < len(members)):
                graph[name].add(imported)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a self-import (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = _graph()
    graph["monitor.sla.intervals"].add("monitor.sla.engine")  # engine imports intervals
    assert any({"monitor.sla.engine", "monitor.sla.intervals"} <= set(c) for c in _cycles(graph))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "monitor.__main__"))
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"


# The layers of monitor/__init__.py and README.md, bottom up: a module imports only from
# its own layer or those below.
LAYERS = (
    ("monitor", "monitor.errors", "monitor.clock", "monitor.logs"),
    ("monitor.sla",),
    ("monitor.store",),
    ("monitor.present",),
    ("monitor.config",),
    ("monitor.actions",),
    ("monitor.notify", "monitor.probes", "monitor.testing"),
    ("monitor.daemon", "monitor.http", "monitor.app"),
    ("monitor.cli", "monitor.demo", "monitor.__main__"),
)


def _layer(name: str) -> int:
    best = (-1, -1)  # (length of the matching prefix, layer)
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), rank)
    assert best[1] >= 0, f"{name} is in no layer"
    return best[1]


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} ({LAYERS[_layer(name)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for name, targets in graph.items()
        for target in targets
        if _layer(target) > _layer(name)
    ]


def test_each_layer_imports_only_its_own_and_those_below() -> None:
    assert _upward(_graph()) == []


def test_the_layer_check_finds_an_upward_import() -> None:
    graph = _graph()
    graph["monitor.sla.engine"].add("monitor.store.db")  # the pure engine reaching for SQL
    assert _upward(graph) == [
        "monitor.sla.engine (monitor.sla) imports monitor.store.db (monitor.store)"]


# The runtime as parts (monitor.daemon.runtime): the wiring stays short enough to read in
# one sitting, and a class that outgrows this holds two ideas.
APP_MAX_LINES = 300
CLASS_MAX_LINES = 350


def _long_classes(tree: ast.Module, limit: int) -> list[tuple[str, int]]:
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and (node.end_lineno or node.lineno) - node.lineno + 1 > limit
    ]


def test_app_is_wiring_only() -> None:
    lines = len(MODULES["monitor.app"].read_text(encoding="utf-8").splitlines())
    assert lines <= APP_MAX_LINES, f"monitor/app.py has {lines} lines (at most {APP_MAX_LINES})"


def test_no_class_is_over_the_limit() -> None:
    offenders = [
        f"{name}.{cls} ({lines} lines)"
        for name in MODULES
        for cls, lines in _long_classes(_tree(name), CLASS_MAX_LINES)
    ]
    assert offenders == [], f"classes over {CLASS_MAX_LINES} lines: {offenders}"


def test_the_class_size_check_finds_a_long_class() -> None:
    source = "class Big:\n" + "    x = 1\n" * 5
    assert _long_classes(ast.parse(source), 5) == [("Big", 6)]
    assert _long_classes(ast.parse(source), 6) == []

# A frozen report revision (R-C3) is read back typed (MonthReport.from_json,
# RevisionEvidence.from_json): no action or presenter reads one of its fields by a string key,
# which strict mypy cannot see renamed.
def _frozen_fields() -> frozenset[str]:
    """Every key a frozen revision's JSON has: the report's (a cluster's too) and the
    evidence's, from the writers themselves."""
    from monitor.actions.reports import FrozenWindow, RevisionEvidence
    from monitor.sla import CreditLine, CustomerReport, IncidentLine, MonthReport, month_period
    from monitor.sla.report import VantageProblemLine

    at = month_period("2026-03", "gregorian", "UTC").start
    incident = IncidentLine(1, "web", at, None, 60, "provider", None, None)
    customer = CustomerReport(
        "acme", 60, 60, 0, {}, 0, Decimal(99), Decimal("99.8"), None, 0, (), 0, (), Decimal(0),
        Decimal(0), Decimal(0), Decimal(0), "EUR", None, (CreditLine("R-T1"),), (incident,))
    report = MonthReport(month_period("2026-03", "gregorian", "UTC"), (customer,), {1: ("a",)},
                         (VantageProblemLine("web", "a", at, None),))
    evidence = RevisionEvidence((FrozenWindow(1, ("web",), at, at, "", {"acme": at}),))
    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(k for k in value if k != "acme")  # a customer id, not a field
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(report.to_json())
    walk(evidence.to_json())
    return frozenset(keys)


def _string_key_reads(tree: ast.AST, fields: frozenset[str]) -> Iterator[tuple[int, str]]:
    """``record["downtime_seconds"]`` and ``record.get("tier")`` reads of ``fields``."""
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Call) and _called(node) == "get" and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and key.value in fields:
            yield node.lineno, key.value


def test_no_frozen_report_field_is_read_by_a_string_key() -> None:
    fields = _frozen_fields()
    assert {"downtime_seconds", "confirmed_by", "notices", "vantage_problems"} <= fields
    offenders = [
        f"{name}:{line}: {key!r}"
        for name in MODULES
        if name.startswith(("monitor.actions", "monitor.present"))
        for line, key in _string_key_reads(_tree(name), fields)
    ]
    assert offenders == []


def test_the_string_key_check_finds_a_read() -> None:
    tree = ast.parse('days = record["credit_days_total"]\ntier = record.get("tier")\n'
                     'record["downtime_seconds"] = 0\nrow = rows["other"]\n')
    assert sorted(_string_key_reads(tree, _frozen_fields())) == [
        (1, "credit_days_total"), (2, "tier")]


_ISSUE_NUMBER = re.compile(r"\bissues? \d+", re.IGNORECASE)


def test_no_development_issue_numbers_in_the_product() -> None:
    """Names and words say what a thing is, never which issue made it: the package, the
    README, the example configuration, the unit, the dashboards and rules, the migrations."""
    root = Path(__file__).resolve().parents[1]
    places = [root / "README.md", root / "config.example.yaml", root / "alembic.ini",
              *(root / "monitor").rglob("*"), *(root / "systemd").rglob("*"),
              *(root / "grafana").rglob("*"), *(root / "alembic").rglob("*")]
    found = []
    for path in places:
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".png"):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _ISSUE_NUMBER.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


# A development issue's number as the migrations wrote it into their names: "0009_i15".
_ISSUE_TOKEN = re.compile(r"(?:^|_)i\d+(?:_|$)")


def _assigned(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name and isinstance(node.value, ast.Constant)):
            return node.value.value
    return None


def test_migrations_are_named_by_their_content_and_follow_their_chain() -> None:
    """Each migration's file is named after its revision id (alembic.ini's file_template),
    neither carries an issue's number, and the revisions make one line from the first."""
    versions = Path(__file__).resolve().parents[1] / "alembic" / "versions"
    revisions: dict[object, object] = {}
    for path in sorted(versions.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        revision, down = _assigned(tree, "revision"), _assigned(tree, "down_revision")
        assert isinstance(revision, str), path.name
        assert path.stem == revision or path.stem.startswith(f"{revision}_"), path.name
        assert not _ISSUE_TOKEN.search(path.stem) and not _ISSUE_TOKEN.search(revision), path.name
        revisions[down] = revision
    line, at = [], revisions.get(None)
    while at is not None:
        line.append(at)
        at = revisions.get(at)
    assert revisions and len(line) == len(revisions), revisions


def test_the_migration_name_check_finds_an_issue_token() -> None:
    assert [name for name in ("0009_i15_cluster", "0009_i15", "i9_x", "initial_schema",
                              "0004_traps", "idempotent_i")
            if _ISSUE_TOKEN.search(name)] == ["0009_i15_cluster", "0009_i15", "i9_x"]


def _logger_names(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, what is passed) for every ``getLogger(...)`` that names a logger of ours other
    than by ``__name__``: a ``monitor...`` string literal anywhere, and anything but
    ``__name__`` for a module-level logger. Other libraries' loggers (``"apscheduler"``,
    quietened by the logging set-up) may be named by their string."""
    module_level = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _called(node).endswith("getLogger") and node.args):
            continue
        [argument] = node.args
        if isinstance(argument, ast.Name) and argument.id == "__name__":
            continue
        ours = isinstance(argument, ast.Constant) and isinstance(argument.value, str) and (
            argument.value == "monitor" or argument.value.startswith("monitor."))
        if ours or id(node) in module_level:
            yield node.lineno, ast.unparse(argument)


def test_every_logger_is_named_after_its_module() -> None:
    """A log line's ``logger`` field says which module wrote it: ``getLogger(__name__)``,
    never a shared or made-up name that outlives the module it meant."""
    found = [f"{name}:{line}: getLogger({argument})"
             for name in MODULES for line, argument in _logger_names(_tree(name))]
    assert found == []


def test_the_logger_check_finds_a_made_up_name() -> None:
    tree = ast.parse('import logging\n'
                     'log = logging.getLogger("monitor.monitor")\n'
                     'shared = logging.getLogger(NAME)\n'
                     'own = logging.getLogger(__name__)\n'
                     'def quiet(name):\n'
                     '    logging.getLogger("apscheduler").setLevel(30)\n'
                     '    logging.getLogger(name).setLevel(30)\n'
                     '    logging.getLogger("monitor.notify").setLevel(30)\n')
    assert list(_logger_names(tree)) == [
        (2, "'monitor.monitor'"), (3, "NAME"), (8, "'monitor.notify'")]


def test_each_module_with_a_logger_has_its_own() -> None:
    # Every module-level ``log`` is the logger of its module's own name.
    names = {name for name in MODULES if re.search(r"^log = logging\.getLogger\(__name__\)$",
                                                    MODULES[name].read_text(encoding="utf-8"),
                                                    re.MULTILINE)}
    assert {"monitor.daemon.watch", "monitor.daemon.journal", "monitor.notify.outbox"} <= names
    for name in sorted(names):
        assert importlib.import_module(name).log is logging.getLogger(name)


_TYPE_MAKERS = ("TypeVar", "ParamSpec")  # a type variable is local to the module that uses it


def _type_names(tree: ast.Module) -> Iterator[str]:
    """The public classes and type aliases a module defines (not imports): ``class X``,
    ``X = ...`` / ``X: TypeAlias = ...`` with a CapWords name (UPPER_CASE is a constant)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            yield node.name
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id.startswith("_"):
            continue
        if target.id.isupper() or not target.id[0].isupper():
            continue
        if isinstance(value, ast.Call) and _called(value) in _TYPE_MAKERS:
            continue
        yield target.id


def _defined_twice(trees: dict[str, ast.Module]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for name, tree in trees.items():
        for defined in dict.fromkeys(_type_names(tree)):
            where.setdefault(defined, []).append(name)
    return {defined: names for defined, names in where.items() if len(names) > 1}


def test_one_name_one_thing() -> None:
    """No two modules define a public class or type alias of the same name: a reader (and
    an import) never has to ask which ``Policy`` it is. Re-exports are imports, not
    definitions, so a package's ``__init__`` does not count."""
    assert _defined_twice({name: _tree(name) for name in MODULES}) == {}


def test_the_name_check_finds_a_name_defined_twice() -> None:
    engine = ast.parse("class Policy:\n    pass\nT = TypeVar('T')\nDAY = 86400\n")
    schema = ast.parse("from x import Tier\nPolicy = Annotated[int, 1]\nT = TypeVar('T')\n"
                       "DAY = 86400.0\nclass Tier:\n    pass\n")
    assert _defined_twice({"engine": engine, "schema": schema}) == {
        "Policy": ["engine", "schema"]}
