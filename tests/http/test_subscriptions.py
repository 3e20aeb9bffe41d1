"""The status page's subscriptions end to end, through the real aiohttp application and a
real SMTP server (:class:`monitor.testing.smtp.SMTPSink`): the form on ``/``, the
confirmation e-mail and its signed link (double opt-in), a notice of an incident with
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058), the one-click unsubscribe,
and then nothing more; expired, forged and replaced links refused; junk addresses and
floods refused (422, 429 with ``Retry-After``) with nothing stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.actions.links import load_link_keys
from monitor.cli import main
from monitor.clock import SystemClock
from monitor.config import Settings, parse_config
from monitor.http import Web
from monitor.http.auth import load_tokens
from monitor.notify import Notifier
from monitor.store import Database, create_engine, incidents
from monitor.store.migrate import upgrade
from monitor.store.models import AuditEvent, OutboxMessage, Subscriber
from monitor.testing.smtp import ReceivedMessage, SMTPSink
from tests.http.browser import chromium, follow, require_chromium
from tests.http.site import Site, StoppedClock, config_text, serve, served, write_secrets
from tests.http.test_incident_updates import _config
from tests.support import row_counts, rows

ADDRESS = "reader@example.org"


@dataclass
class Stage:
    site: Site
    sink: SMTPSink
    notifier: Notifier
    clock: StoppedClock

    async def send(self) -> list[ReceivedMessage]:
        """Send what is queued; the messages the sink received meanwhile."""
        before = len(self.sink.messages)
        await self.notifier.run_once()
        return self.sink.messages[before:]

    async def subscribe(self, email: str = ADDRESS, services: tuple[str, ...] = ("panel",),
                        **headers: str) -> Any:
        """The form sent, and its answer: the page its redirect (303) leads to, as a
        browser follows it; a refusal as it came."""
        form = [("email", email), *(("services", s) for s in services)]
        posted = await self.site.post("/subscriptions", data=form, headers=headers)
        if posted.status != 303:
            return posted
        location = posted.headers["Location"]
        assert location.startswith("/subscriptions/requested?"), location
        return await self.site.get(location)

    async def button(self, message: ReceivedMessage) -> dict[str, str]:
        """The fields of the button that ``message``'s confirmation link opens."""
        opened = await self.site.get(_link(message, "/subscriptions/confirm"))
        return _hidden(await opened.text())

    async def confirm(self, message: ReceivedMessage) -> Any:
        """Open ``message``'s confirmation link and press its button: the answer."""
        return await self.site.post("/subscriptions/confirm", data=await self.button(message))


@asynccontextmanager
async def staged(db: Database, tmp_path: Path, status_page: str = "",
                 language: str = "en") -> AsyncIterator[Stage]:
    clock = StoppedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    async with SMTPSink() as sink:
        smtp = (f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, "
                f"sender: status@provider.example, timeout: 5}}\n{status_page}")
        async with serve(db, tmp_path, clock=clock, extra_http=smtp,
                         language=language) as site:
            notifier = Notifier(site.settings, db, clock, CollectorRegistry())
            try:
                yield Stage(site, sink, notifier, clock)
            finally:
                await notifier.stop()


def _link(message: ReceivedMessage, path: str) -> str:
    """The path and query of the link to ``path`` in the message's text."""
    body = message.parsed().get_body(("plain",))
    assert body is not None
    [found] = re.findall(r"https?://\S+" + re.escape(path) + r"\?\S+", body.get_content())
    parts = urlsplit(found)
    return f"{parts.path}?{parts.query}"


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


async def _confirmed(db: Database) -> list[Subscriber]:
    return [s for s in await rows(db, Subscriber) if s.confirmed_at is not None]


async def _open(stage: Stage, service: str = "panel") -> int:
    now = stage.clock.now()
    async with stage.site.db.transaction() as tx:
        incident_id = await incidents.open_probe_incident(
            tx, service_id=service, start=now - dt.timedelta(minutes=3), start_bound=None,
            detected_at=now - dt.timedelta(minutes=2), created_at=now)
    await stage.notifier.on_incident_opened(incident_id)
    return incident_id


@pytest.mark.slow
async def test_subscribe_confirm_notice_and_one_click_unsubscribe(
        db: Database, tmp_path: Path) -> None:
    async with staged(db, tmp_path) as stage:
        site = stage.site
        page = await (await site.get("/")).text()
        assert '<form class="card subscribe" method="post" action="/subscriptions">' in page
        assert 'name="services" value="panel"' in page and 'name="email"' in page

        answer = await stage.subscribe("  Reader@Example.ORG ", ("panel",))
        assert answer.status == 200, await answer.text()
        assert "Check your e-mail" in await answer.text()
        assert await _confirmed(db) == []  # double opt-in: nothing yet
        [confirmation] = await stage.send()
        assert confirmation.rcpt_tos == (ADDRESS,)
        assert "List-Unsubscribe" not in confirmation.parsed()
        link = _link(confirmation, "/subscriptions/confirm")

        # Opening the link (a mail scanner does) confirms nothing: a page with a button.
        opened = await site.get(link)
        assert opened.status == 200
        assert await _confirmed(db) == []
        fields = _hidden(await opened.text())
        assert set(fields) == {"token", "expires", "key", "sig"}
        done = await site.post("/subscriptions/confirm", data=fields)
        assert done.status == 200 and "You are subscribed" in await done.text()
        [subscriber] = await _confirmed(db)
        assert (subscriber.email, subscriber.services) == (ADDRESS, ["panel"])

        # An incident of a service not chosen sends nothing; one of panel, one notice.
        await _open(stage, "mobile")
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []
        incident_id = await _open(stage, "panel")
        [notice] = [m for m in await stage.send() if ADDRESS in m.rcpt_tos]
        parsed = notice.parsed()
        assert "Web panel is unavailable" in parsed["Subject"]
        unsubscribe = parsed["List-Unsubscribe"]
        assert re.fullmatch(r"<https?://\S+/subscriptions/unsubscribe\?token=\w+&key=\w+"
                            r"&sig=[\w-]+>", unsubscribe), unsubscribe
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"/incidents/{incident_id}" in parsed.get_body(("plain",)).get_content()

        # Nothing twice: the sweep again, and the daemon's duty check, queue nothing new.
        await stage.notifier.queue_subscriber_notices()
        await stage.notifier.queue_new_windows()
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []

        # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the address.
        parts = urlsplit(unsubscribe.strip("<>"))
        clicked = await site.post(f"{parts.path}?{parts.query}",
                                  data={"List-Unsubscribe": "One-Click"})
        assert clicked.status == 200 and "You are unsubscribed" in await clicked.text()
        assert await row_counts(db, (Subscriber,)) == {"Subscriber": 0}
        again = await site.post(f"{parts.path}?{parts.query}",
                                data={"List-Unsubscribe": "One-Click"})
        assert again.status == 200  # a second click: still unsubscribed

        # The incident ends and another opens: nothing to the address any more.
        async with db.transaction() as tx:
            await incidents.close(tx, incident_id, end=stage.clock.now(), end_bound=None)
        await stage.notifier.on_incident_closed(incident_id)
        await _open(stage, "panel")
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []


async def test_the_forms_answer_is_a_page_of_its_own_that_a_reload_does_not_resend(
        db: Database, tmp_path: Path) -> None:
    """Post/Redirect/Get: the form answered "Check your e-mail" to the POST itself, so that
    reloading the page (or going back to it) asked the browser to send the form again, and
    a second confirmation e-mail went out. Now the POST answers 303 to a page of its own,
    named by a receipt signed for that page only."""
    async with staged(db, tmp_path) as stage:
        site = stage.site
        posted = await site.post("/subscriptions", data=[("email", ADDRESS),
                                                         ("services", "panel")])
        assert posted.status == 303
        location = posted.headers["Location"]
        assert location.startswith("/subscriptions/requested?")
        assert ADDRESS not in location  # no address in the URL (logs, history)
        for _ in range(3):  # reloaded
            page = await site.get(location)
            assert page.status == 200
            text = await page.text()
            assert "Check your e-mail" in text and ADDRESS in text
            expires = stage.clock.now() + dt.timedelta(hours=48)
            assert "The link works until" in text and str(expires.year) in text
        assert len(await stage.send()) == 1  # one confirmation, not one per reload
        assert await _confirmed(db) == []

        # The receipt confirms nothing (its signature is for its page only), and a receipt
        # altered or forged is refused.
        query = dict(parse_qsl(urlsplit(location).query))
        assert (await site.post("/subscriptions/confirm", data=query)).status == 400
        assert await _confirmed(db) == []
        forged = {**query, "sig": "A" * len(query["sig"])}
        assert (await site.get("/subscriptions/requested?" + urlencode(forged))).status == 400
        assert (await site.get("/subscriptions/requested")).status == 400
        # Once its confirmation link expired, so has the receipt.
        stage.clock.at += dt.timedelta(hours=49)
        assert (await site.get(location)).status == 410


async def test_the_confirmation_pressed_again_says_subscribed_not_invalid(
        db: Database, tmp_path: Path) -> None:
    # A reader who presses "Confirm" twice (or opens the e-mail's link again the next
    # day) was told "This link is not valid" (400) though the subscription stood.
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe()).status == 200
        [confirmation] = await stage.send()
        fields = await stage.button(confirmation)
        assert (await site.post("/subscriptions/confirm", data=fields)).status == 200
        [subscriber] = await _confirmed(db)
        confirmed_at = subscriber.confirmed_at

        stage.clock.at += dt.timedelta(hours=20)
        again = await site.post("/subscriptions/confirm", data=fields)
        assert again.status == 200
        assert "You are subscribed" in await again.text()
        [unchanged] = await _confirmed(db)
        assert (unchanged.services, unchanged.confirmed_at) == (["panel"], confirmed_at)
        assert await stage.send() == []

        # A newer request voids this link again (its services are not the ones asked).
        assert (await stage.subscribe(services=("panel", "mobile"))).status == 200
        replaced = await site.post("/subscriptions/confirm", data=fields)
        assert replaced.status == 400


async def test_every_subscription_page_and_a_missing_page_lead_back_to_the_status_page(
        db: Database, tmp_path: Path) -> None:
    # "Check your e-mail", "You are subscribed", "You are unsubscribed", a refusal and
    # "Not found" were dead ends: no link anywhere on them, not even to the status page.
    back = '<a href="/"><bdi>Demo Hosting</bdi> status</a>'
    async with staged(db, tmp_path) as stage:
        site = stage.site
        asked = await stage.subscribe()
        pages = [await asked.text(),
                 await (await stage.subscribe("not an address")).text(),
                 await (await site.get("/no/such/page")).text(),
                 await (await site.get("/incidents/999999")).text(),
                 await (await site.get("/subscriptions/confirm")).text()]
        [confirmation] = await stage.send()
        opened = await site.get(_link(confirmation, "/subscriptions/confirm"))
        pages.append(await opened.text())
        done = await site.post("/subscriptions/confirm", data=_hidden(pages[-1]))
        pages.append(await done.text())
        incident_id = await _open(stage)
        [notice] = [m for m in await stage.send() if ADDRESS in m.rcpt_tos]
        unsubscribe = _link(notice, "/subscriptions/unsubscribe")
        pages.append(await (await site.get(unsubscribe)).text())
        pages.append(await (await site.post(unsubscribe, data={
            "List-Unsubscribe": "One-Click"})).text())
        pages.append(await (await site.get(f"/incidents/{incident_id}")).text())
        for page in pages:
            title = re.search(r"<title>(.*)</title>", page)
            assert back in page, title


async def test_a_status_page_without_public_services_offers_no_subscription_form(
        db: Database, tmp_path: Path) -> None:
    # A provider whose page shows only its hosted projects offered the form with no
    # service to tick: "Subscribe" could only answer "Please choose a service".
    write_secrets(tmp_path)
    text = config_text(tmp_path, language="fa")
    for line in ('  - {id: panel, kind: web_panel, name: "Web panel", ',
                 '  - {id: mobile, kind: mobile_api, name: "Mobile app API", '):
        text = "\n".join(kept for kept in text.split("\n") if not kept.startswith(line))
    text = text.replace("services: [acme-shop, mobile]", "services: [acme-shop]")
    settings = Settings.from_config(parse_config(text))
    assert not [s for s in settings.topology.services.values() if s.kind != "project"]
    context = Web(db, settings, SystemClock(),
                  load_tokens(settings.http, frozenset(settings.topology.customers)),
                  load_link_keys(settings.http))
    async with served(context, targets=3), aiohttp.ClientSession() as session:
        async with session.get(context.bound_url + "/") as response:
            page = await response.text()
            assert response.status == 200
        assert 'action="/subscriptions"' not in page and 'id="subscribe"' not in page
        async with session.post(context.bound_url + "/subscriptions",
                                data={"email": ADDRESS}) as response:
            assert response.status == 404
    assert await row_counts(db, (Subscriber,)) == {"Subscriber": 0}


async def test_one_click_unsubscribe_posted_as_multipart_form_data_unsubscribes(
        db: Database, tmp_path: Path) -> None:
    # RFC 8058 3.1: a mail client's one-click POST "SHOULD be sent as multipart/form-data"
    # (and MAY be urlencoded). That was refused 415 "Not a form" and the reader stayed
    # subscribed, while the mail client said it had unsubscribed them.
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe()).status == 200
        [confirmation] = await stage.send()
        assert (await stage.confirm(confirmation)).status == 200
        await _open(stage)
        [notice] = [m for m in await stage.send() if ADDRESS in m.rcpt_tos]
        parts = urlsplit(notice.parsed()["List-Unsubscribe"].strip("<>"))
        body = (b'--b0undary\r\nContent-Disposition: form-data; name="List-Unsubscribe"'
                b"\r\n\r\nOne-Click\r\n--b0undary--\r\n")
        clicked = await site.post(f"{parts.path}?{parts.query}", data=body, headers={
            "Content-Type": "multipart/form-data; boundary=b0undary"})
        assert clicked.status == 200, await clicked.text()
        assert "You are unsubscribed" in await clicked.text()
        assert await row_counts(db, (Subscriber,)) == {"Subscriber": 0}


async def test_a_persian_confirmation_lists_the_services_with_the_persian_comma(
        db: Database, tmp_path: Path) -> None:
    # "You are subscribed" joined the services with an English comma in a Persian
    # sentence ("Web panel, Mobile app API"); Persian writes "،".
    async with staged(db, tmp_path, language="fa") as stage:
        assert (await stage.subscribe(services=("panel", "mobile"))).status == 200
        [confirmation] = await stage.send()
        done = await stage.confirm(confirmation)
        assert done.status == 200
        page = await done.text()
        assert "Web panel، Mobile app API" in page and "Web panel, " not in page


@pytest.mark.parametrize("language", ["en", "fa"])
async def test_the_confirmation_and_every_notice_link_their_addresses_in_html(
        db: Database, tmp_path: Path, language: str) -> None:
    # The confirmation link, the incident's page and the one-click unsubscribe address
    # were plain text inside a sentence in the HTML part: nothing to click (and, in a
    # Persian paragraph, an address laid out right to left). Each is a link, written
    # left to right, as the customers' e-mails write theirs.
    async with staged(db, tmp_path, language=language) as stage:
        assert (await stage.subscribe()).status == 200
        [confirmation] = await stage.send()
        link = _link(confirmation, "/subscriptions/confirm")
        _linked(confirmation, [link])
        assert (await stage.confirm(confirmation)).status == 200
        incident_id = await _open(stage, "panel")
        [notice] = [m for m in await stage.send() if ADDRESS in m.rcpt_tos]
        _linked(notice, [f"/incidents/{incident_id}",
                         _link(notice, "/subscriptions/unsubscribe")])


def _linked(message: ReceivedMessage, paths: list[str]) -> None:
    """Each of ``paths`` (with its query) is, in the HTML part, a link written left to
    right whose text is its address, and, in the text part, on a line of its own."""
    parsed = message.parsed()
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    lines = text.get_content().replace("\r\n", "\n").splitlines()
    for path in paths:
        [url] = [u for u in re.findall(r"https?://\S+", "\n".join(lines))
                 if urlsplit(u).path + ("?" + urlsplit(u).query if urlsplit(u).query
                                        else "") == path]
        assert url in lines, url
        escaped = url.replace("&", "&amp;")
        assert f'<a href="{escaped}" dir="ltr">{escaped}</a>' in html.get_content(), url


@pytest.mark.slow
async def test_forged_expired_and_replaced_links_are_refused(
        db: Database, tmp_path: Path) -> None:
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe()).status == 200
        [first] = await stage.send()
        fields = await stage.button(first)

        for name, value in (("sig", fields["sig"][:-2] + ("AA" if fields["sig"][-2:] != "AA"
                                                          else "BB")),
                            ("token", "0" * 32 + "." + "0" * 16),
                            ("expires", str(int(fields["expires"]) + 86400)),
                            ("key", "00000000")):
            forged = await site.post("/subscriptions/confirm", data={**fields, name: value})
            assert forged.status == 400, name
            assert "This link is not valid" in await forged.text()
        assert await _confirmed(db) == []

        # A second request makes the first link void; its own link works.
        assert (await stage.subscribe(services=("panel", "mobile"))).status == 200
        [second] = await stage.send()
        replaced = await site.post("/subscriptions/confirm", data=fields)
        assert replaced.status == 400 and await _confirmed(db) == []

        # Past status_page.confirm_within (48 h) the link has expired.
        newer = await stage.button(second)
        stage.clock.at += dt.timedelta(hours=48, seconds=1)
        expired = await site.post("/subscriptions/confirm", data=newer)
        assert expired.status == 410 and "This link has expired" in await expired.text()
        assert await _confirmed(db) == []
        assert await row_counts(db, (Subscriber,)) == {"Subscriber": 1}

        # A forged unsubscribe link removes nobody.
        stage.clock.at -= dt.timedelta(hours=1)
        assert (await site.post("/subscriptions/confirm", data=newer)).status == 200
        [subscriber] = await _confirmed(db)
        assert sorted(subscriber.services) == ["mobile", "panel"]
        forged = await site.post(f"/subscriptions/unsubscribe?token={subscriber.token}"
                                 "&key=00000000&sig=AAAA",
                                 data={"List-Unsubscribe": "One-Click"})
        assert forged.status == 400
        assert len(await _confirmed(db)) == 1


async def test_a_link_that_cannot_work_says_so_when_opened_not_after_the_button(
        db: Database, tmp_path: Path) -> None:
    # Opening an altered, cut or expired link showed "Press the button to ..." with a
    # button that could only fail; the reader learnt it on pressing. The link is checked
    # when opened (nothing written: a scanner may open it), as it is when pressed.
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe()).status == 200
        [confirmation] = await stage.send()
        link = _link(confirmation, "/subscriptions/confirm")
        altered = link[:-2] + ("AA" if link[-2:] != "AA" else "BB")
        for path in (altered, link.split("&sig=")[0], "/subscriptions/confirm",
                     "/subscriptions/unsubscribe", "/subscriptions/unsubscribe?token="
                     + "0" * 32 + "&key=00000000&sig=AAAA"):
            opened = await site.get(path)
            assert opened.status == 400, path
            page = await opened.text()
            assert "This link is not valid" in page and "<button" not in page, path
        stage.clock.at += dt.timedelta(hours=48, seconds=1)
        expired = await site.get(link)
        assert expired.status == 410
        page = await expired.text()
        assert "This link has expired" in page and "<button" not in page
        assert await _confirmed(db) == []


async def test_junk_is_refused_and_floods_are_limited(db: Database, tmp_path: Path) -> None:
    limits = "status_page: {subscribe_per_address: 2, subscribe_per_client: 4}\n"
    async with staged(db, tmp_path, limits) as stage:
        tables = (Subscriber, OutboxMessage)
        before = await row_counts(db, tables)
        for junk in ("", "nobody", "a@b", "a b@example.org", "x@exa_mple.org", "x@@example.org",
                     "<script>@example.org", "a@example.org\r\nBcc: v@evil.example",
                     "x" * 65 + "@example.org"):
            refused = await stage.subscribe(junk)
            assert refused.status == 422, junk
            text = await refused.text()
            assert "This e-mail address is not valid" in text and "<script>@" not in text
        for services in ((), ("acme-shop",), ("nope",)):
            refused = await stage.subscribe(services=services)
            assert refused.status == 422 and "Please choose a service" in await refused.text()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in (b"email=reader%E9%40example.org&services=panel",
                     b"email=reader\xe9@example.org&services=panel"):
            refused = await stage.site.post("/subscriptions", data=body, headers=form)
            assert refused.status == 422, body  # not read as U+FFFD, a character never typed
            assert "not text in UTF-8" in await refused.text()
        assert await row_counts(db, tables) == before  # nothing stored, nothing queued

        # Per address: two requests in the period, then 429 with Retry-After.
        assert (await stage.subscribe()).status == 200
        assert (await stage.subscribe("READER@example.org")).status == 200
        limited = await stage.subscribe()
        assert limited.status == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 3600
        # Per client: four requests in all from this address, whatever the address typed.
        assert (await stage.subscribe("other@example.org")).status == 200
        assert (await stage.subscribe("third@example.org")).status == 200
        flood = await stage.subscribe("fourth@example.org")
        assert flood.status == 429 and "Retry-After" in flood.headers
        assert await row_counts(db, (Subscriber,)) == {"Subscriber": 3}
        assert len(await stage.send()) == 4  # one confirmation per accepted request


async def test_maintenance_and_operators_updates_reach_subscribers(
        db: Database, tmp_path: Path) -> None:
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe(services=("mobile",))).status == 200
        [mail] = await stage.send()
        assert (await stage.confirm(mail)).status == 200
        now = stage.clock.now()
        added = await actions.add_maintenance(
            db, site.settings, services=["mobile"], start=now + dt.timedelta(days=3),
            end=now + dt.timedelta(days=3, hours=1), reason="New database server",
            actor="t", now=now)
        stage.clock.at += dt.timedelta(seconds=1)
        await actions.post_maintenance_update(
            db, window_id=added.window.id, status="in_progress", message="Copying the data",
            actor="t", now=stage.clock.now())
        incident_id = await _open(stage, "mobile")
        await actions.post_update(db, incident_id=incident_id, status="identified",
                                  message="A failed switch", actor="t", now=stage.clock.now())
        await stage.notifier.queue_new_windows()  # the daemon's duty check
        sent = [m.parsed() for m in await stage.send() if ADDRESS in m.rcpt_tos]
        subjects = sorted(str(m["Subject"]) for m in sent)
        assert len(sent) == 4, subjects
        assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in sent)
        texts = "\n".join(m.get_body(("plain",)).get_content() for m in sent)
        assert "New database server" in texts and "Copying the data" in texts
        assert "A failed switch" in texts and "in progress" in texts
        await stage.notifier.queue_new_windows()
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []


async def test_a_window_called_off_is_said_to_the_subscribers_told_of_it(
        db: Database, tmp_path: Path) -> None:
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe(services=("mobile",))).status == 200
        [mail] = await stage.send()
        assert (await stage.confirm(mail)).status == 200
        now = stage.clock.now()

        def window(days: int) -> Any:
            return actions.add_maintenance(
                db, site.settings, services=["mobile"], start=now + dt.timedelta(days=days),
                end=now + dt.timedelta(days=days, hours=1), reason="New database server",
                actor="t", now=now)

        told, untold = await window(3), await window(4)
        await stage.notifier.queue_new_windows()  # the daemon's duty check
        assert len([m for m in await stage.send() if ADDRESS in m.rcpt_tos]) == 2
        [notice] = [m for m in await rows(db, OutboxMessage)
                    if m.kind == "sub_maintenance" and m.window_id == told.window.id]
        # One window is cancelled after its notice went; the other's notice is queued again
        # as the sweep finds it, then cancelled before it is sent: withdrawn, never sent.
        await actions.cancel_maintenance(db, window_id=told.window.id, actor="t",
                                         now=stage.clock.now())
        await stage.notifier.queue_new_windows()
        sent = [m.parsed() for m in await stage.send() if ADDRESS in m.rcpt_tos]
        [cancelled] = sent
        assert str(cancelled["Subject"]).endswith(" cancelled")
        assert notice.message_id.strip("<>") in cancelled["In-Reply-To"]
        assert cancelled["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "will not take place" in cancelled.get_body(("plain",)).get_content()
        await stage.notifier.queue_new_windows()  # once
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []
        assert untold.window.cancelled_at is None


async def test_a_subscribers_notice_still_waiting_is_withdrawn_with_its_window(
        db: Database, tmp_path: Path) -> None:
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe(services=("mobile",))).status == 200
        [mail] = await stage.send()
        assert (await stage.confirm(mail)).status == 200
        now = stage.clock.now()
        added = await actions.add_maintenance(
            db, site.settings, services=["mobile"], start=now + dt.timedelta(days=3),
            end=now + dt.timedelta(days=3, hours=1), reason="New database server",
            actor="t", now=now)
        await stage.notifier.queue_subscriber_notices()  # queued, not yet sent
        cancelled = await actions.cancel_maintenance(db, window_id=added.window.id,
                                                     actor="t", now=stage.clock.now())
        assert cancelled.withdrawn == 1
        await stage.notifier.queue_new_windows()
        assert [m for m in await stage.send() if ADDRESS in m.rcpt_tos] == []


async def test_an_update_of_several_lines_keeps_its_lines_in_the_notice(
        db: Database, tmp_path: Path) -> None:
    # The page shows an update as typed, line by line; the subscriber's e-mail ran the
    # lines into one paragraph ("Done: 1. data copied 2. DNS switched ...").
    async with staged(db, tmp_path) as stage:
        assert (await stage.subscribe()).status == 200
        [mail] = await stage.send()
        assert (await stage.confirm(mail)).status == 200
        incident_id = await _open(stage)
        stage.clock.at += dt.timedelta(seconds=1)
        await actions.post_update(
            db, incident_id=incident_id, status="monitoring", actor="t",
            message="Done:\r\n1. data copied\n2. DNS switched\n\nWatching the error rate.",
            now=stage.clock.now())
        await stage.notifier.queue_subscriber_notices()
        sent = [m.parsed() for m in await stage.send() if ADDRESS in m.rcpt_tos]
        [update] = [m for m in sent if "monitoring" in str(m["Subject"])]
        text = update.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "Done:\n1. data copied\n2. DNS switched\n\nWatching the error rate." in text
        html = update.get_body(("html",)).get_content()
        assert "Done:<br>1. data copied<br>2. DNS switched</p>" in html
        assert '<p dir="auto">Watching the error rate.</p>' in html


async def test_a_request_never_confirmed_is_forgotten_once_its_link_has_expired(
        db: Database, tmp_path: Path) -> None:
    # An address typed into the form (by anyone) and never confirmed was kept for good,
    # listed by "subscriber list" years later: double opt-in keeps only what was confirmed.
    async with staged(db, tmp_path) as stage:
        site = stage.site
        assert (await stage.subscribe("kept@example.org")).status == 200
        assert (await stage.subscribe("never@example.org")).status == 200
        confirmation = next(m for m in await stage.send() if "kept@example.org" in m.rcpt_tos)
        assert (await stage.confirm(confirmation)).status == 200
        stage.clock.at += dt.timedelta(hours=2)
        # The confirmed subscriber asks for more; it never confirms that either.
        assert (await stage.subscribe("kept@example.org", ("panel", "mobile"))).status == 200

        stage.clock.at += dt.timedelta(hours=46)  # both links still work
        assert await actions.forget_expired_requests(db, site.settings,
                                                     now=stage.clock.now()) == 0
        assert await row_counts(db, (Subscriber,)) == {"Subscriber": 2}

        stage.clock.at += dt.timedelta(hours=1, seconds=1)  # the first has expired
        assert await actions.forget_expired_requests(db, site.settings,
                                                     now=stage.clock.now()) == 1
        [kept] = await rows(db, Subscriber)
        assert (kept.email, kept.services, kept.requested) == ("kept@example.org",
                                                               ["panel"], ["panel", "mobile"])
        stage.clock.at += dt.timedelta(hours=1)  # and the second request
        assert await actions.forget_expired_requests(db, site.settings,
                                                     now=stage.clock.now()) == 0
        [kept] = await rows(db, Subscriber)
        assert (kept.services, kept.requested, kept.confirmed_at is None) == (
            ["panel"], None, False)


@pytest.mark.slow
async def test_the_form_in_chromium_without_javascript_on_a_phone(
        sqlite_url: str, tmp_path: Path) -> None:
    """One backend is enough for the browser (the others run both)."""
    require_chromium()
    (tmp_path / "site").mkdir()
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    db = Database(engine)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        stage = await stack.enter_async_context(staged(db, tmp_path / "site"))
        site = stage.site

        def use() -> dict[str, Any]:
            with chromium(tmp_path / "profile", javascript=False, width=390,
                          height=844) as driver:
                driver.get(site.url + "/")  # type: ignore[attr-defined]
                overflow = driver.execute_script(  # type: ignore[attr-defined]
                    "return document.documentElement.scrollWidth > window.innerWidth")
                driver.find_element("id", "subscribe-email").send_keys(ADDRESS)  # type: ignore[attr-defined]
                box = driver.find_element(  # type: ignore[attr-defined]
                    "css selector", 'input[name="services"][value="mobile"]')
                box.click()  # only the web panel
                follow(driver, "css selector", "#subscribe button")
                answered = driver.find_element("tag name", "h1").text  # type: ignore[attr-defined]
                after = driver.execute_script(  # type: ignore[attr-defined]
                    "return document.documentElement.scrollWidth > window.innerWidth")
                return {"overflow": overflow or after, "answered": answered}

        seen = await asyncio.to_thread(use)
        assert seen == {"overflow": False, "answered": "Check your e-mail"}
        [subscriber] = await rows(db, Subscriber)
        assert (subscriber.email, subscriber.requested) == (ADDRESS, ["panel"])


async def test_operators_list_and_remove_subscribers(
        db: Database, tmp_path: Path, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    async with staged(db, tmp_path) as stage:
        assert (await stage.subscribe()).status == 200
        assert (await stage.subscribe("second@example.org", ("mobile",))).status == 200
        config = tmp_path / "cli.yaml"
        config.write_text(_config(db_url))

        def run(*args: str) -> tuple[int, str, str]:
            try:
                code = main(["-c", str(config), "subscriber", *args])
            except SystemExit as usage:
                code = int(usage.code or 0)
            out, err = capsys.readouterr()
            return code, out, err

        code, out, err = await asyncio.to_thread(run, "list", "--format", "json")
        assert code == 0, err
        listed = json.loads(out)
        assert all("token" not in s and "nonce" not in s for s in listed)
        assert [(s["email"], s["requested"], s["confirmed_at"]) for s in listed] == [
            (ADDRESS, ["panel"], None), ("second@example.org", ["mobile"], None)]
        before = await row_counts(db, (Subscriber, AuditEvent))
        for junk, named in (("nobody", "EMAIL: 'nobody' is not valid"),
                            ("absent@example.org", "'absent@example.org' is not valid")):
            code, out, err = await asyncio.to_thread(run, "remove", junk)
            assert code == 2 and out == "" and named in err and "Traceback" not in err, err
        assert await row_counts(db, (Subscriber, AuditEvent)) == before
        code, out, err = await asyncio.to_thread(run, "remove", "Second@Example.org")
        assert code == 0 and "second@example.org" in out, err
        assert await row_counts(db, (Subscriber, AuditEvent)) == {
            "Subscriber": before["Subscriber"] - 1, "AuditEvent": before["AuditEvent"] + 1}
