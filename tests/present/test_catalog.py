"""The translations (SPEC section 7, "Language"): the Persian catalog translates every
message customers can read, none fuzzy, each with the same placeholders as its English
message id; and the template ``messages.pot`` is what ``pybabel extract`` finds in the
sources today (a new message in a template or a page handler fails here until the
catalog is updated: README "Languages")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

CHECKOUT = Path(__file__).resolve().parents[2]
LOCALE = CHECKOUT / "monitor" / "locale"
LANGUAGES = sorted(p.parts[-3] for p in LOCALE.glob("*/LC_MESSAGES/messages.po"))
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def test_persian_is_one_of_the_languages() -> None:
    assert "fa" in LANGUAGES


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(code: str) -> None:
    catalog = _read(LOCALE / code / "LC_MESSAGES" / "messages.po", code)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, "\n".join(problems)
    assert not catalog.fuzzy, "the catalog's header is marked fuzzy"


def test_a_fuzzy_or_empty_message_is_found(tmp_path: Path) -> None:
    """The check above can fail: a catalog with one fuzzy and one empty message."""
    bad = tmp_path / "messages.po"
    bad.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                   '#, fuzzy\nmsgid "Services"\nmsgstr "سرویس‌ها"\n\n'
                   'msgid "Tier"\nmsgstr ""\n', encoding="utf-8")
    catalog = _read(bad, "fa")
    assert [m.id for m in catalog if m.id and m.fuzzy] == ["Services"]
    assert [m.id for m in catalog if m.id and not m.string] == ["Tier"]


def test_the_template_is_what_the_sources_say(tmp_path: Path) -> None:
    """``messages.pot`` holds exactly the messages ``pybabel extract`` finds now (babel.cfg),
    and every language's catalog holds the same messages."""
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(CHECKOUT / "babel.cfg"), "-k", "N_",
        "--no-location", "--sort-output", "-o", str(fresh), str(CHECKOUT)])
    extracted = _ids(_read(fresh))
    assert len(extracted) > 100
    template = _ids(_read(LOCALE / "messages.pot"))
    assert extracted - template == set(), "new messages: update the catalog (README Languages)"
    assert template - extracted == set(), "messages no longer used: update the catalog"
    for code in LANGUAGES:
        assert _ids(_read(LOCALE / code / "LC_MESSAGES" / "messages.po", code)) == template, code
