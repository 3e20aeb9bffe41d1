"""A Persian reader's statement of a Jalali provider in Tehran (SPEC section 7, "Language")
in real headless Chromium on a phone (390 CSS pixels wide): right to left, in Persian,
nothing wider than the screen (``scrollWidth <= innerWidth``), every table row a card.
The screenshot is saved in the test's temporary directory (``statement-fa.png``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.present.statement import statement_html
from monitor.store import Database
from tests.actions.statements_world import BITA, NOW, record_october, yaml
from tests.http.browser import chromium, require_chromium

pytestmark = pytest.mark.slow
PHONE = 390


def jalali_settings() -> Settings:
    """The statements' world, kept by a Jalali provider in Tehran whose customers read
    Persian (Bita, with a Persian name, too)."""
    text = yaml().replace("timezone: UTC, calendar: gregorian,",
                          "timezone: Asia/Tehran, calendar: jalali, language: fa,")
    assert "language: fa" in text and BITA in text
    return Settings.from_config(parse_config(text))


async def test_a_persian_statement_fits_a_phone(db: Database, tmp_path: Path) -> None:
    require_chromium()
    settings = jalali_settings()
    await record_october(db, settings)
    # Mehr 1405 (2026-09-23 to 2026-10-23 in Tehran) holds October's incidents.
    await actions.close_month(db, settings, month="1405-07", now=NOW)
    statement = await actions.statement(db, settings, month="1405-07", customer="acme",
                                        now=NOW)
    page = tmp_path / "statement.html"
    page.write_text(statement_html(statement), encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    # Short Jalali dates in tables, the zone once in the header, the Gregorian equivalent
    # only on the period line.
    assert "(میلادی: ۲۰۲۶/۰۹/۲۳ تا ۲۰۲۶/۱۰/۲۳)" in html
    assert html.count("وقت ایران") == 1 and "Asia/Tehran" not in html
    assert "۱۴۰۵/۰۷/۲۸ ۱۱:۳۰:۰۰" in html  # incident 3: 2026-10-20 08:00 UTC

    def look() -> dict[str, Any]:
        with chromium(tmp_path / "profile", javascript=True, width=PHONE,
                      height=2400) as driver:
            browser: Any = driver
            # Chromium's window is at least 500 px wide: a phone's viewport is emulated.
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": PHONE, "height": 2400, "deviceScaleFactor": 1, "mobile": True})
            browser.get(page.as_uri())
            browser.save_screenshot(str(tmp_path / "statement-fa.png"))
            return browser.execute_script(  # type: ignore[no-any-return]
                "const root = document.documentElement;"
                "return {scroll: root.scrollWidth, inner: window.innerWidth,"
                " dir: root.getAttribute('dir'), lang: root.getAttribute('lang'),"
                " direction: getComputedStyle(document.body).direction,"
                " wide: [...document.querySelectorAll('body *')]"
                "   .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5"
                "     || e.getBoundingClientRect().left < -0.5).map(e => e.tagName),"
                " cards: getComputedStyle(document.querySelector('table.cards tr'))"
                "   .display,"
                " h1: document.querySelector('h1').innerText};")

    seen = await asyncio.to_thread(look)
    assert (seen["dir"], seen["lang"], seen["direction"]) == ("rtl", "fa", "rtl")
    assert seen["inner"] == PHONE and seen["scroll"] <= seen["inner"], seen
    assert seen["wide"] == [], seen
    assert seen["cards"] == "block"  # a row is a card on a phone
    assert seen["h1"] == "گزارش تعهد سطح خدمات مهر ۱۴۰۵"
    assert (tmp_path / "statement-fa.png").stat().st_size > 10_000
