"""Signed customer links: a fresh link opens the page and leaves a session
cookie; an expired link says when it expired; a tampered one (signature, customer,
expiry, key) is not valid; the second key still verifies (rotation) until it is removed;
``sla-monitor customer link`` prints a link that works."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.actions.links import COOKIE, LinkKeys, load_link_keys
from tests.http.site import LINK_KEY, OLD_LINK_KEY, Site, config_text
from tests.support import sla_monitor_command


def link(site: Site, customer: str, expires: dt.datetime, key: str = LINK_KEY) -> str:
    keys = LinkKeys((key.encode(),))
    return f"/customer/{customer}?{keys.link_query(customer, expires)}"


def soon(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


async def test_a_link_opens_the_page_and_a_session(site: Site) -> None:
    response = await site.get(link(site, "acme", soon(days=1)))
    assert response.status == 303
    assert response.headers["Location"] == "/customer/acme"  # the signature leaves the URL
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/customer/"
    assert not cookie["secure"]  # http://127.0.0.1; https public_url makes it Secure
    assert 86000 < int(cookie["max-age"]) <= 86400
    page = await site.get("/customer/acme")  # the session cookie alone
    assert page.status == 200
    assert "ACME Research" in await page.text()
    assert page.headers["Cache-Control"] == "no-store"
    # The session is acme's only.
    assert (await site.get("/customer/bita")).status == 401


@pytest.mark.slow
async def test_last_month_shows_its_unknown_time(site: Site) -> None:
    # R-M3: time nobody monitored is shown, never folded into a bare 100 %. This site's
    # database has never had a daemon running (no session): the whole of last month is
    # unknown, its length in days (UTC, Gregorian: the site's configuration).
    now = dt.datetime.now(dt.UTC)
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first_of_last = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    expected = f"{(first_of_month - first_of_last).days} d"
    await site.get(link(site, "acme", soon(days=1)))
    page = await (await site.get("/customer/acme")).text()
    shown = page[page.index("last-unknown"):][:80]
    assert f'<dd id="last-unknown">{expected}</dd>' in page, shown
    assert "Time nobody monitored is neither up nor down: it stays" in page


async def test_an_expired_link_says_when_it_expired(site: Site) -> None:
    expired = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    response = await site.get(link(site, "acme", expired))
    assert response.status == 401
    text = await response.text()
    assert "This link has expired" in text and "2026-01-02 03:04 UTC" in text
    assert COOKIE not in response.cookies
    assert "ACME Research" not in text


async def test_a_tampered_link_is_not_valid(site: Site) -> None:
    good = link(site, "acme", soon(hours=1))
    query = parse_qs(urlsplit(good).query)
    expires, key, sig = query["expires"][0], query["key"][0], query["sig"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    tampered = [
        f"/customer/acme?expires={expires}&key={key}&sig={flipped}",  # signature
        f"/customer/bita?expires={expires}&key={key}&sig={sig}",  # another customer
        f"/customer/acme?expires={int(expires) + 86400}&key={key}&sig={sig}",  # extended
        f"/customer/acme?expires={expires}&key=00000000&sig={sig}",  # unknown key
        f"/customer/acme?expires={expires}&key={key}",  # no signature
        f"/customer/acme?expires=soon&key={key}&sig={sig}",
        link(site, "acme", soon(hours=1), key="an-attacker-key-0123456789abcdefghijklmn"),
    ]
    for path in tampered:
        response = await site.get(path)
        assert response.status == 401, path
        assert "This link is not valid" in await response.text()
        assert COOKIE not in response.cookies
    assert (await site.get(good)).status == 303  # the untouched link still works


async def test_a_tampered_or_expired_session_is_not_accepted(site: Site) -> None:
    keys = LinkKeys((LINK_KEY.encode(),))
    value = keys.session("acme", soon(hours=1))
    forged = "bita" + value[len("acme"):]
    assert (await site.session.get(site.url + "/customer/acme",
                                   cookies={COOKIE: value})).status == 200
    for path, cookie in [("/customer/bita", forged),
                         ("/customer/acme", keys.session("acme", soon(hours=-1))),
                         ("/customer/acme", "acme:1:2:3"), ("/customer/acme", "garbage")]:
        site.session.cookie_jar.clear()
        response = await site.session.get(site.url + path, cookies={COOKIE: cookie},
                                          allow_redirects=False)
        assert response.status == 401, cookie


async def test_rotation_the_old_key_verifies_until_it_is_removed(site: Site) -> None:
    old = link(site, "acme", soon(hours=2), key=OLD_LINK_KEY)
    assert (await site.get(old)).status == 303  # second line: verifies, does not sign
    new = await site.get(link(site, "acme", soon(hours=2)))
    assert new.status == 303
    (site.tmp / "link-key").write_text(LINK_KEY + "\n")  # the old line removed...
    site.web.links = load_link_keys(site.settings.http)  # ...and the daemon reloaded
    assert (await site.get(old)).status == 401
    assert (await site.get(link(site, "acme", soon(hours=2)))).status == 303


@pytest.mark.slow
async def test_the_cli_prints_a_link_that_works(site: Site) -> None:
    config = site.tmp / "config.yaml"
    config.write_text(config_text(site.tmp, extra_http=f"  public_url: {site.url}\n"))
    done = await asyncio.to_thread(
        subprocess.run, [*sla_monitor_command(), "-c", str(config), "customer", "link", "bita",
                         "--valid", "2h", "--format", "json"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["url"].startswith(f"{site.url}/customer/bita?expires=")
    expires = dt.datetime.fromisoformat(printed["expires"].replace("Z", "+00:00"))
    assert abs((expires - soon(hours=2)).total_seconds()) < 60
    opened = await site.session.get(printed["url"], allow_redirects=True)
    assert opened.status == 200
    assert "شرکت بیتا نظرسنجی" in await opened.text()


@pytest.mark.slow
async def test_the_cli_refuses_an_unknown_customer_and_a_missing_key(site: Site) -> None:
    config = site.tmp / "config.yaml"
    config.write_text(config_text(site.tmp))
    unknown = await asyncio.to_thread(
        subprocess.run, [*sla_monitor_command(), "-c", str(config), "customer", "link", "ghost"],
        capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2
    assert "ID: 'ghost' is not valid; allowed: one of the configured customers" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    (site.tmp / "link-key").write_text("")
    missing = await asyncio.to_thread(
        subprocess.run, [*sla_monitor_command(), "-c", str(config), "customer", "link", "acme"],
        capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "http.link_key_file" in missing.stderr and "Traceback" not in missing.stderr
