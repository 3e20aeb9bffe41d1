"""monitor.errors: one hierarchy, documented at the top, every public name exported."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import monitor.errors as errors


def test_all_matches_public_names() -> None:
    public = {n for n, v in vars(errors).items() if isinstance(v, type) and not n.startswith("_")
              and v.__module__ == errors.__name__}
    assert set(errors.__all__) == public


def test_tree_in_docstring_names_every_error() -> None:
    for name in errors.__all__:
        if name != "ConfigIssue":
            assert name in (errors.__doc__ or ""), name


def test_exit_codes() -> None:
    assert errors.ConfigError("x", []).exit_code == 2
    assert errors.InputError("--month", "2026-13", "YYYY-MM").exit_code == 2
    assert errors.StoreError("gone").exit_code == 1


def test_input_error_names_field_value_and_allowed() -> None:
    assert str(errors.InputError("--service", "panle", "panel, shop")) == (
        "--service: 'panle' is not valid; allowed: panel, shop")


def test_failure_class_names_exist_once_in_the_error_classes() -> None:
    from monitor.probes.base import FAILURE_CLASSES, PROBE_ERRORS

    assert set(PROBE_ERRORS) == {errors.ProbeError, *errors.ProbeError.__subclasses__()}
    assert sorted(FAILURE_CLASSES) == sorted(set(get_args(errors.FailureClass)))
    assert len(set(FAILURE_CLASSES)) == len(PROBE_ERRORS)  # one class per name


def test_every_probe_error_is_something_a_probe_can_report() -> None:
    # Honest tree: each class is in the classifier's table or raised by a probe itself.
    from monitor.probes.base import EXCEPTIONS

    probes = Path(errors.__file__).resolve().parent / "probes"
    raised = {
        node.func.id
        for path in probes.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    mapped = {failure.__name__ for _, failure, _ in EXCEPTIONS}
    every = {cls.__name__ for cls in (errors.ProbeError, *errors.ProbeError.__subclasses__())}
    assert every <= raised | mapped, every - (raised | mapped)
