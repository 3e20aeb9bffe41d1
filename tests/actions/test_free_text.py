"""Free text is bounded once, in the actions (SPEC section 8): every argument of every
public action is either a word from a fixed or configured set (an id, a channel, a month)
or :data:`~monitor.actions.common.FreeText`, and every FreeText argument is checked
before the action reads or writes anything, naming the field, its length and the limit."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from monitor import actions
from monitor.actions.common import MAX_TEXT, bounded_text
from monitor.errors import InputError

# Arguments that are strings but not free text: ids and words checked against a set
# (known(), one_of(), settings.month()), who acts, and a configuration to check.
WORDS = {"actor", "cause", "channel", "customer", "decision", "email", "finding", "month",
         "node", "queue", "service", "site", "source", "status", "target", "type"}
# email: normal_address(); node: one of the cluster's registered nodes (retire_node);
# target: a configured push target (record_push)
NOT_FREE_TEXT = {("defer_ticket", "reason"),  # R-P3: system-wide or new-release
                 ("check_config_text", "text"),  # YAML, bounded by the loader
                 ("check_config_isolated", "text"),  # the same, in a child process
                 ("subscribe", "language"),  # the page's language code, never typed
                 ("subscribe", "client"),  # the TCP peer's address
                 ("backup_database", "backup_path"),  # a path: the file system bounds it
                 # A signed link's parts: refused unless the signature and the patterns match.
                 *((action, part) for action in ("confirm_subscription", "unsubscribe",
                                                 "requested_subscription")
                   for part in ("token", "expires", "key", "sig"))}


def public_actions() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in actions.__all__:
        value = getattr(actions, name)
        if inspect.isfunction(value):
            yield name, value


def test_every_string_argument_of_an_action_is_a_word_or_free_text() -> None:
    free = []
    for name, action in public_actions():
        for parameter in inspect.signature(action).parameters.values():
            annotation = str(parameter.annotation)
            if "FreeText" in annotation:
                assert parameter.name in getattr(action, "__free_text__", ()), (
                    f"{name}({parameter.name}): FreeText but not checked (@checks_text)")
                free.append((name, parameter.name))
            elif annotation in ("str", "str | None"):
                assert (parameter.name in WORDS
                        or (name, parameter.name) in NOT_FREE_TEXT), (
                    f"{name}({parameter.name}: {annotation}) is neither a known word nor "
                    "FreeText: annotate it FreeText (bounded by @checks_text) or add it here")
    # The fields the issue named, among others.
    assert {("open_ticket", "summary"), ("follow_up_ticket", "note"), ("deposit", "reference"),
            ("submit_claim", "note"), ("decide_claim", "reason"), ("change_cause", "reason"),
            ("add_maintenance", "reason"), ("defer_ticket", "note"),
            ("post_update", "message")} <= set(free)
    assert len(free) >= 16


CASES = [(name, field) for name, action in public_actions()
         for field in getattr(action, "__free_text__", ())]


@pytest.mark.parametrize(("name", "field"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
async def test_every_free_text_argument_is_refused_over_the_limit_before_anything(
        name: str, field: str) -> None:
    action = getattr(actions, name)
    # No database, no settings: the check runs before the action touches either.
    arguments = {p.name: None for p in inspect.signature(action).parameters.values()}
    arguments[field] = "é" * (MAX_TEXT + 1)  # characters, not bytes
    positional = [arguments.pop(p) for p in ("db", "settings") if p in arguments]
    with pytest.raises(InputError) as error:
        await action(*positional, **arguments)
    assert error.value.field == field
    assert f"at most {MAX_TEXT} characters (this one has {MAX_TEXT + 1})" in str(error.value)


def test_the_limit_itself_is_allowed() -> None:
    bounded_text("x" * MAX_TEXT, "note")
    bounded_text(None, "note")
    with pytest.raises(InputError):
        bounded_text("x" * (MAX_TEXT + 1), "note")


# What no database stores: PostgreSQL refuses a NUL in text ("invalid byte sequence for
# encoding UTF8: 0x00", once a 500 of the API and a traceback of the CLI), and neither
# database nor any encoder takes a lone surrogate (a JSON "\ud800", a CLI argument's
# undecodable byte). Other control characters are stored as typed (shown escaped).
UNSTORABLE = [("nul", "reported\x00by phone", "'reported\\x00by phone'"),
              ("surrogate", "broken \ud800 text", "'broken \\ud800 text'"),
              ("undecodable byte", "caf\udce9", "'caf\\udce9'")]


@pytest.mark.parametrize(("name", "field"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
@pytest.mark.parametrize(("text", "shown"), [c[1:] for c in UNSTORABLE],
                         ids=[c[0] for c in UNSTORABLE])
async def test_every_free_text_argument_refuses_what_no_database_stores_before_anything(
        name: str, field: str, text: str, shown: str) -> None:
    action = getattr(actions, name)
    arguments = {p.name: None for p in inspect.signature(action).parameters.values()}
    arguments[field] = text
    positional = [arguments.pop(p) for p in ("db", "settings") if p in arguments]
    with pytest.raises(InputError) as error:
        await action(*positional, **arguments)
    assert error.value.field == field
    said = str(error.value)
    assert said.startswith(f"{field}: {shown} is not valid; allowed: text without"), said
    said.encode("utf-8")  # the message itself can be written anywhere


def test_other_control_characters_are_kept() -> None:
    bounded_text("line one\nline two\t\x1b[31m\x07", "note")
