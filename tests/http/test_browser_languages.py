"""Every Persian page in real headless Chromium on a phone (390 CSS pixels wide), on the
last day of a Jalali month (1405/09/30, Azar's last day, 23:58 in Tehran) with a ticket
open: right to left, nothing wider than the screen (``scrollWidth <= innerWidth``), and
no table scrolling sideways (a row is a card on a phone), and the figures read as a
Persian reader expects. Screenshots are saved in the test's
temporary directory (``screenshots/``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor import actions
from monitor.notify.contract import ContractMailer
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from tests.http import world
from tests.http.browser import chromium, follow, require_chromium
from tests.http.site import Site, StoppedClock, serve

pytestmark = pytest.mark.slow

# 1405/09/30 23:58 Asia/Tehran (UTC+03:30): the last minutes of Azar 1405.
LAST_DAY = dt.datetime(2026, 12, 21, 20, 28, tzinfo=dt.UTC)
PHONE = 390


@pytest.fixture
async def persian(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    require_chromium()
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    db = Database(engine)
    (tmp_path / "site").mkdir()
    async with serve(db, tmp_path / "site", clock=StoppedClock(LAST_DAY),
                     provider="میزبانی نمونه", calendar="jalali", timezone="Asia/Tehran",
                     language="fa") as running:
        await world.build(db, running.settings, now=LAST_DAY - dt.timedelta(minutes=1))
        mail = ContractMailer(running.settings, LAST_DAY)
        await actions.open_ticket(
            db, running.settings, customer="bita", service="bita-survey", channel="email",
            summary="فرم نظرسنجی در موبایل باز نمی‌شود", mail=mail, actor="test",
            now=LAST_DAY - dt.timedelta(hours=5))
        await actions.submit_claim(db, running.settings, customer="bita", month="1405-08",
                                   channel="web", mail=mail, actor="test",
                                   now=LAST_DAY - dt.timedelta(days=20))
        yield running
    await engine.dispose()


def _look(driver: Any, name: str, folder: Path) -> dict[str, Any]:
    driver.save_screenshot(str(folder / f"{name}.png"))
    return driver.execute_script(  # type: ignore[no-any-return]
        "const root = document.documentElement;"
        "return {scroll: root.scrollWidth, inner: window.innerWidth,"
        " dir: root.getAttribute('dir'), lang: root.getAttribute('lang'),"
        " sideways: [...document.querySelectorAll('.table-wrap')]"
        "   .filter(e => e.scrollWidth > e.clientWidth).length,"
        " direction: getComputedStyle(document.body).direction,"
        " h1: document.querySelector('h1').innerText};")


async def test_every_persian_page_fits_a_phone(persian: Site, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    folder = tmp_path / "screenshots"
    folder.mkdir()
    keys = persian.web.links
    assert keys is not None
    link = persian.url + "/customer/bita?" + keys.link_query("bita", LAST_DAY + dt.timedelta(days=1))
    # Aban closed, then one of its records changed: its evidence archive waits for the next
    # close, and the page says the month is being corrected.
    await actions.close_month(persian.db, persian.settings, month="1405-08", now=LAST_DAY)
    await actions.add_incident(persian.db, persian.settings, service="bita-survey",
                               start=dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC),
                               end=dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC), actor="test",
                               now=LAST_DAY)

    def visit() -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        with chromium(tmp_path / "profile", javascript=False, width=PHONE, height=2600) as driver:
            page: Any = driver
            # A window is at least 500 px wide in headless Chromium: emulate the phone.
            page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": PHONE, "height": 2600, "deviceScaleFactor": 1, "mobile": True})
            page.get(persian.url + "/")
            seen["status"] = _look(page, "status", folder)
            seen["status"]["markers"] = page.execute_script(
                "return ['.bars li', '.timeline li'].map("
                "s => getComputedStyle(document.querySelector(s)).listStyleType)")
            # An uptime with unknown time: its two figures, each isolated, where they show.
            seen["status"]["uptime"] = page.execute_script(
                "const dd = [...document.querySelectorAll('dl.uptime dd')]"
                "  .find(d => d.innerText.includes('نامعلوم'));"
                "if (!dd) return null;"
                "const parts = [...dd.querySelectorAll('bdi')].map(b => b.getBoundingClientRect());"
                "return {text: dd.innerText, isolated: parts.length,"
                " gap: parts.length == 2 ? parts[0].left - parts[1].right : null};")
            page.get(link)
            seen["customer"] = _look(page, "customer", folder)
            seen["customer"]["tickets"] = page.find_element("id", "tickets").text
            seen["customer"]["month"] = page.find_element("id", "this-month").text
            page.get(persian.url + "/customer/bita/claims/1")
            seen["receipt"] = _look(page, "receipt", folder)
            page.get(persian.url + "/customer/bita")
            Select(page.find_element("id", "claim-month")).select_by_value("1405-08")
            follow(page, "id", "submit-claim")
            seen["refused"] = _look(page, "refused", folder)
            seen["refused"]["why"] = page.find_element("id", "claim-refused").text
            page.get(persian.url + "/customer/bita/evidence/1405-08.zip")
            seen["corrected"] = _look(page, "corrected", folder)
            page.get(persian.url + "/customer/bita/claims/99")
            seen["no-claim"] = _look(page, "no-claim", folder)
            page.get(persian.url + "/no/such/page")
            seen["not-found"] = _look(page, "not-found", folder)
            page.get(persian.url + "/customer/bita?expires=1&key=k&sig=x")
            seen["bad-link"] = _look(page, "bad-link", folder)
            page.delete_all_cookies()
            page.get(persian.url + "/customer/bita")
            seen["anonymous"] = _look(page, "anonymous", folder)
        return seen

    seen = await asyncio.to_thread(visit)
    assert set(seen) == {"status", "customer", "receipt", "refused", "corrected", "no-claim",
                         "not-found", "bad-link", "anonymous"}
    for name, page in seen.items():
        assert page["scroll"] <= page["inner"] == PHONE, f"{name} is wider than a phone: {page}"
        assert (page["dir"], page["lang"], page["direction"]) == ("rtl", "fa", "rtl"), name
        assert page["sideways"] == 0, f"{name}: a table scrolls sideways"  # rows as cards
        assert (folder / f"{name}.png").stat().st_size > 5_000
    assert seen["status"]["h1"] == "وضعیت سرویس‌های میزبانی نمونه"
    # The timeline numbered in Persian digits; the 90 days' bars without markers.
    assert seen["status"]["markers"] == ["none", "persian"]
    # An uptime with unknown time reads "۱۰۰٫۰۰۰٪، ۲۳ ساعت ... نامعلوم": the percentage on
    # the right, a Persian comma, then the duration, apart. The two figures ran together
    # (a middle dot between Persian digits read "٪ ۲۳۰۱۰۰٫۰۰۰", one number).
    uptime = seen["status"]["uptime"]
    assert uptime is not None and uptime["isolated"] == 2, uptime
    assert "٪، " in uptime["text"] and uptime["text"].endswith("نامعلوم"), uptime
    assert uptime["gap"] >= 5, uptime  # the percentage right of the duration, a gap between
    assert seen["customer"]["h1"] == "شرکت بیتا نظرسنجی"
    # The ticket opened five hours ago: its diagnosis due within 48 h (D-5), in Jalali days.
    assert "فرم نظرسنجی در موبایل باز نمی‌شود" in seen["customer"]["tickets"]
    assert "۱۴۰۵/۰۹/۳۰" in seen["customer"]["tickets"]
    assert "آذر ۱۴۰۵" in seen["customer"]["month"]
    assert seen["receipt"]["h1"].startswith("درخواست اعتبار سرویس شماره‌ی ۱ برای آبان ۱۴۰۵")
    assert "قبلاً درخواست ثبت شده است" in seen["refused"]["why"]
    assert seen["not-found"]["h1"] == "پیدا نشد"
    assert seen["corrected"]["h1"] == "این ماه در حال اصلاح است"
    assert seen["anonymous"]["h1"] == "لطفاً پیوند خود را باز کنید"
