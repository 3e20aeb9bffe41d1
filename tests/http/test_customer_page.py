"""The customer page in ordinary use, on a fixed clock: it answers 200 for a customer with
a ticket (the ticket's title in its row), through the signed link when no month is open
for a claim (from the claim deadline to the month's end, R-C1 with the default 14 days;
right after a customer claimed its only open month), and the receipt's "back to your
page" leads to a page that renders."""

from __future__ import annotations

import datetime as dt
import re

from monitor.actions.links import LinkKeys
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.store.models import Claim
from tests.http.site import LINK_KEY, Site, config_text
from tests.support import rows


def at(site: Site, when: dt.datetime) -> FakeClock:
    clock = FakeClock(when)
    site.web.clock = clock
    return clock


def with_claim_deadline(site: Site, deadline: str) -> None:
    """The site's settings with another R-C1 claim deadline (the site's own is 40 days)."""
    text = config_text(site.tmp).replace("claim_deadline: 40d", f"claim_deadline: {deadline}")
    assert f"claim_deadline: {deadline}" in text
    site.web.settings = Settings.from_config(parse_config(text))


async def open_link(site: Site, customer: str) -> str:
    """Opens ``customer``'s signed link (valid a day from the site's clock); the page's
    CSRF token."""
    expires = site.web.clock.now() + dt.timedelta(days=1)
    query = LinkKeys((LINK_KEY.encode(),)).link_query(customer, expires)
    opened = await site.get(f"/customer/{customer}?{query}")
    assert opened.status == 303
    page = await site.get(f"/customer/{customer}")
    text = await page.text()
    assert page.status == 200, text[:2000]
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found is not None
    return found[1]


async def test_a_customer_with_a_ticket_sees_its_page(site: Site) -> None:
    at(site, dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    opened = await site.post("/api/v1/customers/acme/tickets", "acme", json={
        "service": "acme-shop", "summary": "The export <button> does nothing"})
    assert opened.status == 201, await opened.text()
    ticket = (await opened.json())["ticket"]["id"]
    page = await site.get("/customer/acme", "acme")
    text = await page.text()
    assert page.status == 200, text[:2000]
    row = text[text.index(f'id="ticket-{ticket}"'):]
    assert "The export &lt;button&gt; does nothing" in row.split("</tr>")[0]
    await open_link(site, "acme")  # the claim form's page too


async def test_the_link_opens_the_page_when_no_month_is_open_for_a_claim(site: Site) -> None:
    # R-C1, 14 days: on the 20th, last month's claims closed on the 14th.
    with_claim_deadline(site, "14d")
    at(site, dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC))
    await open_link(site, "acme")
    text = await (await site.get("/customer/acme")).text()
    form = text[text.index('<select id="claim-month"'):].split("</select>")[0]
    assert " selected" not in form
    assert "2026-02: too late: claims were accepted until" in form
    assert "No month is open for a claim now" in text


async def test_the_page_after_claiming_the_only_open_month(site: Site) -> None:
    # R-C1, 40 days: on 25 March, February is open and January is late.
    at(site, dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC))
    csrf = await open_link(site, "acme")
    made = await site.post("/customer/acme/claims", data={"month": "2026-02", "csrf": csrf})
    assert made.status == 303, await made.text()
    receipt = await site.get(made.headers["Location"])
    text = await receipt.text()
    assert receipt.status == 200
    back = re.search(r'<a href="([^"]+)">Back to your page</a>', text)
    assert back is not None and back[1] == "/customer/acme"
    page = await site.get(back[1])
    shown = await page.text()
    assert page.status == 200, shown[:2000]
    assert "2026-02: already claimed" in shown
    # A second claim for it is refused on the same page, which renders.
    again = await site.post("/customer/acme/claims", data={"month": "2026-02", "csrf": csrf})
    assert again.status == 422
    assert "this month is already claimed" in await again.text()
    assert len(await rows(site.db, Claim)) == 1


async def test_last_month_once_closed_is_shown_as_closed_whatever_the_fee_is_now(
        site: Site) -> None:
    # February 2026 (28 days): the panel down 2 h, never notified: acme counts 7,200 s >=
    # 1 h 30 min, tier 1w, 7 days (R-T1), and 1 day for the missing notification (R-N1):
    # 8 days worth 8 x 3,650 / 365 = 80.00 EUR (R-T2).
    at(site, dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    added = await site.post("/api/v1/incidents", "write", json={
        "service": "panel", "start": "2026-02-10T10:00Z", "end": "2026-02-10T12:00Z"})
    assert added.status == 201, await added.text()
    closed = await site.post("/api/v1/reports/2026-02/close", "write")
    assert closed.status == 200 and (await closed.json())["revision"] == 1
    # March: the fee doubles. February was sold at 3,650 a year and stays so (R-C3).
    text = config_text(site.tmp).replace("fee: {amount: 3650, currency: EUR}\n    services: "
                                         "[acme-shop", "fee: {amount: 7300, currency: EUR}\n"
                                         "    services: [acme-shop")
    assert "amount: 7300" in text
    site.web.settings = Settings.from_config(parse_config(text))
    at(site, dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    page = await site.get("/customer/acme", "acme")
    shown = await page.text()
    assert page.status == 200, shown[:2000]
    assert "80.00" in shown and "160.00" not in shown, shown


async def test_a_customer_who_joined_after_last_month_is_offered_nothing_of_it(
        site: Site) -> None:
    # February was closed before bita (Persian) was a customer: it joined in March.
    at(site, dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    text = config_text(site.tmp, customer_languages={"bita": "fa"})
    without = text[:text.index("  - id: bita\n")] + text[text.index("  - id: evil\n"):]
    site.web.settings = Settings.from_config(parse_config(without))
    closed = await site.post("/api/v1/reports/2026-02/close", "write")
    assert closed.status == 200, await closed.text()
    site.web.settings = Settings.from_config(parse_config(text))
    at(site, dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    csrf = await open_link(site, "bita")
    shown = await (await site.get("/customer/bita")).text()
    last = shown[shown.index('id="last-month"'):].split("</section>")[0]
    assert "مشتری ما نبودید: بابت آن ماه چیزی برای درخواست به شما تعلق نمی‌گیرد" in last, last
    assert 'id="last-credit"' not in last  # no figures that are not its own
    form = shown[shown.index('<select id="claim-month"'):].split("</select>")[0]
    february = form[form.index('<option value="2026-02"'):].split("</option>")[0]
    assert "در آن ماه مشتری ما نبودید" in february and " selected" not in february, form
    # A claim for it all the same is refused in its words, and nothing is recorded.
    made = await site.post("/customer/bita/claims", data={"month": "2026-02", "csrf": csrf})
    refused = await made.text()
    assert made.status == 422 and "مشتری ما نبودید" in refused, refused[:3000]
    assert await rows(site.db, Claim) == []
