"""D-2: a message given up is sent again when an operator says so (``sla-monitor outbox
retry``), once its cause is mended: the SMTP server's configuration, a full mailbox.

Before, a given-up e-mail stayed given up: an SMTP server that refused every message for
an hour (a relay rule, an expired password) left every outage e-mail of that hour unsent
for good, and no command could send one again."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor import actions
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.config.loader import load_config
from monitor.config.schema import Config
from monitor.errors import InputError
from monitor.notify import Notifier
from monitor.store import Database
from monitor.store.models import AuditEvent, Notification, OutboxMessage, OutboxRecipient
from monitor.testing.smtp import SMTPSink
from tests.actions.contract import yaml
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import add_incident, make_config, outbox, sink_smtp

#: The scenario's configuration, as the operator's command reads it (whom each message goes
#: to: the addresses it was queued for).
SETTINGS = Settings.from_config(make_config())


async def _given_up(sessions: async_sessionmaker[AsyncSession], key: str) -> OutboxMessage:
    found = {m.dedupe_key: m for m in await outbox(sessions)}[key]
    assert found.status == "failed"
    return found


async def _acme_given_up(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory,
) -> tuple[Notifier, int, OutboxMessage]:
    """A server's outage: its e-mail to acme refused for good (554), bita's accepted."""
    notifier = make_notifier(make_config(sink_smtp(sink)), batch_size=1)
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    sink.fail_next(1, code=554)
    await notifier.run_once()
    return notifier, incident_id, await _given_up(sessions, f"outage:{incident_id}:acme")


async def test_an_outage_mail_given_up_and_sent_again_is_the_customers_notification(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier, incident_id, failed = await _acme_given_up(sessions, sink, make_notifier)
    assert "acme" not in [n.customer_id for n in await rows(sessions, Notification)]

    clock.advance(600)  # the operator mends the SMTP server's rule, then:
    again = await actions.retry_messages(db, SETTINGS, ids=[failed.id], actor="ops",
                                         now=clock.now())
    assert [(m.id, m.status) for m in again] == [(failed.id, "pending")]
    await notifier.run_once()

    sent = {m.dedupe_key: m for m in await outbox(sessions)}[f"outage:{incident_id}:acme"]
    assert sent.status == "sent" and sent.accepted_at == clock.now()
    mail = [m.parsed() for m in sink.messages if m.parsed()["Message-ID"] == sent.message_id]
    assert len(mail) == 1  # the same message, its Message-ID unchanged
    # R-N1: its acceptance is acme's notification, ten minutes late.
    notified = {n.customer_id: n.notified_at for n in await rows(sessions, Notification)}
    assert notified["acme"] == clock.now()
    audit = [(a.action, a.object_id, a.actor) for a in await rows(sessions, AuditEvent)
             if a.action == "outbox.retry"]
    assert audit == [("outbox.retry", str(failed.id), "ops")]


async def test_a_message_every_recipient_refused_is_sent_again_with_new_outcomes(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    sink.refuse_recipient("tech@bita.example")  # bita's only address: a full mailbox
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    failed = await _given_up(sessions, f"outage:{incident_id}:bita")

    sink.accept_recipient("tech@bita.example")
    await actions.retry_messages(db, SETTINGS, ids=[failed.id], actor="ops", now=clock.now())
    await notifier.run_once()

    assert (await _status(sessions, failed.id)) == "sent"
    outcomes = [(r.address, r.status) for r in await rows(sessions, OutboxRecipient)
                if r.outbox_id == failed.id]
    assert outcomes == [("tech@bita.example", "accepted")]  # the last attempt's outcome


def _corrected(config: Config) -> Config:
    """``config`` with bita's technical contact corrected (its old address bounced) and a
    second operator: what an operator mends before sending given-up messages again."""
    data = config.model_dump(mode="json", exclude_unset=True)
    bita = next(c for c in data["customers"] if c["id"] == "bita")
    bita["contacts"]["technical"]["email"] = "it@bita.example"
    data["provider"]["operators"] = ["noc@rabit.example", "oncall@rabit.example"]
    return Config.model_validate(data)


async def test_a_message_sent_again_goes_to_whom_the_configuration_now_names(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    """The commonest permanent refusal is an address that does not exist (550): the
    operator corrects the customer's contact in the configuration and sends the message
    again. It went to the stored address again, and was refused again. A customer's
    message goes to the contacts its kind goes to as the configuration now names them
    (an outage e-mail: technical and executive, D-2), an operators' alert to the
    operators now named; a message whose addresses did not change keeps them."""
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    sink.refuse_recipient("tech@bita.example")  # no such mailbox: bita's address was wrong
    sink.refuse_recipient("noc@rabit.example")  # and the operators' list had moved
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    failed = await _given_up(sessions, f"outage:{incident_id}:bita")
    alert = await _given_up(sessions, f"ops_outage:{incident_id}")  # the operators' copy

    mended = Settings.from_config(_corrected(config))
    again = await actions.retry_messages(db, mended, ids=[failed.id, alert.id], actor="ops",
                                         now=clock.now())
    assert {m.id: m.recipients for m in again} == {
        failed.id: ["it@bita.example"],
        alert.id: ["noc@rabit.example", "oncall@rabit.example"]}
    await make_notifier(_corrected(config)).run_once()

    assert (await _status(sessions, failed.id)) == "sent"
    mail = [m for m in sink.messages if m.parsed()["Message-ID"] == failed.message_id]
    assert [m.rcpt_tos for m in mail] == [("it@bita.example",)]
    assert mail[0].parsed()["To"] == "it@bita.example"
    # The audit says the message was addressed anew, not to whom (no addresses in it).
    details = [a.detail for a in await rows(sessions, AuditEvent) if a.action == "outbox.retry"]
    assert sorted(d["readdressed"] for d in details) == [True, True]
    assert "bita.example" not in json.dumps(details)


async def _status(sessions: async_sessionmaker[AsyncSession], outbox_id: int) -> str:
    return {m.id: m.status for m in await outbox(sessions)}[outbox_id]


async def test_a_message_sent_again_that_fails_again_is_alerted_again(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier, _, failed = await _acme_given_up(sessions, sink, make_notifier)
    alerts = [m for m in await outbox(sessions) if m.kind == "ops_send_failure"]
    assert [a.status for a in alerts] == ["sent"]

    clock.advance(60)
    await actions.retry_messages(db, SETTINGS, ids=[failed.id], actor="ops", now=clock.now())
    sink.fail_next(1, code=554)  # not mended after all
    await notifier.run_once()
    await notifier.run_once()

    assert (await _status(sessions, failed.id)) == "failed"
    # The operators hear of the second failure too: the first alert does not stand for it.
    alerts = [m for m in await outbox(sessions) if m.kind == "ops_send_failure"]
    assert [a.status for a in alerts] == ["sent", "sent"]
    assert len({a.dedupe_key for a in alerts}) == 2


async def test_a_message_sent_again_days_later_has_its_own_days_of_retries(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    """A transient failure is retried for ``give_up_after`` (3 days) from the message's
    queueing; a message sent again is retried for as long from when it was sent again, not
    given up at its first 4xx because it was queued a week ago."""
    notifier, _, failed = await _acme_given_up(sessions, sink, make_notifier)

    clock.advance(7 * 86400)
    await actions.retry_messages(db, SETTINGS, ids=[failed.id], actor="ops", now=clock.now())
    sink.fail_next(1, code=451)  # greylisted
    await notifier.run_once()
    row = {m.id: m for m in await outbox(sessions)}[failed.id]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > clock.now()


async def test_retry_of_every_message_given_up(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    sink.reject_all = 554  # an hour of a relay rule refusing everything
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    failed = sorted(m.id for m in await outbox(sessions) if m.status == "failed")
    assert len(failed) >= 3  # two customers' outage e-mails, the operators' copy, alerts

    listed = await actions.list_messages(db, status="failed")
    assert sorted(m.id for m in listed) == failed
    alerts = sorted(m.id for m in listed if m.kind == "ops_send_failure")
    assert len(alerts) == 2  # "E-mail to ACME Research (acme) failed", and bita's
    sink.reject_all = None
    again = await actions.retry_messages(db, SETTINGS, all_failed=True, actor="ops",
                                         now=clock.now())
    # Every message given up, but the alerts that the ones sent again failed: sent now, they
    # would tell the operators of failures being mended.
    assert sorted(m.id for m in again) == sorted(set(failed) - set(alerts))
    await notifier.run_once()
    await notifier.run_once()
    assert {m.id: m.status for m in await outbox(sessions) if m.id in failed} == {
        i: "failed" if i in alerts else "sent" for i in failed}
    assert not [m for m in sink.messages if m.parsed()["X-SLA-Monitor-Kind"] == "ops-send-failure"]
    assert await actions.retry_messages(db, SETTINGS, all_failed=True, actor="ops",
                                        now=clock.now()) == []
    # Asked for by id, an alert is sent: the operator's choice.
    assert [m.id for m in await actions.retry_messages(
        db, SETTINGS, ids=alerts[:1], actor="ops", now=clock.now())] == alerts[:1]


@pytest.mark.parametrize("case", ["unknown", "sent", "pending", "one of two", "no such id"])
async def test_retry_of_a_message_not_given_up_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock, case: str,
) -> None:
    notifier, incident_id, failed = await _acme_given_up(sessions, sink, make_notifier)
    later = await add_incident(sessions, target="panel")
    await notifier.on_incident_opened(later)  # queued, not yet sent
    by_key = {m.dedupe_key: m for m in await outbox(sessions)}
    ids = {"unknown": [99999], "sent": [by_key[f"outage:{incident_id}:bita"].id],
           "pending": [by_key[f"outage:{later}:bita"].id],
           "one of two": [failed.id, 99999], "no such id": [failed.id, 2**63]}[case]
    before = [(m.id, m.status, m.attempts, m.next_attempt_at) for m in await outbox(sessions)]
    audits = len(await rows(sessions, AuditEvent))

    with pytest.raises(InputError) as refused:
        await actions.retry_messages(db, SETTINGS, ids=ids, actor="ops", now=clock.now())

    assert refused.value.field == "outbox_id"
    assert refused.value.value == ids[-1]
    allowed = refused.value.allowed
    assert "given up" in allowed
    if case == "sent":
        assert "accepted" in allowed
    if case == "pending":
        assert "waiting to be sent" in allowed
    after = [(m.id, m.status, m.attempts, m.next_attempt_at) for m in await outbox(sessions)]
    assert after == before
    assert len(await rows(sessions, AuditEvent)) == audits


async def test_outbox_list_and_retry_on_the_command_line(
    sessions: async_sessionmaker[AsyncSession], db_url: str, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    notifier, _, failed = await _acme_given_up(sessions, sink, make_notifier)
    config = tmp_path / "config.yaml"
    config.write_text(yaml() + f"storage: {{url: '{db_url}'}}\n")
    settings = Settings.from_config(await asyncio.to_thread(load_config, config))
    acme = settings.topology.customers["acme"]
    acme_now = [c.email for c in (acme.contacts.technical, acme.contacts.executive) if c]

    def call(args: list[str]) -> int:
        try:
            return main(args)
        except SystemExit as exited:  # argparse's refusal
            return int(exited.code or 0)

    async def run(*args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(call, ["-c", str(config), "outbox", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await run("list", "--status", "failed", "--format", "json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(m["id"], m["kind"], m["customer_id"], m["status"]) for m in listed] == [
        (failed.id, "outage", "acme", "failed")]
    assert "554" in listed[0]["last_error"]
    code, out, _ = await run("list", "--status", "failed", "--wide")
    assert code == 0 and "tech@acme.example" in out and "554" in out

    before = [(m.id, m.status) for m in await outbox(sessions)]
    code, out, err = await run("retry", str(failed.id + 1000))
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        f"sla-monitor: error: ID: {failed.id + 1000} is not valid; allowed: the id of a "
        "message given up (see: outbox list, its failed ones); no message has this id"]
    code, out, err = await run("retry", "۱")  # a Persian digit: not read as an id
    assert code == 2 and "argument ID: a whole number in ASCII digits" in err
    assert "Traceback" not in err
    assert [(m.id, m.status) for m in await outbox(sessions)] == before

    code, out, err = await run("retry", str(failed.id))
    assert code == 0, err
    # Each message with whom it goes to now: the command's configuration names acme's
    # contacts (tests/actions/contract.py), not the scenario's.
    assert out.startswith(f"1 message(s) due again: {failed.id}\n"
                          f"  {failed.id} outage to {', '.join(acme_now)}\n")
    clock.advance((dt.datetime.now(dt.UTC) - clock.now()).total_seconds() + 1)  # the CLI's now
    await notifier.run_once()
    assert (await _status(sessions, failed.id)) == "sent"


async def test_thousands_of_messages_given_up_are_sent_again_in_one_command(
    sessions: async_sessionmaker[AsyncSession], db: Database, clock: FakeClock,
) -> None:
    """An hour of a relay refusing everything at 10,000 customers gives up thousands: more
    ids than one statement may bind (SQLite 32,766, asyncpg 32,767) are read and written in
    parts of 500, here three."""
    count = 1_200
    async with sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), [
            {"dedupe_key": f"outage:1:c{n}", "message_id": f"<{n}@test>", "kind": "outage",
             "customer_id": f"c{n}", "recipients": [f"tech@c{n}.example"],
             "subject": "Outage", "body_text": "down", "created_at": clock.now(),
             "status": "failed", "attempts": 1, "next_attempt_at": clock.now(),
             "last_error": "554 relay denied"} for n in range(count)])
    again = await actions.retry_messages(db, SETTINGS, all_failed=True, actor="ops",
                                         now=clock.now())
    assert len(again) == count and {m.status for m in again} == {"pending"}
    assert len(await rows(sessions, AuditEvent)) == count
