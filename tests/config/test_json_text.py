"""A configuration written as JSON (the subset of YAML a provisioning system writes) is read
by the json module, and reads exactly as YAML reads it: the same document, the same
duplicate keys noted, the same errors with their lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import load_config
from monitor.config.loader import ReadLimits, _load, json_document
from monitor.errors import ConfigError

LIMITS = ReadLimits()


def _yaml(text: str) -> object:
    return yaml.load(text, Loader=yaml.CSafeLoader)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), documents, max_size=5))
def test_json_text_reads_as_yaml_reads_it(document: dict[str, object]) -> None:
    for text in (json.dumps(document), json.dumps(document, indent=2, ensure_ascii=False)):
        found = json_document(text)
        if found is None:  # YAML 1.1 reads a number of this text otherwise: YAML reads it
            continue
        assert found == (_yaml(text), False)


@pytest.mark.parametrize("number", ["1e3", "1.5e3", "1E-2", "-2.5E7"])
def test_numbers_yaml_reads_as_text_are_left_to_yaml(number: str) -> None:
    # YAML 1.1 (PyYAML) reads 1e3 and 1.5e3 as text, json as numbers: YAML decides.
    text = f'{{"a": {number}}}'
    assert json_document(text) is None
    assert _load(text, "config", LIMITS) == (_yaml(text), False)


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', "{a: 1}", "[1, 2]",
                                  '{"a": 1} # a comment', '{"a": "x\ty"}'])
def test_what_is_not_plain_json_is_left_to_yaml(text: str) -> None:
    assert json_document(text) is None


def test_a_repeated_key_is_noted_and_the_last_one_counts_as_in_yaml() -> None:
    text = '{"a": 1, "b": {"c": 1, "c": 2}}'
    assert json_document(text) == ({"a": 1, "b": {"c": 2}}, True)
    assert _load(text, "config", LIMITS) == ({"a": 1, "b": {"c": 2}}, True)


def test_a_json_configuration_loads_and_its_errors_name_their_lines(tmp_path: Path) -> None:
    good = {
        "services": [{"id": "panel", "kind": "web_panel",
                      "probe": {"type": "http", "url": "https://panel.example/"}}],
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'db'}"},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(good, indent=2))
    assert [s.id for s in load_config(str(path)).services] == ["panel"]
    bad = json.loads(json.dumps(good))
    bad["services"][0]["probe"]["interval"] = "soon"
    path.write_text(json.dumps(bad, indent=2))
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    [issue] = caught.value.issues
    assert issue.path == "services[0].probe.interval"
    assert "'soon'" in issue.message
    # The line where "interval" is written in the file.
    lines = path.read_text().splitlines()
    assert issue.line is not None and '"interval"' in lines[issue.line - 1]
