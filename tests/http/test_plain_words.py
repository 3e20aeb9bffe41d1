"""Plain words for customers (SPEC section 7, "Language"): what a customer reads (the
status page, the incident page and the feed, the customer page, the claim form with its
refusals, its receipt and decision, the customer's e-mails in text and HTML, the
statement in HTML and CSV) names no contract rule id (``R-T1``, ``D-2``) and no tier
code (``1w``) in its sentences, in English and in Persian. Rule ids stay in evidence
columns and footnotes, marked ``class="evidence"`` (the statement's "rule" column, a
"Contract rules: R-T1, R-EX1" line), and in the operators' views."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.notify import Notifier
from monitor.notify.contract import ContractMailer
from monitor.present.statement import statement_csv, statement_html
from monitor.sla import month_containing
from monitor.store import Database
from monitor.testing.smtp import SMTPSink
from tests.actions.statements_world import NOW, record_october, yaml
from tests.http import world
from tests.http.site import Site, serve
from tests.http.test_claims import _session

# A rule id (R-T1, R-EX1, R-EX, D-2, L-4) or a tier code (1w, 2w, 1m) in a sentence.
CODE = re.compile(r"\bR-[A-Z]+\d*|\b[DL]-\d|\b[12]w\b|\b1m\b")
LANGUAGES = ("en", "fa")


class _Prose(HTMLParser):
    """The text a reader reads as prose: everything but scripts, styles and the elements
    marked ``evidence`` (with what they hold)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hidden: list[str] = []  # the open tags of a hidden element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "img", "input", "meta", "link", "col", "wbr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        if self.hidden or tag in ("script", "style") or "evidence" in classes:
            self.hidden.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.hidden and self.hidden[-1] == tag:
            self.hidden.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text.append(data)


def prose(page: str) -> str:
    parser = _Prose()
    parser.feed(page)
    parser.close()
    return " ".join(parser.text)


def codes(text: str) -> list[str]:
    return CODE.findall(text)


def test_the_detector_finds_codes_outside_evidence_only() -> None:
    page = ('<p>Tier 1w (R-T1), notice due (D-3)</p><td class="rule evidence"><bdi>R-EX1</bdi>'
            '</td><p class="small evidence">Contract rules: R-T1</p><p>1 week</p>')
    assert codes(prose(page)) == ["1w", "R-T1", "D-3"]
    assert codes("excluded (R-EX), renew it (L-2)") == ["R-EX", "L-2"]
    assert codes("1 month, 2 weeks, 12w3, HR-7") == []


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture(params=LANGUAGES)
async def provider(request: pytest.FixtureRequest, db: Database,
                   tmp_path: Path) -> AsyncIterator[tuple[Site, world.World]]:
    """The HTTP tests' provider, reading ``en`` or ``fa``, with a tier last month (an
    outage of ACME's shop two hours long), an excluded one (at ACME's request), and one
    this month not caused by the provider."""
    language = request.param
    async with serve(db, tmp_path, language=language,
                     calendar="jalali" if language == "fa" else "gregorian",
                     timezone="Asia/Tehran" if language == "fa" else "UTC") as running:
        built = await world.build(db, running.settings)
        calendar, zone = running.settings.provider.calendar, running.settings.provider.timezone
        this = month_containing(built.now, calendar, zone)
        last = month_containing(this.start - dt.timedelta(seconds=1), calendar, zone)
        start = last.start + dt.timedelta(days=3)
        await actions.add_incident(db, running.settings, service="acme-shop", start=start,
                                   end=start + dt.timedelta(hours=2), actor="test", now=built.now)
        await actions.add_incident(db, running.settings, service="acme-shop",
                                   start=start + dt.timedelta(days=2),
                                   end=start + dt.timedelta(days=2, hours=1),
                                   cause="customer_request", actor="test", now=built.now)
        await actions.add_incident(db, running.settings, service="acme-shop",
                                   start=built.now - dt.timedelta(minutes=30),
                                   end=built.now - dt.timedelta(minutes=20),
                                   cause="external", actor="test", now=built.now)
        yield running, built


@pytest.mark.slow
async def test_customer_pages_name_no_rule_and_no_tier_code(
        provider: tuple[Site, world.World]) -> None:
    site, built = provider
    calendar, zone = site.settings.provider.calendar, site.settings.provider.timezone
    this = month_containing(built.now, calendar, zone)
    last = month_containing(this.start - dt.timedelta(seconds=1), calendar, zone)
    token = await _session(site, "acme")
    seen: dict[str, str] = {}

    async def page(name: str, path: str, status: int = 200) -> None:
        response = await site.get(path)
        assert response.status == status, (path, await response.text())
        seen[name] = await response.text()

    await page("status page", "/")
    await page("incident page", f"/incidents/{built.mobile_closed}")
    await page("feed", "/feed.atom")
    refused = await site.post("/customer/acme/claims", data={"month": this.label, "csrf": token})
    assert refused.status == 422
    seen["claim refused: month not over"] = await refused.text()
    made = await site.post("/customer/acme/claims", data={"month": last.label, "csrf": token})
    assert made.status == 303, await made.text()
    await page("claim receipt", made.headers["Location"])
    again = await site.post("/customer/acme/claims", data={"month": last.label, "csrf": token})
    seen["claim refused: already claimed"] = await again.text()
    claim_id = int(made.headers["Location"].rsplit("/", 1)[1])
    decided = await site.post(f"/api/v1/claims/{claim_id}/decision", "write",
                              json={"decision": "approved"})
    assert decided.status == 200, await decided.text()
    await page("claim decided", made.headers["Location"])
    await page("customer page", "/customer/acme")
    assert "1" in seen["customer page"] or "۱" in seen["customer page"]
    found = {name: codes(prose(text)) for name, text in seen.items()}
    assert not any(found.values()), {name: hits for name, hits in found.items() if hits}


# --- e-mails and statements -----------------------------------------------------------------


def _settings(sink: SMTPSink, language: str) -> Settings:
    text = yaml(f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}")
    text = text.replace("calendar: gregorian,", f"calendar: gregorian, language: {language},")
    return Settings.from_config(parse_config(text))


def _parts(message: EmailMessage) -> dict[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return {"subject": str(message["Subject"]), "text": text.get_content(),
            "html": prose(html.get_content())}


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
async def test_customer_mail_and_statements_name_no_rule_and_no_tier_code(
        db: Database, sink: SMTPSink, language: str) -> None:
    """October 2026 of the statements' world (a tier, an excluded window, a late
    notification) for a provider writing ``language``: every e-mail ACME gets and its
    statement."""
    settings = _settings(sink, language)
    await record_october(db, settings)
    mail = ContractMailer(settings, NOW)
    notifier = Notifier(settings, db, FakeClock(NOW), CollectorRegistry())
    try:
        await notifier.on_incident_opened(3)
        await notifier.on_incident_closed(3)
        await notifier.on_maintenance_created(1)
        await actions.send_statements(db, settings, month="2026-10", mail=mail, actor="ops",
                                      now=NOW)
        statement = await actions.statement(db, settings, month="2026-10", customer="acme",
                                            now=NOW)
        async with db.transaction() as tx:
            await mail.claim_reminder(tx, statement)
        claim = await actions.submit_claim(db, settings, customer="acme", month="2026-10",
                                           channel="web", mail=mail, actor="customer:acme",
                                           now=NOW)
        await actions.decide_claim(db, settings, claim_id=claim.claim.id, decision="partly",
                                   days=Decimal(3), reason="", mail=mail, actor="ops", now=NOW)
        await actions.open_ticket(db, settings, customer="acme", service="acme-survey",
                                  channel="email", summary="the form does not save", at=NOW,
                                  mail=mail, actor="ops", now=NOW)
        while await notifier.run_once():
            pass
    finally:
        await notifier.stop()
    found: dict[str, list[str]] = {}
    kinds = set()
    for message in (m.parsed() for m in sink.messages if "tech@acme.example" in m.rcpt_tos):
        kinds.add(str(message["X-SLA-Monitor-Kind"]))
        for part, content in _parts(message).items():
            found[f"{message['X-SLA-Monitor-Kind']} {part}"] = codes(content)
    assert kinds >= {"outage", "recovery", "maintenance", "statement", "claim-reminder",
                     "claim-receipt", "claim-decision", "ticket-number"}, kinds
    assert statement.tier == "1w"
    found["statement html"] = codes(prose(statement_html(statement)))
    # The CSV: every cell but the evidence (the rule a credit line applies) and the codes
    # an English spreadsheet keeps as values (the tier, a reason for no credit).
    _ = settings.reader("acme").gettext
    evidence = {_("rule"), _("tier"), _("ineligible_reason")}
    rows = list(csv.reader(io.StringIO(statement_csv(statement).removeprefix("\ufeff"))))
    found["statement csv"] = codes(" ".join(" ".join(row) for row in rows[1:]
                                            if row[5] not in evidence))
    assert not any(found.values()), {name: hits for name, hits in found.items() if hits}
