"""The recovery e-mail (R-N1, D-2; issue 8 traps 5 and 8): its measured duration is the
engine's whole seconds, as in the report."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.errors import ConfigError
from monitor.notify import Notifier, templates
from monitor.notify.layout import Style
from monitor.notify.messages import build_email, to_bytes
from monitor.store.models import Incident
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, sink_smtp

START = dt.datetime(2026, 5, 1, 8, 0, 0, 999000, tzinfo=dt.UTC)
END = dt.datetime(2026, 5, 1, 8, 0, 5, 500, tzinfo=dt.UTC)  # 4.0015 s later


def test_recovery_duration_is_the_engines_whole_seconds() -> None:
    # R-M6: each instant cut to its second, 08:00:00 to 08:00:05: 5 s (as the report has it);
    # never "4.0015 s" (R-M1: precise to one probe interval, not to a millisecond).
    rendered = templates.recovery(
        Style("Rabit Hosting"), customer_name="ACME Research", service="Shop (shop)",
        start=START, end=END, incident_id=7)
    assert "after 5 s" in rendered.subject
    assert "Measured duration: 5 s" in rendered.text
    operators = templates.operator_recovery(
        Style("Rabit Hosting"), service="Shop (shop)", start=START, end=END, incident_id=7,
        customers=1)
    assert operators.subject.endswith("after 5 s")


# --- threading, subject, sender (trap 8) ---------------------------------------------------------


async def _outage_then_recovery(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, notifier: Notifier
) -> int:
    incident_id = await add_incident(sessions, "srv-1")
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.end = T0 + dt.timedelta(minutes=40)
    clock.advance(45 * 60)
    await notifier.on_incident_closed(incident_id)
    await notifier.run_once()
    return incident_id


async def test_recovery_mail_threads_with_its_outage_mail_and_names_service_and_customer(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    incident_id = await _outage_then_recovery(sessions, clock, make_notifier(
        make_config(sink_smtp(sink))))
    mails = [m.parsed() for m in sink.messages]
    by_kind: dict[tuple[str, str], EmailMessage] = {
        (str(m["X-SLA-Monitor-Kind"]), str(m["To"])): m for m in mails}
    acme_to = "tech@acme.example, ceo@acme.example"
    outage, recovery = by_kind[("outage", acme_to)], by_kind[("recovery", acme_to)]
    # RFC 5322 threading: the recovery answers the outage e-mail the customer received.
    assert recovery["In-Reply-To"] == outage["Message-ID"]
    assert recovery["References"] == outage["Message-ID"]
    assert recovery["Message-ID"] != outage["Message-ID"]
    assert recovery["Subject"] == (
        "[Rabit Hosting] Restored: Tehran host 1 (srv-1) is available again after 40 min "
        "(ACME Research)")
    # Each customer's recovery answers its own outage e-mail; the operators' copy theirs.
    bita_to = "tech@bita.example"
    assert by_kind[("recovery", bita_to)]["In-Reply-To"] == by_kind[("outage", bita_to)][
        "Message-ID"]
    assert "(شرکت بیتا نظرسنجی)" in by_kind[("recovery", bita_to)]["Subject"]
    ops = "noc@rabit.example"
    assert by_kind[("ops-recovery", ops)]["In-Reply-To"] == by_kind[("ops-outage", ops)][
        "Message-ID"]
    assert f"#{incident_id}" in by_kind[("ops-recovery", ops)]["Subject"]


async def test_the_sender_is_configurable_without_smtp(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    make_notifier: NotifierFactory,
    tmp_path: Path,
) -> None:
    config = make_config(None, provider={"sender": "noc@rabit.example"},
                         maildir=str(tmp_path / "Maildir"))
    await _outage_then_recovery(sessions, clock, make_notifier(config))
    files = sorted((tmp_path / "Maildir" / "new").iterdir())
    assert len(files) == 6  # acme, bita and the operators: outage and recovery each
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["From"] == "Rabit Hosting <noc@rabit.example>"
        assert str(message["Message-ID"]).endswith("@rabit.example>")


def test_without_smtp_and_without_provider_sender_the_maildir_sender_is_local() -> None:
    assert Settings.from_config(make_config(None)).sender == "sla-monitor@localhost"
    assert Settings.from_config(make_config(None, provider={"sender": "a@rabit.example"})
                                ).sender == "a@rabit.example"


def test_smtp_takes_the_provider_sender_and_refuses_two_different_ones() -> None:
    smtp = {"host": "mail.rabit.example", "tls": "none"}
    settings = Settings.from_config(make_config(smtp, provider={"sender": "a@rabit.example"}))
    assert settings.sender == "a@rabit.example"
    with pytest.raises(ConfigError) as missing:
        parse_config("smtp: {host: mail.rabit.example}\n")
    assert "smtp.sender: required" in str(missing.value)
    assert "provider.sender" in str(missing.value)
    with pytest.raises(ConfigError) as both:
        parse_config("provider: {sender: a@rabit.example}\n"
                     "smtp: {host: mail.rabit.example, sender: b@rabit.example}\n")
    assert "smtp.sender: 'b@rabit.example' differs from provider.sender" in str(both.value)


# --- Subject folding (the demo's note) -----------------------------------------------------------


@pytest.mark.parametrize("subject", [
    # ASCII subjects of 70-80 characters that CPython's folder starts on a continuation line
    # (the parsed value then begins with a space):
    "[Rabit Hosting] Outage: word word word word word " + "y" * 27,
    "[Demo Hosting] Restored: " + "ACME " * 10,
    "x" * 66 + " tail",
    "[Rabit Hosting] Outage: " + "x" * 70 + " is unavailable",  # a long ASCII word
    "[Rabit Hosting] Restored: ACME customer survey (acme-survey) is available again after "
    "4 s (ACME Research)",
    "[Rabit Hosting] Outage: Tehran host 1 (srv-1) is unavailable (شرکت بیتا نظرسنجی) " * 2,
    "x" * 120,
])
def test_a_long_subject_folds_without_changing_its_value(subject: str) -> None:
    subject = subject.strip()
    message = build_email(sender="sla@rabit.example", sender_name="Rabit Hosting",
                          recipients=["tech@acme.example"], subject=subject, text="t",
                          html=None, message_id="<m@rabit.example>", date=T0, kind="outage")
    for linesep in ("\r\n", "\n"):
        raw = to_bytes(message, linesep)
        head = raw.split(linesep.encode() * 2)[0].decode("ascii")
        assert head.partition("Subject:")[2].startswith(" ") and not head.partition(
            "Subject:")[2].startswith(" " + linesep)  # the text starts on the Subject line
        assert all(len(line) <= 998 for line in head.split(linesep))
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Subject"] == subject  # no leading space, no lost space


async def test_a_servers_recovery_mail_names_the_customers_own_projects_on_it(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    # The outage e-mail of a server names the customer's projects on it ("Your services
    # affected"); its recovery named only the host, which the customer may not know, so
    # the customer could not tell that its own service was back.
    await _outage_then_recovery(sessions, clock, make_notifier(make_config(sink_smtp(sink))))
    texts = {(str(m["X-SLA-Monitor-Kind"]), str(m["To"])): " ".join(
        m.get_body(("plain",)).get_content().split()) for m in (s.parsed() for s in
                                                                  sink.messages)}
    acme = texts[("recovery", "tech@acme.example, ceo@acme.example")]
    assert "Your services affected: acme-survey" in acme and "bita-poll" not in acme, acme
    assert "Your services affected: bita-poll" in texts[("recovery", "tech@bita.example")]
