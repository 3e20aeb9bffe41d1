"""A configuration without aliases is built from its YAML nodes directly (the loader's
``_constructed``), not by PyYAML's construction with its bookkeeping for aliases and
recursion: the same values, the same duplicate keys noted, and anything else (a merge
key, another tag, nesting deeper than Python's stack) left to PyYAML, as before.

At 10,000 customers that bookkeeping was a third of reading the file (0.5 of 1.6 s;
``benchmarks/HISTORY.md``, ``bench_include.py``'s one file)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config.loader import ReadLimits, _load, _Loader
from monitor.errors import ConfigError

LIMITS = ReadLimits()


def _pyyaml(text: str) -> tuple[object, bool]:
    """What PyYAML's own construction makes of ``text`` (and whether keys repeat)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node),
                loader.has_duplicates)
    finally:
        loader.dispose()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=False), st.text(max_size=12), st.dates(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.one_of(st.text(max_size=6), st.integers(), st.booleans()), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(st.text(max_size=6), documents, max_size=5),
       flow=st.booleans())
def test_a_document_reads_as_pyyaml_builds_it(document: dict[str, object], flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    assert _load(text, "t", LIMITS) == _pyyaml(text)


@pytest.mark.parametrize("text", [
    # YAML 1.1's scalars, as PyYAML reads them.
    "a: yes\nb: Off\nc: 0x1F\nd: 0o17\ne: 1_000\nf: 1:30\ng: .inf\nh: ~\ni: 2026-03-01\n"
    "j: 2026-03-01 10:00:00+03:30\nk: '007'\nl: \"tab\\there\"\nm: 2026-02-30\nn:\n",
    "a: 1\na: 2\nb: {c: 1, c: 3}\n",  # repeated keys: the last counts, and they are noted
    "1: one\ntrue: yes\n2026-01-01: day\n~: none\n",  # keys of every scalar kind
    "base: &b {x: 1}\nchild: {<<: *b, y: 2}\n",  # a merge key (and an alias): PyYAML's
    "a: !!binary aGVsbG8=\nb: !!set {x, y}\n",  # other tags: PyYAML's
    "? [1, 2]\n: pair\n",  # a key that is a sequence: PyYAML's refusal (was a traceback)
    "child: {<<: {x: 1}, y: 2}\n",  # a merge key without an alias
    "a: " + "[" * 900 + "]" * 900 + "\n",  # deeper than Python's stack allows a walk
])
def test_what_pyyaml_reads_reads_the_same(text: str) -> None:
    try:
        expected = _pyyaml(text)
    except yaml.YAMLError as refused:  # said as the configuration's problem, with its line
        with pytest.raises(ConfigError) as said:
            _load(text, "t", LIMITS)
        assert str(said.value.issues[0]) == (
            f"line {refused.problem_mark.line + 1}: (file): not valid YAML: {refused.problem}")
        return
    assert _load(text, "t", LIMITS) == expected


def test_the_scalars_are_pyyamls() -> None:
    data, repeated = _load("a: yes\nb: 0x1F\nc: 2026-03-01\nd: 2026-02-30\ne: 1:30\n"
                           "a: no\n", "t", LIMITS)
    assert data == {"a": False, "b": 31, "c": dt.date(2026, 3, 1), "d": "2026-02-30",
                    "e": 90}
    assert repeated
