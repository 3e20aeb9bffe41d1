"""Monthly statements through the service layer, on SQLite and PostgreSQL: the
hand-worked month of :mod:`tests.actions.statements_world` in HTML, PDF text and CSV; a
Persian customer's statement right to left; sending once per customer and revision to a
real SMTP server; a revised month's correction; lapsed and clone customers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.errors import InputError
from monitor.notify import Notifier
from monitor.notify.contract import ContractMailer
from monitor.present.html import render
from monitor.present.statement import (
    statement_csv,
    statement_html,
    summary_html,
)
from monitor.store import Database, incidents
from monitor.store.models import (
    OutboxAttachment,
    OutboxMessage,
    ReportRevision,
    StatementSent,
)
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .statements_world import BITA, NOW, at, record_october, settings, yaml

SETTINGS = settings()
MAIL = ContractMailer(SETTINGS, NOW)
# What pdftotext puts around right-to-left runs (embeddings, isolates, marks), and ZWNJ,
# which has no glyph to extract: the logical text is what is left.
BIDI = re.compile("[\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_text(document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(document)
    assert document.startswith(b"%PDF-")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def pdf_fonts(path: Path) -> str:
    return subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                          text=True).stdout


async def closed(db: Database) -> None:
    await record_october(db, SETTINGS)
    await actions.close_month(db, SETTINGS, month="2026-10", now=NOW)


@pytest.mark.slow
async def test_hand_worked_month_in_html_pdf_and_csv(db: Database, tmp_path: Path) -> None:
    await closed(db)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    # The figures of the world's docstring, frozen in revision 1 (R-C3).
    assert (s.revision, s.period_seconds, s.downtime_seconds) == (1, 31 * 86400, 9000)
    assert (s.excluded_seconds, s.excluded_by_reason["maintenance"]) == (3600, 3600)
    assert s.unknown_seconds == 31 * 86400 - 12_600
    assert str(s.availability_percent) == "99.663" and s.below_target
    assert (s.tier, s.tier_credit_days, s.notification_credit_days) == ("1w", 7, 1)
    assert (str(s.credit_days_total), str(s.credit_value)) == ("8", "80.0")
    assert [(i.id, i.counted_seconds, i.notification_late) for i in s.incidents] == [
        (1, 7200, False), (2, 0, False), (3, 1800, True)]
    assert [i.notified_after_seconds for i in s.incidents] == [1800, None, 9000]
    [window] = s.maintenance
    assert (window.id, window.excluded, window.notice_at) == (1, True, at(9))
    assert [(line.rule, line.days) for line in s.credit_lines] == [("R-T1", 7), ("R-N1", 1)]
    assert s.claim_deadline == at(15, month=11)  # R-C1: October's end + 14 days

    html = statement_html(s)
    for shown in ("99.663 %", "below the 99.8 % target", "2 h 30 min (9000 s)",
                  "maintenance 1 h", "1 week: 7 days of service credit", "8 days of service, worth "
                  "80.00 EUR", "Revision 1 of the month", s.inputs_hash,
                  "Claim deadline: 2026-11-15 00:00 UTC", '<span class="verdict-bad">late</span>',
                  "kernel upgrade"):
        assert shown in html, shown
    # Rule ids in the evidence only: the credit lines' rule column and the footnote.
    assert '<td class="rule evidence" data-label="Rule"><bdi dir="ltr">R-T1</bdi>' in html
    assert '<p class="small muted evidence">Contract rules: <bdi dir="ltr">R-M1' in html
    assert "(R-" not in html and "1w" not in html
    assert 'dir="ltr"' in html.split(">", 2)[1]

    document = (await actions.statement_files(s)).pdf
    text = " ".join(pdf_text(document, tmp_path).split())
    for shown in ("SLA statement for 2026-10", "99.663 %", "2 h 30 min (9000 s)",
                  "8 days of service, worth 80.00 EUR", "Revision 1", s.inputs_hash[:16],
                  "Claim deadline: 2026-11-15 00:00 UTC", "the start: late"):
        assert shown in text, shown

    document = statement_csv(s)
    assert document.startswith("\ufeff")  # a spreadsheet reads it as UTF-8
    table = list(csv.DictReader(io.StringIO(document.removeprefix("\ufeff"))))
    summary = {r["field"]: r["value"] for r in table if r["section"] == "summary"}
    assert {k: summary[k] for k in ("downtime_seconds", "excluded_seconds",
                                    "availability_percent", "tier", "credit_days_total",
                                    "credit_value", "currency", "claim_deadline")} == {
        "downtime_seconds": "9000", "excluded_seconds": "3600",
        "availability_percent": "99.663", "tier": "1w", "credit_days_total": "8",
        "credit_value": "80.00", "currency": "EUR", "claim_deadline": "2026-11-15T00:00:00Z"}
    incident_3 = {r["field"]: r["value"] for r in table
                  if r["section"] == "incident" and r["item"] == "3"}
    assert incident_3["notified_at"] == "2026-10-20T10:30:00Z"  # 2 h 30 min in: late
    assert incident_3["counted_seconds"] == "1800" and incident_3["cause"] == "provider"
    assert {r["month"] for r in table} == {"2026-10"} and {r["revision"] for r in table} == {"1"}


@pytest.mark.slow
async def test_an_english_readers_statement_keeps_a_persian_name_whole(
    db: Database, tmp_path: Path
) -> None:
    """SPEC section 7: the language, not the name's script, decides the direction; a
    Persian name in an English statement is isolated and extracts as typed."""
    await closed(db)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="bita", now=NOW)
    html = statement_html(s)
    assert '<html lang="en" dir="ltr">' in html
    assert f'<bdi class="fa" dir="rtl" lang="fa">{BITA}</bdi>' in html
    document = (await actions.statement_files(s)).pdf
    text = BIDI.sub("", pdf_text(document, tmp_path))
    # pdftotext gives the logical order of the shaped glyphs: the name as typed. A PDF
    # made by reshaping the text into presentation forms (U+FB50-U+FEFF) or by reversing
    # it would not contain it.
    assert BITA in text
    assert not re.search("[\ufb50-\ufdff\ufe70-\ufefe]", text)
    assert "100.000 %" in text and "meets the 99.8 % target" in text
    # A font with the Persian glyphs, embedded.
    assert re.search("Noto-?Sans-?Arabic", pdf_fonts(tmp_path / "statement.pdf"))


@pytest.mark.slow
async def test_sending_twice_sends_once_with_pdf_and_csv_attached(
    db: Database, sink: SMTPSink
) -> None:
    sink_settings = settings(
        f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}")
    mail = ContractMailer(sink_settings, NOW)
    await record_october(db, sink_settings)
    notifier = Notifier(sink_settings, db, FakeClock(NOW), CollectorRegistry())
    first = await actions.send_statements(db, sink_settings, month="2026-10", mail=mail,
                                          actor="ops", now=NOW)
    assert first.frozen and first.revision == 1  # it closed the month (R-C3)
    assert {i.customer: i.status for i in first.items} == {
        "acme": "queued", "bita": "queued", "dorna": "withheld", "gone": "withheld"}
    sent = await notifier.send_now([i.dedupe_key for i in first.queued if i.dedupe_key])
    assert all(m.accepted_at is not None for m in sent)
    received = await sink.wait_for(2)
    to = {m.rcpt_tos: m.parsed() for m in received}
    acme = to[("tech@acme.example", "ceo@acme.example")]  # technical and executive contacts
    assert acme["Subject"] == ("[Rabit Hosting] SLA statement 2026-10 (revision 1): "
                               "availability 99.663 %, credit 8 days (ACME Research)")
    files = {part.get_filename(): part for part in acme.iter_attachments()}
    assert set(files) == {"statement-acme-2026-10-r1.pdf", "statement-acme-2026-10-r1.csv"}
    assert files["statement-acme-2026-10-r1.pdf"].get_content().startswith(b"%PDF-")
    assert "credit_value,80.00" in files["statement-acme-2026-10-r1.csv"].get_content()
    body = acme.get_body(("html",))
    assert body is not None and "8 days of service, worth 80.00 EUR" in body.get_content()
    assert ("it@bita.example",) in to
    # The operators' summary says when the statement was accepted as it says
    # the period, in the provider's zone and calendar (it said 2026-11-03T09:00:00Z).
    summary = await actions.month_summary(db, sink_settings, month="2026-10", now=NOW)
    (row,) = [r for r in summary.rows if r.customer == "acme"]
    assert row.statement == "revision 1 (statement), accepted 2026-11-03 09:00 UTC"

    outbox_before = len(await rows(db, OutboxMessage))
    again = await actions.send_statements(db, sink_settings, month="2026-10", mail=mail,
                                          actor="ops", now=NOW)
    assert not again.frozen and again.queued == []
    assert {i.customer: i.status for i in again.items}["acme"] == "already_sent"
    assert len(await rows(db, OutboxMessage)) == outbox_before
    assert len(await rows(db, StatementSent)) == 2
    assert len(await rows(db, ReportRevision)) == 1
    assert await notifier.send_now([]) == []
    assert len(sink.messages) == 2


@pytest.mark.slow
async def test_a_revised_month_sends_a_correction_only_to_whom_it_changed(db: Database) -> None:
    await record_october(db, SETTINGS)
    await actions.send_statements(db, SETTINGS, month="2026-10", mail=MAIL, actor="ops", now=NOW)
    # Incident 1 was a country-wide cut-off after all (R-EX4): acme's counted downtime
    # falls to incident 3's 30 min, below the 1w tier; the late notification stays.
    await actions.change_cause(db, incident_id=1, cause="external", reason="national cut-off",
                               actor="ops", now=NOW)
    revised = await actions.send_statements(db, SETTINGS, month="2026-10", mail=MAIL,
                                            actor="ops", now=NOW)
    assert revised.frozen and revised.revision == 2
    statuses = {i.customer: i for i in revised.items}
    assert statuses["bita"].status == "unchanged"  # its figures are revision 1's
    correction = statuses["acme"]
    assert (correction.status, correction.kind, correction.corrects) == (
        "queued", "correction", 1)
    assert "counted downtime: 2 h 30 min, now 30 min" in correction.changes
    assert "credit tier: 1 week, now none" in correction.changes
    assert "total credit: 8 days, now 1 day" in correction.changes
    assert "its value: 80.00 EUR, now 10.00 EUR" in correction.changes
    assert "incident #1, cause: provider, now not caused by our service (excluded)" in (
        correction.changes)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    assert (s.revision, s.corrects) == (2, 1)
    html = statement_html(s)
    assert "Corrected statement." in html and "counted downtime: 2 h 30 min, now 30 min" in html
    messages = [m for m in await rows(db, OutboxMessage) if m.customer_id == "acme"]
    assert [m.subject.split(":")[0] for m in messages] == [
        "[Rabit Hosting] SLA statement 2026-10 (revision 1)",
        "[Rabit Hosting] Corrected SLA statement 2026-10 (revision 2)"]
    assert len(await rows(db, OutboxAttachment)) == 2 * 3  # two files per statement e-mail


@pytest.mark.slow
async def test_an_incident_that_ends_after_the_month_owes_no_correction(db: Database) -> None:
    """October closed as soon as it can be (2 h after its end, its last R-N1 deadline
    passed) while a probe incident of acme's project ran (from 31 October 23:00, acme
    phoned at 23:30: counted to the month's end, 1 h, R-M5). It ends on 1 November at
    03:00: October's inputs changed (revision 2, R-C3), its figures did not: acme is owed
    no "corrected" statement that corrects nothing."""
    await record_october(db, SETTINGS)
    async with db.transaction() as tx:
        running = await incidents.open_probe_incident(
            tx, service_id="acme-survey", start=at(31, 23), start_bound=None,
            detected_at=at(31, 23, 1), created_at=at(31, 23, 1))
    await actions.log_notification(db, SETTINGS, incident_id=running, at=at(31, 23, 30),
                                   channel="phone", customers=("acme",), actor="ops",
                                   now=at(31, 23, 30))
    first = await actions.send_statements(db, SETTINGS, month="2026-10", mail=MAIL,
                                          actor="ops", now=at(1, 2, month=11))
    assert first.revision == 1
    async with db.transaction() as tx:
        await incidents.close(tx, running, end=at(1, 3, month=11), end_bound=None)
    revised = await actions.send_statements(db, SETTINGS, month="2026-10", mail=MAIL,
                                            actor="ops", now=NOW)
    assert revised.frozen and revised.revision == 2
    statuses = {i.customer: i.status for i in revised.items}
    assert statuses["acme"] == "unchanged" and statuses["bita"] == "unchanged"
    messages = [m for m in await rows(db, OutboxMessage) if m.customer_id == "acme"]
    assert [m.subject.split(":")[0] for m in messages] == [
        "[Rabit Hosting] SLA statement 2026-10 (revision 1)"]


@pytest.mark.slow
async def test_lapsed_and_clone_customers_only_when_asked_and_then_told_why(
    db: Database, tmp_path: Path
) -> None:
    await closed(db)
    for customer, rule, why in (
        ("gone", "R-EX5", "your subscription had lapsed for non-payment"),
        ("dorna", "R-EX6", "self-hosted copy (clone)"),
    ):
        asked = await actions.send_statements(db, SETTINGS, month="2026-10", customer=customer,
                                              mail=MAIL, actor="ops", now=NOW)
        assert [(i.customer, i.status) for i in asked.items] == [(customer, "queued")]
        s = await actions.statement(db, SETTINGS, month="2026-10", customer=customer, now=NOW)
        assert s.ineligible_rule == rule and s.no_credit_because is not None
        assert why in s.no_credit_because
        assert "No credit is due for this month:" in statement_html(s)


async def test_a_lapsed_customer_is_told_the_date_its_renewal_paid_until(db: Database) -> None:
    """R-EX5 with a renewal (L-2): gone's site, configured paid until 2026-06-30, was renewed
    in the ledger on 1 July to 2026-08-31 and lapsed again before October began. Its October
    statement names the date it was last paid until, the renewal's, not the configuration's
    older one; a renewal recorded after October ended is not the month's (the report's
    rule: renewals recorded before the month's end) and names nothing."""
    await actions.renew(db, SETTINGS, site="gone.example", until=dt.date(2026, 8, 31),
                        actor="ops", now=at(1, 12, month=7))
    await closed(db)
    await actions.renew(db, SETTINGS, site="gone.example", until=dt.date(2027, 8, 31),
                        actor="ops", now=NOW)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="gone", now=NOW)
    assert s.ineligible_rule == "R-EX5" and s.no_credit_because is not None
    assert "(paid: gone.example until 2026-08-31)" in s.no_credit_because
    sent = await actions.send_statements(db, SETTINGS, month="2026-10", customer="gone",
                                         mail=MAIL, actor="ops", now=NOW)
    assert [(i.customer, i.status) for i in sent.items] == [("gone", "queued")]
    [message] = [m for m in await rows(db, OutboxMessage) if m.customer_id == "gone"]
    assert "gone.example until 2026-08-31" in (message.body_html or "")


async def test_dry_run_writes_nothing(db: Database) -> None:
    await record_october(db, SETTINGS)
    plan = await actions.send_statements(db, SETTINGS, month="2026-10", dry_run=True,
                                         mail=MAIL, actor="ops", now=NOW)
    assert plan.dry_run and plan.frozen and plan.revision == 1
    assert {i.customer: i.status for i in plan.items}["acme"] == "would_send"
    assert await rows(db, ReportRevision) == [] and await rows(db, OutboxMessage) == []
    assert await rows(db, StatementSent) == []


async def test_bad_requests_are_refused_and_change_nothing(db: Database) -> None:
    await record_october(db, SETTINGS)
    with pytest.raises(InputError) as error:  # not closed yet
        await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    assert error.value.field == "month" and "a month that has been closed" in str(error.value)
    with pytest.raises(InputError) as error:  # November has not ended
        await actions.send_statements(db, SETTINGS, month="2026-11", mail=MAIL, actor="ops",
                                      now=NOW)
    assert error.value.field == "month" and "a month that has ended" in str(error.value)
    with pytest.raises(InputError) as error:
        await actions.send_statements(db, SETTINGS, month="2026-10", customer="nobody",
                                      mail=MAIL, actor="ops", now=NOW)
    assert (error.value.field, error.value.value) == ("customer", "nobody")
    assert await rows(db, ReportRevision) == [] and await rows(db, OutboxMessage) == []
    await actions.close_month(db, SETTINGS, month="2026-10", now=NOW)
    with pytest.raises(InputError) as error:
        await actions.statement(db, SETTINGS, month="2026-10", customer="acme", revision=2,
                                now=NOW)
    assert (error.value.field, error.value.value) == ("revision", 2)
    assert "1 to 1" in str(error.value)


async def test_csv_keeps_formula_like_text_as_text_and_html_escapes_it(db: Database) -> None:
    await record_october(db, SETTINGS)
    await actions.add_maintenance(db, SETTINGS, services=["acme-survey"], start=at(28),
                                  end=at(28, 1), reason="=HYPERLINK(\"http://x\")<b>",
                                  notified_at=at(20), actor="ops", now=at(25))
    await actions.close_month(db, SETTINGS, month="2026-10", now=NOW)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    table = list(csv.DictReader(io.StringIO(statement_csv(s))))
    [reason] = [r["value"] for r in table if r["section"] == "maintenance"
                and r["item"] == "2" and r["field"] == "reason"]
    assert reason == "'=HYPERLINK(\"http://x\")<b>"  # a spreadsheet shows it, never runs it
    html = statement_html(s)
    assert "=HYPERLINK(&#34;http://x&#34;)&lt;b&gt;" in html
    assert ")<b>" not in html



async def test_the_mailed_statement_holds_its_style(db: Database) -> None:
    """The e-mail's body and the browser's page hold their style (nothing is fetched) and
    no rule for paper: the PDF is typeset from the same words apart (statement_pdf)."""
    await closed(db)
    s = await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    mailed = statement_html(s)
    assert "border-collapse" in mailed and "@page" not in mailed
    assert "border-collapse" in render("_document.css")
    assert "kernel upgrade" in mailed


async def test_the_operators_summary_stays_english_and_left_to_right(db: Database) -> None:
    """The operators' monthly summary is an operators' view (SPEC section 7): English and
    left to right even for a Persian provider with a Persian name; the name keeps its own
    direction inside it."""
    text = yaml().replace("name: Rabit Hosting, timezone: UTC, calendar: gregorian,",
                          "name: میزبانی رابیت, timezone: UTC, calendar: gregorian, language: fa,")
    persian = Settings.from_config(parse_config(text))
    await record_october(db, persian)
    summary = await actions.month_summary(db, persian, month="2026-10", now=NOW)
    page = summary_html(summary)
    assert '<html lang="en" dir="ltr">' in page
    assert '<bdi class="fa" dir="rtl" lang="fa">میزبانی رابیت</bdi>' in page
    assert "SLA summary for 2026-10" in page


async def test_an_english_statement_says_its_claim_in_the_providers_time(db: Database) -> None:
    # An English reader's statement said "received 2026-12-05T20:30:00Z; our decision is
    # due by 2026-12-19T20:30:00Z" where every other time was in the provider's zone and
    # calendar (SPEC section 7): the same reader's times as the rest.
    await closed(db)
    await actions.submit_claim(db, SETTINGS, customer="acme", month="2026-10",
                               channel="email", mail=MAIL, actor="ops", now=NOW)
    view = await actions.statement(db, SETTINGS, month="2026-10", customer="acme", now=NOW)
    assert view.claim is not None
    assert "received 2026-11-03 09:00 UTC; our decision is due by 2026-11-" in view.claim, (
        view.claim)
    assert "T09:00:00Z" not in view.claim
