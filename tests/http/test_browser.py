"""The pages in real headless Chromium: the status page (and the same page with
JavaScript disabled), a customer page opened with a signed link, the page on a phone and
right to left. Screenshots are saved as test artefacts in the test's temporary directory
(``screenshots/``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor.store import Database, create_engine, incidents
from monitor.store.migrate import upgrade
from tests.http import world
from tests.http.browser import chromium, follow, require_chromium
from tests.http.site import Site, serve

pytestmark = pytest.mark.slow


@pytest.fixture
async def lived(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Site, world.World]]:
    """The site with the tests' history. One backend is enough here: the pages are the
    same on both (tests/http/test_*.py run both)."""
    require_chromium()
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    db = Database(engine)
    (tmp_path / "site").mkdir()
    async with serve(db, tmp_path / "site") as running:
        yield running, await world.build(db, running.settings)
    await engine.dispose()


@pytest.fixture
def site(lived: tuple[Site, world.World]) -> Site:
    return lived[0]


def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def text_of(driver: Any) -> str:
    return str(driver.find_element("tag name", "body").text)


async def test_the_status_page_in_chromium(lived: tuple[Site, world.World],
                                           tmp_path: Path) -> None:
    site, history = lived

    def look() -> dict[str, Any]:
        with chromium(tmp_path / "profile") as driver:
            driver.get(site.url + "/")  # type: ignore[attr-defined]
            driver.save_screenshot(str(shots(tmp_path) / "status.png"))  # type: ignore[attr-defined]
            return {
                "title": driver.title,  # type: ignore[attr-defined]
                "summary": driver.find_element("id", "summary").text,  # type: ignore[attr-defined]
                "bars": len(driver.find_elements("css selector", "#service-panel .bars li")),  # type: ignore[attr-defined]
                "red": len(driver.find_elements("css selector", "#service-mobile .day-down")),  # type: ignore[attr-defined]
                "color": driver.find_element("css selector", "#service-panel .state").value_of_css_property("color"),  # type: ignore[attr-defined]
                "incident": driver.find_element("id", f"incident-{history.panel_open}").text,  # type: ignore[attr-defined]
                "maintenance": driver.find_element("id", "maintenance").text,  # type: ignore[attr-defined]
                "errors": [e for e in driver.get_log("browser") if e["level"] == "SEVERE"],  # type: ignore[attr-defined]
            }

    seen = await asyncio.to_thread(look)
    assert seen["title"] == "Demo Hosting status"
    assert seen["summary"] == "Partial System Outage"  # the panel is down
    assert seen["bars"] == 90
    assert seen["red"] == 1  # the mobile API's outage three days ago
    assert seen["color"] == "rgba(198, 40, 40, 1)"  # the stylesheet loaded: Major outage red
    assert "outage began" in seen["incident"] and "detected by our monitoring" in seen["incident"]
    assert "Database upgrade of the panel" in seen["maintenance"]
    assert seen["errors"] == []  # no CSP violation, no missing resource
    assert (shots(tmp_path) / "status.png").stat().st_size > 10_000


async def test_the_status_page_needs_no_javascript(lived: tuple[Site, world.World],
                                                   tmp_path: Path) -> None:
    site, history = lived
    async with site.db.transaction() as tx:  # nothing running: the page stands still
        await incidents.close(tx, history.panel_open, end=dt.datetime.now(dt.UTC),
                              end_bound=None)
    def read(javascript: bool) -> tuple[str, bool]:
        with chromium(tmp_path / f"profile-{javascript}", javascript=javascript) as driver:
            driver.get(site.url + "/")  # type: ignore[attr-defined]
            name = "status.png" if javascript else "status-no-js.png"
            driver.save_screenshot(str(shots(tmp_path) / name))  # type: ignore[attr-defined]
            text = text_of(driver)
            # Whether this browser runs pages' scripts at all: a page that says which.
            driver.get("data:text/html,<noscript>scripts off</noscript>"  # type: ignore[attr-defined]
                       "<script>document.write('scripts on')</script>")
            return text, text_of(driver)

    with_js, on = await asyncio.to_thread(read, True)
    without_js, off = await asyncio.to_thread(read, False)
    assert (on, off) == ("scripts on", "scripts off")
    assert "Web panel" in without_js and "Scheduled maintenance" in without_js
    # The same page, word for word, but for what grows with the time it was rendered at: the
    # minute it says, and the unknown time (R-M3: once the monitor's last heartbeat is older
    # than its tolerance, the time up to now is unknown; two renders seconds apart then say
    # different seconds, as they did on a slow machine).
    def steady(text: str) -> list[str]:
        return [re.sub(r"[0-9.]+", "#", line) if " unknown" in line else line
                for line in text.splitlines() if not line.startswith("Updated ")]

    assert steady(without_js) == steady(with_js)


async def test_a_customer_page_opened_with_a_signed_link(site: Site, tmp_path: Path) -> None:
    keys = site.web.links
    assert keys is not None
    link = site.url + "/customer/acme?" + keys.link_query(
        "acme", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))

    def visit() -> dict[str, Any]:
        with chromium(tmp_path / "profile") as driver:
            driver.get(link)  # type: ignore[attr-defined]
            driver.save_screenshot(str(shots(tmp_path) / "customer.png"))  # type: ignore[attr-defined]
            seen = {
                "url": driver.current_url,  # type: ignore[attr-defined]
                "name": driver.find_element("tag name", "h1").text,  # type: ignore[attr-defined]
                "availability": driver.find_element("id", "availability").text,  # type: ignore[attr-defined]
                "services": driver.find_element("id", "services").text,  # type: ignore[attr-defined]
                "incidents": driver.find_element("id", "incidents").text,  # type: ignore[attr-defined]
            }
            driver.get(site.url + "/customer/acme")  # type: ignore[attr-defined]
            seen["again"] = driver.find_element("tag name", "h1").text  # type: ignore[attr-defined]
            driver.get(site.url + "/customer/bita")  # type: ignore[attr-defined]
            seen["other"] = driver.find_element("tag name", "h1").text  # type: ignore[attr-defined]
            return seen

    seen = await asyncio.to_thread(visit)
    assert seen["url"] == site.url + "/customer/acme"  # the signature left the address bar
    assert seen["name"] == "ACME Research"
    assert seen["availability"].endswith("%")
    assert "Web panel" in seen["services"] and "Major outage" in seen["services"]
    # The panel's outage still running (the older ones may fall in last month).
    assert "Web panel" in seen["incidents"] and "still down" in seen["incidents"]
    assert seen["again"] == "ACME Research"  # the session cookie carries it
    assert seen["other"] == "Please open your link"  # and only for ACME


async def test_on_a_phone_and_right_to_left(site: Site, tmp_path: Path) -> None:
    keys = site.web.links
    assert keys is not None
    link = site.url + "/customer/bita?" + keys.link_query(
        "bita", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))

    def visit() -> dict[str, Any]:
        with chromium(tmp_path / "profile", width=390, height=1400) as driver:
            driver.get(site.url + "/")  # type: ignore[attr-defined]
            driver.save_screenshot(str(shots(tmp_path) / "status-phone.png"))  # type: ignore[attr-defined]
            overflow = driver.execute_script(  # type: ignore[attr-defined]
                "return document.documentElement.scrollWidth > window.innerWidth")
            driver.get(link)  # type: ignore[attr-defined]
            driver.save_screenshot(str(shots(tmp_path) / "customer-rtl-phone.png"))  # type: ignore[attr-defined]
            wide = driver.execute_script(  # type: ignore[attr-defined]
                "return document.documentElement.scrollWidth > window.innerWidth")
            h1 = driver.find_element("tag name", "h1")  # type: ignore[attr-defined]
            figure = driver.find_element("id", "availability")  # type: ignore[attr-defined]
            return {"overflow": overflow or wide, "name": h1.text,
                    "direction": h1.value_of_css_property("direction"),
                    "align": h1.value_of_css_property("text-align"),
                    "figure": figure.text,
                    "figure_direction": figure.value_of_css_property("direction")}

    seen = await asyncio.to_thread(visit)
    assert seen["overflow"] is False  # nothing wider than a phone's screen
    # The Persian name is laid out right to left, the figures around it left to right.
    assert seen["name"] == "شرکت بیتا نظرسنجی"
    assert (seen["direction"], seen["align"]) == ("rtl", "start")
    assert seen["figure_direction"] == "ltr" and seen["figure"].endswith(" %")


async def test_the_claim_form_gives_a_receipt_and_refuses_a_late_claim(
    site: Site, tmp_path: Path
) -> None:
    """R-C1 in the browser: claim last month with the form (receipt), then a month whose
    deadline passed (the reason); the page works without a script."""
    from selenium.webdriver.support.ui import Select

    from tests.http.test_claims import months

    _, last, late = months()
    keys = site.web.links
    assert keys is not None
    link = site.url + "/customer/acme?" + keys.link_query(
        "acme", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))

    def claim() -> dict[str, Any]:
        with chromium(tmp_path / "profile", javascript=False) as driver:
            driver.get(link)  # type: ignore[attr-defined]
            form = Select(driver.find_element("id", "claim-month"))  # type: ignore[attr-defined]
            chosen = form.first_selected_option.get_attribute("value")
            driver.save_screenshot(str(shots(tmp_path) / "claim-form.png"))  # type: ignore[attr-defined]
            follow(driver, "id", "submit-claim")
            driver.save_screenshot(str(shots(tmp_path) / "claim-receipt.png"))  # type: ignore[attr-defined]
            seen = {
                "chosen": chosen,
                "receipt": driver.find_element("id", "receipt-title").text,  # type: ignore[attr-defined]
                "details": driver.find_element("id", "receipt").text,  # type: ignore[attr-defined]
                "url": driver.current_url,  # type: ignore[attr-defined]
            }
            driver.get(site.url + "/customer/acme")  # type: ignore[attr-defined]
            Select(driver.find_element("id", "claim-month")).select_by_value(late)  # type: ignore[attr-defined]
            follow(driver, "id", "submit-claim")
            driver.save_screenshot(str(shots(tmp_path) / "claim-refused.png"))  # type: ignore[attr-defined]
            seen["refused"] = driver.find_element("id", "claim-refused").text  # type: ignore[attr-defined]
            seen["claims"] = driver.find_element("id", "claims").text  # type: ignore[attr-defined]
            return seen

    seen = await asyncio.to_thread(claim)
    assert seen["chosen"] == last  # the form offers the month still open to claims
    assert seen["receipt"] == f"Credit claim #1 for {last}: received"
    assert "Receipt e-mail" in seen["details"] and "acme.example" in seen["details"]
    assert seen["url"] == f"{site.url}/customer/acme/claims/1"
    assert seen["refused"].startswith(f"Your claim for {late} was not accepted: too late;")
    assert last in seen["claims"] and late not in seen["claims"]
    for name in ("claim-form.png", "claim-receipt.png", "claim-refused.png"):
        assert (shots(tmp_path) / name).stat().st_size > 10_000


async def test_an_incident_page_on_a_phone_and_a_desktop(lived: tuple[Site, world.World],
                                                         tmp_path: Path) -> None:
    """Reached from the status page by its link, with JavaScript off; an operator's long
    update (a URL without spaces) wraps instead of widening the page."""
    site, history = lived
    from monitor import actions

    await actions.post_update(
        site.db, incident_id=history.panel_open, status="identified",
        message="A failed switch; replacing it. Details: https://noc.example/" + "x" * 120,
        actor="t", now=dt.datetime.now(dt.UTC))

    def visit(width: int) -> dict[str, Any]:
        with chromium(tmp_path / f"profile-{width}", javascript=False, width=width,
                      height=1200) as driver:
            driver.get(site.url + "/")  # type: ignore[attr-defined]
            follow(driver, "css selector", f"#incident-{history.panel_open} h3 a")
            driver.save_screenshot(str(shots(tmp_path) / f"incident-{width}.png"))  # type: ignore[attr-defined]
            return {
                "url": driver.current_url,  # type: ignore[attr-defined]
                "overflow": driver.execute_script(  # type: ignore[attr-defined]
                    "return document.documentElement.scrollWidth > window.innerWidth"),
                "status": driver.find_element("id", "incident-status").text,  # type: ignore[attr-defined]
                "banner": driver.find_element("id", "incident-status").value_of_css_property(  # type: ignore[attr-defined]
                    "background-color"),
                "timeline": driver.find_element("css selector", "ol.timeline").text,  # type: ignore[attr-defined]
                "errors": [e for e in driver.get_log("browser") if e["level"] == "SEVERE"],  # type: ignore[attr-defined]
            }

    for width in (390, 1280):
        seen = await asyncio.to_thread(visit, width)
        assert seen["url"] == f"{site.url}/incidents/{history.panel_open}", width
        assert seen["overflow"] is False, width
        assert seen["status"] == "Identified"
        assert seen["banner"] == "rgba(198, 40, 40, 1)"  # the stylesheet loaded
        assert "outage began" in seen["timeline"]
        assert "Identified: A failed switch; replacing it." in seen["timeline"]
        assert seen["errors"] == []
        assert (shots(tmp_path) / f"incident-{width}.png").stat().st_size > 5_000


async def test_dark_mode_follows_the_readers_setting(site: Site, tmp_path: Path) -> None:
    def look(scheme: str) -> dict[str, Any]:
        with chromium(tmp_path / f"profile-{scheme}", javascript=False) as driver:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {  # type: ignore[attr-defined]
                "features": [{"name": "prefers-color-scheme", "value": scheme}]})
            driver.get(site.url + "/")  # type: ignore[attr-defined]
            driver.save_screenshot(str(shots(tmp_path) / f"status-{scheme}.png"))  # type: ignore[attr-defined]
            html = driver.find_element("tag name", "html")  # type: ignore[attr-defined]
            card = driver.find_element("css selector", "#service-panel")  # type: ignore[attr-defined]
            return {"page": html.value_of_css_property("background-color"),
                    "ink": html.value_of_css_property("color"),
                    "card": card.value_of_css_property("background-color"),
                    "main": len(driver.find_elements("tag name", "main"))}  # type: ignore[attr-defined]

    light = await asyncio.to_thread(look, "light")
    dark = await asyncio.to_thread(look, "dark")
    assert (light["page"], light["ink"], light["card"]) == (
        "rgba(246, 247, 249, 1)", "rgba(27, 27, 27, 1)", "rgba(255, 255, 255, 1)")
    assert (dark["page"], dark["ink"], dark["card"]) == (
        "rgba(23, 24, 26, 1)", "rgba(232, 234, 237, 1)", "rgba(32, 33, 36, 1)")
    assert light["main"] == dark["main"] == 1
