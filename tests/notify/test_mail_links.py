"""E-mails that lead somewhere, through a real SMTP server and the daemon's real aiohttp
application: a customer's outage, recovery, maintenance, ticket and claim e-mails (text
and HTML parts, English and Persian) carry a signed link to the customer's own page,
which opens it, and only it; those of an incident of a public service link its page on
the status page, which exists. The operators' outage e-mail says why the probe failed
(the failure's class and detail) and what was probed, without the URL's password."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.clock import SystemClock
from monitor.config import Settings, parse_config
from monitor.notify import Notifier
from monitor.notify.contract import ContractMailer
from monitor.sla import month_containing
from monitor.store import Database, history, incidents
from monitor.testing.smtp import SMTPSink
from tests.http import world
from tests.http.site import Site, config_text, serve, write_secrets

LINK = re.compile(r"https?://\S+")


@pytest.fixture
async def site(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """The HTTP tests' provider; ``bita`` reads Persian."""
    async with serve(db, tmp_path, customer_languages={"bita": "fa"}) as running:
        yield running


def mail_settings(site: Site, sink: SMTPSink) -> Settings:
    """The daemon's configuration as the notifier reads it: the site's, with its public
    address (where links point), operators and the SMTP sink."""
    text = config_text(site.tmp, customer_languages={"bita": "fa"},
                       extra_http=f'  public_url: "{site.url}"')
    text = text.replace("language: en}", "language: en, sender: sla@demo.example, "
                                          "operators: [noc@demo.example]}", 1)
    text += f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}\n"
    return Settings.from_config(parse_config(text))


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def links(message: EmailMessage, site: Site) -> set[str]:
    """The site's addresses in the text part; each is also a link in the HTML part."""
    text, html = parts(message)
    found = {url for url in LINK.findall(text) if url.startswith(site.url)}
    for url in found:
        assert f'href="{url.replace("&", "&amp;")}"' in html, url
    return found


@pytest.mark.slow
async def test_customer_mail_leads_to_the_incident_and_to_the_customers_own_page(
        site: Site, sink: SMTPSink) -> None:
    settings = mail_settings(site, sink)
    built = await world.build(site.db, settings)
    db, now = site.db, dt.datetime.now(dt.UTC)
    mail = ContractMailer(settings, now)
    notifier = Notifier(settings, db, SystemClock(), CollectorRegistry())
    try:
        await notifier.on_incident_opened(built.panel_open)  # the web panel: public
        await notifier.on_incident_opened(built.acme_closed)  # ACME's project: private
        await notifier.on_incident_closed(built.acme_closed)
        await notifier.on_maintenance_created(built.window)
        await actions.open_ticket(db, settings, customer="acme", service="acme-shop",
                                  channel="email", summary="checkout fails", at=now, mail=mail,
                                  actor="ops", now=now)
        this = month_containing(now, "gregorian", "UTC")
        last = month_containing(this.start - dt.timedelta(seconds=1), "gregorian", "UTC")
        claim = await actions.submit_claim(db, settings, customer="acme", month=last.label,
                                           channel="web", mail=mail, actor="customer:acme",
                                           now=now)
        await actions.decide_claim(db, settings, claim_id=claim.claim.id, decision="rejected",
                                   reason="no outage of ours", mail=mail, actor="ops",
                                   now=dt.datetime.now(dt.UTC))
        while await notifier.run_once():
            pass
    finally:
        await notifier.stop()

    received = [(m.rcpt_tos, m.parsed()) for m in sink.messages]
    acme = [p for to, p in received if "tech@acme.example" in to]
    assert {str(p["X-SLA-Monitor-Kind"]) for p in acme} >= {
        "outage", "recovery", "maintenance", "ticket-number", "claim-receipt",
        "claim-decision"}, [str(p["X-SLA-Monitor-Kind"]) for p in acme]
    incident_page = f"{site.url}/incidents/{built.panel_open}"
    opened: set[str] = set()
    for message in acme:
        found = links(message, site)
        own = [url for url in found if urlsplit(url).path == "/customer/acme"]
        assert len(own) == 1, (message["X-SLA-Monitor-Kind"], found)
        opened.add(own[0])
        # The panel's outage links its page; ACME's own project's incident (private) and
        # the other notices have none.
        if message["X-SLA-Monitor-Kind"] == "outage" and "Web panel" in str(message["Subject"]):
            assert incident_page in found
        else:
            assert not any("/incidents/" in url for url in found), found
    page = await site.session.get(incident_page)
    assert page.status == 200 and "Web panel" in await page.text()

    # Each customer link opens ACME's page, in a browser session, and nothing else.
    for url in opened:
        site.session.cookie_jar.clear()
        followed = await site.session.get(url)
        assert followed.status == 200 and "ACME Research" in await followed.text(), url
        assert str(followed.url) == f"{site.url}/customer/acme"
        other = await site.session.get(f"{site.url}/customer/bita")
        assert other.status != 200 and "بیتا" not in await other.text()
        site.session.cookie_jar.clear()
        query = urlsplit(url).query
        stolen = await site.get(f"/customer/bita?{query}")
        assert stolen.status == 401 and "Set-Cookie" not in stolen.headers

    # A Persian reader's outage e-mail leads to its own page too, in its words.
    bita = next(p for to, p in received
                if "it@bita.example" in to and p["X-SLA-Monitor-Kind"] == "outage")
    text, html = parts(bita)
    assert "صفحه‌ی شما" in text and '<html lang="fa" dir="rtl">' in html
    [own] = [url for url in links(bita, site) if urlsplit(url).path == "/customer/bita"]
    site.session.cookie_jar.clear()
    followed = await site.session.get(own)
    assert followed.status == 200 and str(followed.url) == f"{site.url}/customer/bita"


async def test_the_operators_outage_mail_says_why_and_what_without_secrets(
        db: Database, tmp_path: Path, sink: SMTPSink) -> None:
    write_secrets(tmp_path)
    text = config_text(tmp_path).replace(
        "language: en}", "language: en, sender: sla@demo.example, "
                         "operators: [noc@demo.example]}", 1)
    text = text.replace(
        '- {id: panel, kind: web_panel, name: "Web panel", probe: {type: tcp, host: 127.0.0.1, '
        'port: 9}}',
        '- {id: panel, kind: web_panel, name: "Web panel", probe: {type: http, '
        'url: "https://admin:hunter2@panel.example/health"}}')
    assert "hunter2" in text
    text += f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}\n"
    settings = Settings.from_config(parse_config(text))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(minutes=3)
    async with db.transaction() as tx:
        await history.add_failures(tx, [{
            "target_id": "panel", "at": start, "state": "down", "failure_class": "http_status",
            "detail": "GET https://admin:hunter2@panel.example/health: 503 Service Unavailable",
            "http_status": 503, "latency_ms": 12.0, "timings": None}])
    async with db.transaction() as tx:
        incident_id = await incidents.open_probe_incident(
            tx, service_id="panel", start=start, start_bound=start - dt.timedelta(minutes=1),
            detected_at=now, created_at=now)
    notifier = Notifier(settings, db, SystemClock(), CollectorRegistry())
    try:
        await notifier.on_incident_opened(incident_id)
        while await notifier.run_once():
            pass
    finally:
        await notifier.stop()
    [ops] = [m.parsed() for m in sink.messages if "noc@demo.example" in m.rcpt_tos]
    text_part, html_part = parts(ops)
    for part in (text_part, html_part):
        assert "http_status" in part and "503 Service Unavailable" in part
        assert "https://***@panel.example/health" in part
        assert "hunter2" not in part and "admin" not in part
    assert '<html lang="en"' in html_part
