"""What a refusal may say (SPEC section 8): a customer's action that names another
customer's site, service, claim or ticket is refused with the same words as one naming a
record that does not exist (nothing about who owns it), and nothing changes; on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from monitor import actions
from monitor.errors import InputError
from monitor.store import Database

from .contract import MAIL, NOW, SETTINGS, at, counts

Call = Callable[[str], Awaitable[Any]]


async def answer(db: Database, call: Call, value: str) -> str:
    """The refusal of ``call(value)`` with the value itself blanked out; nothing changed."""
    before = await counts(db)
    try:
        await call(value)
    except InputError as error:
        assert await counts(db) == before
        return str(error).replace(repr(value), "VALUE").replace(value, "VALUE")
    raise AssertionError(f"{value!r} was accepted")


async def same_answer(db: Database, call: Call, theirs: str, nobodys: str) -> str:
    said = await answer(db, call, theirs)
    assert said == await answer(db, call, nobodys)
    assert "bita" not in said and "belongs" not in said, said
    return said


async def test_another_customers_site_is_answered_as_no_such_site(db: Database) -> None:
    # acme names bita's domain: the refusal never says whose it is (it said
    # "bita.example belongs to bita").
    said = await same_answer(db, lambda site: actions.submit_claim(
        db, SETTINGS, customer="acme", month="2026-10", site=site, channel="web",
        at=at(2, month=11), mail=MAIL, actor="customer:acme", now=NOW),
        "bita.example", "nowhere.example")
    assert "one of acme's domains" in said
    await same_answer(db, lambda site: actions.open_ticket(
        db, SETTINGS, customer="acme", service="panel", channel="web", summary="help",
        site=site, mail=MAIL, actor="customer:acme", now=NOW), "bita.example",
        "nowhere.example")
    await same_answer(db, lambda site: actions.ledger_show(
        db, SETTINGS, customer="acme", site=site, now=NOW), "bita.example", "nowhere.example")


async def test_another_customers_records_are_answered_as_none(db: Database) -> None:
    claim = await actions.submit_claim(
        db, SETTINGS, customer="bita", month="2026-10", channel="email", at=at(2, month=11),
        mail=MAIL, actor="ops", now=NOW)
    ticket = await actions.open_ticket(
        db, SETTINGS, customer="bita", service="panel", channel="email", summary="help",
        mail=MAIL, actor="ops", now=NOW)
    theirs, nobodys = str(claim.claim.id), "999999"
    await same_answer(db, lambda claim_id: actions.show_claim(
        db, SETTINGS, claim_id=int(claim_id), customer="acme", now=NOW), theirs, nobodys)
    theirs = str(ticket.ticket.id)
    for action, values in ((actions.show_ticket, {}),
                           (actions.follow_up_ticket, {"channel": "web", "actor": "c"}),
                           (actions.reopen_ticket, {"actor": "c"}),
                           (actions.answer_ticket, {"actor": "c"}),
                           (actions.approve_price, {"actor": "c"})):
        await same_answer(db, lambda ticket_id, action=action, values=values: action(
            db, SETTINGS, ticket_id=int(ticket_id), customer="acme", now=NOW, **values),
            theirs, nobodys)
