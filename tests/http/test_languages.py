"""The pages in the customer's language (SPEC section 7, "Language"), on both backends: a
Persian provider's status page, customer page, claim form with its refusals, receipt and
error pages are Persian and right to left, with Persian digits and the provider's
calendar, and no English sentence around the names the configuration gives; a customer
of the same provider who reads English gets the English page."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.sla import month_containing
from monitor.store import Database
from tests.http import world
from tests.http.site import Site, StoppedClock, serve
from tests.http.test_claims import _session

PROVIDER = "میزبانی نمونه"
# What the configuration and the operators wrote (names, reasons, notes): data, shown as
# written. Anything else in Latin letters on a Persian page is an untranslated word.
DATA = ("Web panel", "Mobile app API", "ACME shop", "ACME Research", "Server one",
        "Database upgrade of the panel", "acme-shop disk full", "ACME's staff called it in",
        "sla-monitor", "Atom", "JSON", "UTC", "bita.example", "acme.example",
        "bita")  # the account id


def visible_text(page: str) -> str:
    """The text a reader sees: tags, scripts and attributes' markup removed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def english_words(page: str) -> list[str]:
    text = visible_text(page)
    for data in DATA:
        text = text.replace(data, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.fixture
async def persian(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """A Jalali provider in Tehran whose customers read Persian, but ACME reads English."""
    async with serve(db, tmp_path, provider=PROVIDER, calendar="jalali",
                     timezone="Asia/Tehran", language="fa",
                     customer_languages={"acme": "en"}) as running:
        await world.build(db, running.settings)
        yield running


def test_the_detector_finds_an_english_word() -> None:
    assert english_words("<p>وضعیت <bdi>Web panel</bdi> status</p>") == ["status"]


@pytest.mark.slow
async def test_the_status_page_speaks_the_providers_language(persian: Site) -> None:
    response = await persian.get("/")
    page = await response.text()
    assert response.status == 200 and response.headers["Content-Language"] == "fa"
    assert '<html lang="fa" dir="rtl">' in page
    assert f"<title>وضعیت سرویس‌های {PROVIDER}</title>" in page
    assert "سرویس‌ها" in page and "تعمیرات از پیش برنامه‌ریزی‌شده" in page
    assert english_words(page) == []
    # Persian digits, the Jalali calendar, the zone said once at the top.
    assert re.search(r"۱۴[۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2} [۰-۹]{2}:[۰-۹]{2}", visible_text(page))
    assert "Asia/Tehran" not in page and "Gregorian" not in page
    assert page.index('id="zone"') < page.index("<h1")
    # The zone as its readers name it, as the statements and e-mails name it (not its id).
    assert "زمان‌ها به <bdi>وقت ایران</bdi> و به تقویم هجری شمسی" in page
    assert "وقت وقت" not in page
    # Once: the footer said it again (the README says the zone is named once, at the top).
    assert page.count("زمان‌ها به <bdi>وقت ایران</bdi>") == 1


async def test_a_persian_customer_page_has_no_english_and_no_rule_ids(persian: Site) -> None:
    await _session(persian, "bita")
    page = await (await persian.get("/customer/bita")).text()
    assert '<html lang="fa" dir="rtl">' in page
    assert "سرویس‌های شما" in page and "مطالبه‌ی اعتبار سرویس یک ماه" in page
    assert english_words(page) == []
    assert not re.search(r"R-[A-Z]+[0-9]", visible_text(page)), "a rule id in the prose"
    # Availability with Persian separators and sign; durations in words.
    assert re.search(r"[۰-۹]+٫[۰-۹]{3}٪", page)
    assert "دقیقه" in page or "ساعت" in page


async def test_an_english_customer_of_a_persian_provider_reads_english(persian: Site) -> None:
    await _session(persian, "acme")
    response = await persian.get("/customer/acme")
    page = await response.text()
    assert response.headers["Content-Language"] == "en"
    assert '<html lang="en" dir="ltr">' in page
    assert "Your services" in page and "سرویس‌های شما" not in page
    assert "Asia/Tehran (UTC+03:30; Gregorian" in page  # the English forms, unchanged


@pytest.mark.slow
async def test_claim_refusals_receipt_and_errors_in_persian(persian: Site) -> None:
    token = await _session(persian, "bita")
    now = dt.datetime.now(dt.UTC)
    this = month_containing(now, "jalali", "Asia/Tehran").label
    refused = await persian.post("/customer/bita/claims", data={"month": this, "csrf": token})
    page = await refused.text()
    assert refused.status == 422
    assert "درخواست شما برای" in page and "هنوز تمام نشده است" in page
    assert english_words(page) == []
    bad = await persian.post("/customer/bita/claims", data={"month": "1405-13", "csrf": token})
    assert bad.status == 422 and english_words(await bad.text()) == []
    # A month in Persian digits (a crafted form: the page offers a list) is refused as
    # typed; the refusal does not name it as a month it then calls not valid.
    typed = "۱۴۰۵-۰۸"
    odd = await persian.post("/customer/bita/claims", data={"month": typed, "csrf": token})
    said = await odd.text()
    assert odd.status == 422 and english_words(said) == []
    assert f"درخواست شما برای {typed} پذیرفته نشد" in visible_text(said), visible_text(said)
    assert "برای آبان ۱۴۰۵ پذیرفته نشد" not in visible_text(said)
    last = month_containing(month_containing(now, "jalali", "Asia/Tehran").start
                            - dt.timedelta(seconds=1), "jalali", "Asia/Tehran").label
    made = await persian.post("/customer/bita/claims", data={"month": last, "csrf": token})
    assert made.status == 303
    receipt = await (await persian.get(made.headers["Location"])).text()
    assert "دریافت شد" in receipt and english_words(receipt) == []
    again = await persian.post("/customer/bita/claims", data={"month": last, "csrf": token})
    assert "قبلاً درخواست ثبت شده است" in await again.text()
    missing = await persian.get("/no/such/page")
    text = await missing.text()
    assert missing.status == 404 and "پیدا نشد" in text and english_words(text) == []
    expired = await persian.get("/customer/bita?expires=1&key=k&sig=x")
    assert expired.status == 401 and english_words(await expired.text()) == []


async def test_english_stays_the_default(site: Site) -> None:
    response = await site.get("/")
    page = await response.text()
    assert response.headers["Content-Language"] == "en"
    assert '<html lang="en" dir="ltr">' in page and "<title>Demo Hosting status</title>" in page
    assert 'id="zone"' not in page
    # An English page names the zone in its footer, once.
    assert page.count("Times are shown in <bdi>") == 1


async def test_the_feed_and_badges_say_their_language_as_the_pages_do(
        db: Database, tmp_path: Path) -> None:
    # The pages said "Content-Language: fa"; the Persian feed and badges, written in
    # Persian too, said nothing of their language in HTTP. On a stopped clock: a page shows
    # the time to the minute, and a minute turning between a page and its conditional
    # request gave it a new ETag (a failure at hh:mm:00).
    stopped = StoppedClock(dt.datetime.now(dt.UTC))
    async with serve(db, tmp_path, stopped, provider=PROVIDER, calendar="jalali",
                     timezone="Asia/Tehran", language="fa",
                     customer_languages={"acme": "en"}) as persian, serve(
            db, tmp_path, stopped) as site:
        await world.build(db, persian.settings)
        await _say_their_language(persian, site)


async def _say_their_language(persian: Site, site: Site) -> None:
    for served, code in ((persian, "fa"), (site, "en")):
        for path in ("/", "/feed.atom", "/badge/panel/status.svg",
                     "/badge/mobile/availability.svg"):
            for method in ("GET", "HEAD"):
                response = await served.session.request(method, served.url + path)
                assert response.status == 200, (code, path)
                assert response.headers.get("Content-Language") == code, (code, path, method)
                etag = response.headers["ETag"]
            again = await served.session.get(served.url + path,
                                              headers={"If-None-Match": etag})
            assert again.status == 304 and again.headers.get("Content-Language") == code


async def test_the_feed_and_badges_speak_the_providers_language(persian: Site) -> None:
    from xml.etree import ElementTree

    response = await persian.get("/feed.atom")
    feed = ElementTree.fromstring(await response.read())
    atom = "{http://www.w3.org/2005/Atom}"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "fa"
    assert feed.findtext(f"{atom}title") == f"{PROVIDER}: قطعی‌ها و تعمیرات"
    subtitle = feed.findtext(f"{atom}subtitle") or ""
    assert "وقت ایران" in subtitle and "هجری شمسی" in subtitle  # the zone, said once
    assert "Asia/Tehran" not in subtitle and "وقت وقت" not in subtitle
    entries = feed.findall(f"{atom}entry")
    assert entries
    for entry in entries:
        for part in ("title", "content"):
            text = entry.findtext(f"{atom}{part}") or ""
            assert english_words(text) == [], text
            assert not re.search(r"[0-9]", text), text  # Persian digits
    status = await (await persian.get("/badge/panel/status.svg")).text()
    assert "قطعی کامل" in status  # the panel is down now
    availability = await (await persian.get("/badge/mobile/availability.svg")).text()
    assert re.search(r"[۰-۹]+٫[۰-۹]{3}٪", availability)
