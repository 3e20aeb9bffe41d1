"""Real headless Chromium for the page tests: Debian's ``chromium`` driven by its
``chromium-driver`` through selenium. Nothing is downloaded at run time (the driver is
named by path, so selenium's manager is not consulted). Each browser gets a fresh
profile in the test's temporary directory and is quit in teardown.

Where Chromium is missing the tests are skipped locally and fail in CI (``$CI`` set),
like the PostgreSQL ones; ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-extensions", "--lang=en-US")


def require_chromium() -> None:
    if CHROMIUM.exists() and DRIVER.exists():
        return
    message = "Chromium missing: apt-get install chromium chromium-driver (.ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium(profile: Path, *, javascript: bool = True, width: int = 1200,
             height: int = 1600) -> Iterator[object]:
    """A headless Chromium window of ``width`` x ``height`` CSS pixels."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def follow(driver: object, *locator: str) -> None:
    """Click the element at ``locator`` (a link, a form's button) and wait until the page
    it leads to has loaded. A click returns once the browser has taken it, not once the
    next page is there: a look right after it can meet the old page or a new one still
    empty (CI once found no ``h1`` on a page that has one).

    The old page is gone when asking about its root element fails as stale, or, as
    chromedriver sometimes answers while the old document is being torn down, "Node with
    given id does not belong to the document" (selenium's ``staleness_of`` let that one
    through: CI failed on it once)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    old = driver.find_element("tag name", "html")  # type: ignore[attr-defined]
    driver.find_element(*locator).click()  # type: ignore[attr-defined]

    def gone(_: object) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in (exc.msg or ""):
                return True
            raise
        return False

    wait = WebDriverWait(driver, 30)  # type: ignore[arg-type]
    wait.until(gone)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
