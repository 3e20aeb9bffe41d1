"""A Persian provider's e-mails and statements (SPEC section 7, "Language"), on both
backends, through a real SMTP server: a customer who reads Persian gets every kind of
e-mail (outage, recovery, maintenance notice, statement, claim reminder, receipt and
decision, ticket number, price change) and its statement (HTML, CSV, PDF) in Persian,
right to left, without an English sentence around the names and ids the configuration
gives; a customer of the same provider who reads English gets English; operators'
e-mails stay English."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.notify import Notifier, templates
from monitor.notify.contract import ContractMailer
from monitor.present.statement import statement_csv, statement_html
from monitor.store import Database
from monitor.testing.smtp import SMTPSink
from tests.actions.statements_world import BITA, NOW, at, record_october, yaml
from tests.http.test_languages import visible_text

# What the configuration and the operators wrote, and ids: data, shown as written.
DATA = ("ACME Research", "ACME survey", "acme-survey", "Tehran host 1", "srv-1",
        "acme.example", "sla@rabit.example", "Rabit Hosting", "kernel upgrade", "acme",
        "statement-acme-2026-10-r1", "PDF", "CSV", "SHA-256", "UTC")
# Rule ids (evidence columns) and hashes (the inputs' SHA-256, Message-IDs) are not words.
CODES = re.compile(r"\bR-[A-Z]+\d*\b|\b[0-9a-f]{16,}\b")
# What pdftotext puts around right-to-left runs, and ZWNJ, which has no glyph to extract.
BIDI = re.compile("[\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def english_words(text: str) -> list[str]:
    for data in DATA:
        text = text.replace(data, " ")
    return re.findall(r"[A-Za-z]{2,}", CODES.sub(" ", text))


def persian_settings(sink: SMTPSink) -> Settings:
    """The statements' world with a Persian provider: ACME reads Persian (the provider's
    language), the Persian-named Bita reads English (its own ``language``)."""
    text = yaml(f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}")
    text = text.replace("calendar: gregorian,", "calendar: gregorian, language: fa,")
    text = text.replace(f"    name: {BITA}\n", f"    name: {BITA}\n    language: en\n")
    return Settings.from_config(parse_config(text))


def bodies(message: EmailMessage) -> tuple[str, str, str]:
    """Subject, plain text, and the HTML's visible text."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(message["Subject"]), text.get_content(), html.get_content()


def pdf_text(document: bytes, path: Path) -> str:
    """The PDF's text as pdftotext extracts it (logical order)."""
    path.write_bytes(document)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_the_detector_finds_english_but_not_data() -> None:
    assert english_words("قطعی ACME survey R-T1 0123456789abcdef0 down") == ["down"]


@pytest.mark.slow
async def test_a_persian_readers_mail_and_statement_have_no_english_sentence(
    db: Database, sink: SMTPSink, tmp_path: Path
) -> None:
    settings = persian_settings(sink)
    assert (settings.reader("acme").code, settings.reader("bita").code) == ("fa", "en")
    await record_october(db, settings)
    mail = ContractMailer(settings, NOW)
    notifier = Notifier(settings, db, FakeClock(NOW), CollectorRegistry())
    try:
        # Outage and recovery of incident 3, the maintenance window's notice.
        await notifier.on_incident_opened(3)
        await notifier.on_incident_closed(3)
        await notifier.on_maintenance_created(1)
        # The statement (closing the month), a claim reminder, a claim's receipt and
        # decision, a ticket's number.
        run = await actions.send_statements(db, settings, month="2026-10", mail=mail,
                                            actor="ops", now=NOW)
        statement = await actions.statement(db, settings, month="2026-10", customer="acme",
                                            now=NOW)
        async with db.transaction() as tx:
            await mail.claim_reminder(tx, statement)
        claim = await actions.submit_claim(db, settings, customer="acme", month="2026-10",
                                           channel="web", mail=mail, actor="customer:acme",
                                           now=NOW)
        await actions.decide_claim(db, settings, claim_id=claim.claim.id, decision="approved",
                                   reason="", mail=mail, actor="ops", now=NOW)
        await actions.open_ticket(db, settings, customer="acme", service="acme-survey",
                                  channel="email", summary="فرم پرسشنامه ذخیره نمی‌شود",
                                  at=NOW, mail=mail, actor="ops", now=NOW)
        await actions.open_ticket(db, settings, customer="bita", service="bita-poll",
                                  channel="email", summary="panel is slow", at=NOW, mail=mail,
                                  actor="ops", now=NOW)
        assert {i.customer: i.status for i in run.items}["acme"] == "queued"
        while await notifier.run_once():
            pass
    finally:
        await notifier.stop()
    received = [(m.rcpt_tos, m.parsed()) for m in sink.messages]
    kinds = {(str(p["X-SLA-Monitor-Kind"]), to[0]) for to, p in received}
    persian = [p for to, p in received if "tech@acme.example" in to]
    assert {str(p["X-SLA-Monitor-Kind"]) for p in persian} == {
        "outage", "recovery", "maintenance", "statement", "claim-reminder", "claim-receipt",
        "claim-decision", "ticket-number"}, kinds

    problems = []
    for message in persian:
        subject, text, html = bodies(message)
        assert '<html lang="fa" dir="rtl">' in html
        for part, content in (("subject", subject), ("text", text),
                              ("html", visible_text(html))):
            if found := english_words(content):
                problems.append(f"{message['X-SLA-Monitor-Kind']} {part}: {found}")
    assert not problems, "\n".join(problems)
    outage = next(p for p in persian if p["X-SLA-Monitor-Kind"] == "outage")
    _, text, _ = bodies(outage)
    # Short dates in Persian digits, the zone said once; the contract's words.
    assert "۱۴۰۵" not in text and "۲۰۲۶/۱۰/۲۰ ۰۸:۰۰" in text and "زمان‌ها به UTC است." in text
    assert "قطعی" in str(outage["Subject"])

    # The price change (a ticket's price from configured ticket types: rendered directly
    # with the customer's style, as the mailer does).
    price = templates.price_change(
        mail._style("acme"), customer_name="ACME Research", ticket_id=7, title="قالب جدید",
        old_price=settings.reader("acme").money(Decimal(100), "EUR"),
        new_price=settings.reader("acme").money(Decimal(150), "EUR"),
        requested_at=NOW, answer_by=at(6, month=11))
    assert not english_words(price.subject + price.text + visible_text(price.html))
    # A window called off (rendered as the notifier renders it for the customer).
    off = templates.maintenance_cancelled(
        mail._style("acme"), customer_name="ACME Research", services=["سرور تهران ۱"],
        start=at(6, month=11), end=at(6, month=11) + dt.timedelta(hours=2), window_id=4)
    assert not english_words(off.subject + off.text + visible_text(off.html)), (
        english_words(off.subject + off.text + visible_text(off.html)))
    assert "لغو شد" in off.subject
    told = templates.subscriber_maintenance_cancelled(
        mail._style("acme"), affected=["پنل طراحی"], start=at(6, month=11),
        end=at(6, month=11) + dt.timedelta(hours=2), link="https://status.example/",
        services=["پنل طراحی"], unsubscribe="https://status.example/u")
    words = re.sub(r"https://\S+", "", told.subject + told.text + visible_text(told.html))
    assert not english_words(words), english_words(words)  # the links are data

    # The English reader of the same provider, and the operators, read English.
    bita = [p for to, p in received if to == ("it@bita.example",)]
    assert {str(p["X-SLA-Monitor-Kind"]) for p in bita} == {"statement", "ticket-number"}
    for message in bita:
        subject, text, html = bodies(message)
        assert "Dear" in text and '<html lang="en" dir=' in html and BITA in text

    # The statement itself: HTML, CSV (a byte-order mark, Persian headers) and PDF.
    html = statement_html(statement)
    assert '<html lang="fa" dir="rtl">' in html
    assert not english_words(visible_text(html)), english_words(visible_text(html))
    assert "(میلادی: ۲۰۲۶/۱۰/۰۱ تا ۲۰۲۶/۱۱/۰۱)" not in html  # Gregorian: no equivalent
    table = statement_csv(statement)
    assert table.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(table[1:])))
    assert rows[0] == ["ماه", "مشتری", "نسخه", "بخش", "مورد", "فیلد", "مقدار"]
    assert all(len(row) == 7 for row in rows)
    assert not english_words(" ".join(" ".join(row) for row in rows))
    value = {row[5]: row[6] for row in rows if row[3] == "خلاصه"}
    assert value["ارزش اعتبار سرویس"] == "۸۰٫۰۰" and value["واحد پول"] == "یورو"
    assert value["درصد دسترسی"] == "۹۹٫۶۶۳"
    document = (await actions.statement_files(statement)).pdf
    extracted = BIDI.sub("", pdf_text(document, tmp_path / "statement.pdf"))
    # Logical order, shaped by HarfBuzz (no presentation forms), and no English sentence.
    assert "گزارش تعهد سطح خدمات" in extracted and "میزان دسترسی" in extracted
    assert not re.search("[\ufb50-\ufdff\ufe70-\ufefe]", extracted)
    # pdftotext breaks the names of narrow cells across lines ("kernel" / "upgrade"): here
    # a word of the data is data wherever it stands.
    # and the inputs' hash (a long word) across lines.
    extracted = re.sub(r"(?<![A-Za-z])[0-9a-f]{2,}(?![A-Za-z])",
                       lambda m: " " if m.group() in statement.inputs_hash else m.group(),
                       extracted)
    data_words = {word for data in DATA for word in re.findall(r"[A-Za-z]{2,}", data)}
    assert set(english_words(extracted)) <= data_words, english_words(extracted)
