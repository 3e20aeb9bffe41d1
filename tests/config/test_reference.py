"""README.md's configuration reference is the schema's, word for word."""

from __future__ import annotations

from pathlib import Path

from monitor.config.reference import END, START, render
from monitor.config.schema import Config


def test_readme_reference_matches_schema() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(START), readme.index(END) + len(END)
    assert readme[start:end] == render(), "run: python -m monitor.config.reference"
    # Once: the README had ended with the end marker five times over.
    assert (readme.count(START), readme.count(END)) == (1, 1)


def test_reference_names_every_top_level_key() -> None:
    text = render()
    for key in Config.model_fields:
        assert f"| `{key}` |" in text
