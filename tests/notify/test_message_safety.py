"""Messages: no header injection, HTML escaping, Persian right-to-left, Jalali dates (R-M5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jdatetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.config.schema import Config
from monitor.notify import templates
from monitor.notify.layout import Style
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, sink_smtp

EVIL = "ACME\r\nBcc: victim@evil.example"


def with_acme_name(config: Config, name: str, **provider: Any) -> Config:
    data = config.model_dump(by_alias=True)
    data["customers"][0]["name"] = name
    data["provider"].update(provider)
    return Config.model_validate(data)


async def test_a_header_injection_in_a_customer_name_is_neutralised(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    config = with_acme_name(make_config(sink_smtp(sink)), EVIL + "\x00\x1b<script>")
    notifier = make_notifier(config)
    await notifier.on_incident_opened(await add_incident(sessions))
    await notifier.run_once()
    acme = next(m for m in sink.messages if "tech@acme.example" in m.rcpt_tos)
    assert sorted(acme.rcpt_tos) == ["ceo@acme.example", "tech@acme.example"]
    assert all("victim@evil.example" not in m.rcpt_tos for m in sink.messages)
    raw = acme.content
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\x00" not in raw and b"\x1b" not in raw
    parsed = acme.parsed()
    assert parsed["Bcc"] is None
    assert "ACME Bcc: victim@evil.example <script>" in " ".join(parsed["Subject"].split())
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_templates_escape_everything_in_html() -> None:
    rendered = templates.maintenance_notice(
        Style("Rabit & Co <b>"),
        customer_name='<img src=x onerror="alert(1)">',
        services=["<i>panel</i>"],
        start=T0,
        end=T0 + dt.timedelta(hours=1),
        reason="</p><script>steal()</script>",
        window_id=7,
    )
    for dangerous in ("<img", "<i>", "<script>", "<b>"):
        assert dangerous not in rendered.html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in rendered.html
    assert "<script>steal()</script>" in rendered.text  # plain text needs no escaping


async def test_a_persian_name_in_an_english_mail_with_jalali_dates(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    config = make_config(
        sink_smtp(sink), provider={"timezone": "Asia/Tehran", "calendar": "jalali"}
    )
    notifier = make_notifier(config)
    await notifier.on_incident_opened(await add_incident(sessions, start=T0))
    await notifier.run_once()
    bita = next(m for m in sink.messages if m.rcpt_tos == ("tech@bita.example",)).parsed()
    assert "شرکت بیتا نظرسنجی" in bita["Subject"]
    html = bita.get_body(("html",)).get_content()
    text = bita.get_body(("plain",)).get_content()
    assert '<html lang="en" dir="auto">' in html  # English (the default), a Persian name
    assert "شرکت بیتا نظرسنجی" in html and "شرکت بیتا نظرسنجی" in text
    # 2026-05-01 08:00 UTC is 11:30 in Tehran (UTC+03:30), 11 Ordibehesht 1405.
    expected = jdatetime.datetime.fromgregorian(datetime=dt.datetime(2026, 5, 1, 11, 30))
    assert expected.strftime("%Y/%m/%d %H:%M") == "1405/02/11 11:30"
    assert "Down since:" in text and "1405/02/11 11:30 Asia/Tehran (UTC+03:30" in text
    acme = next(m for m in sink.messages if "tech@acme.example" in m.rcpt_tos).parsed()
    assert '<html lang="en" dir="auto">' in acme.get_body(("html",)).get_content()
