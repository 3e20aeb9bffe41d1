"""monitor.errors: one hierarchy, documented at the top, every public name exported."""

from __future__ import annotations

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
