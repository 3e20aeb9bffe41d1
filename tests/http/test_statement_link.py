"""Issue 14's "how to claim" through issue 11's pages: a statement (HTML, PDF, CSV and its
e-mail) gives the signed link to the customer's claim form, made by the one link maker
(:func:`monitor.actions.links.claim_form_link`, as ``customer link`` prints), valid until
the month's claim deadline (R-C1); followed on the live server, it opens the customer's
page at the form, and the form takes the claim."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.notify.contract import ContractMailer
from monitor.store import Database
from monitor.store.models import Claim, OutboxMessage
from tests.http.site import config_text, serve
from tests.support import closable_month, rows

# Plain http: an https address makes the session cookie Secure, which this test's client
# would then not send back over the plain http of 127.0.0.1.
PUBLIC = "http://status.example"


def pdf(tool: list[str], document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "statement.pdf"
    path.write_bytes(document)
    return subprocess.run([*tool, str(path), *(["-"] if tool[0] == "pdftotext" else [])],
                          check=True, capture_output=True, text=True, timeout=60).stdout


async def _closed_with_a_credit(db: Database, settings: Settings, now: dt.datetime) -> str:
    """Last month (the month before in a month's first 2 h: :func:`closable_month`), closed
    with a 3 h outage of ACME's project: R-T1's first tier (1.5 h <= 3 h < 8 h) below the
    target (R-T0), 7 days, and R-N1's day (no notification recorded within 2 h): 8 days, so
    its statement asks for a claim. Returns the month."""
    last = closable_month(settings.policy, now)
    start = settings.month(last).start + dt.timedelta(days=2)
    await actions.add_incident(db, settings, service="acme-shop", start=start,
                               end=start + dt.timedelta(hours=3), actor="test", now=now)
    await actions.close_month(db, settings, month=last, now=now)
    return last


@pytest.mark.slow
async def test_a_statement_links_to_the_claim_form(db: Database, tmp_path: Path) -> None:
    async with serve(db, tmp_path, extra_http=f"  public_url: {PUBLIC}") as site:
        settings = site.settings
        now = dt.datetime.now(dt.UTC)
        last = await _closed_with_a_credit(db, settings, now)
        view = await actions.statement(db, settings, month=last, customer="acme", now=now)
        assert (view.tier, view.tier_credit_days, view.credit_days_total) == ("1w", 7, 8)

        # R-C1 with this configuration's 40 days: last month's deadline is more than the
        # link lifetime (7 days) away, so the link lasts until the deadline.
        assert view.claim_deadline - now > dt.timedelta(days=7)
        assert view.claim_link is not None and view.claim_link_expires == view.claim_deadline
        link = urlsplit(view.claim_link)
        assert (f"{link.scheme}://{link.netloc}", link.path, link.fragment) == (
            PUBLIC, "/customer/acme", "claim")
        query = parse_qs(link.query)
        assert int(query["expires"][0]) == int(view.claim_deadline.timestamp())
        assert view.how_to_claim[0].startswith(
            f"Use the claim form on your page: {view.claim_link} ")
        assert view.how_to_claim[1].startswith("Or reply to the e-mail")

        # The same link in every form of the statement.
        files = await actions.statement_files(view)
        # Its outage was recorded by the operators (incident add), not found by a probe:
        # the note on the times says both.
        assert "the first failed probe, or the start our staff recorded" in files.html
        assert f'href="{escape(view.claim_link)}"' in files.html
        cells = {r["field"]: r["value"] for r in csv.DictReader(io.StringIO(files.csv))
                 if r["section"] == "summary"}
        assert cells["claim_link"] == view.claim_link
        assert cells["claim_link_expires"] == view.claim_deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
        printed = pdf(["pdftotext", "-raw"], files.pdf, tmp_path)
        assert "Use the claim form on your page" in printed
        assert view.claim_link in "".join(printed.split())  # shown whole, wrapped as it fits
        # ... and a link a PDF reader opens (poppler lists the link annotations' URIs).
        assert view.claim_link in pdf(["pdfinfo", "-url"], files.pdf, tmp_path).split()
        sent = await actions.send_statements(db, settings, month=last, customer="acme",
                                             mail=ContractMailer(settings, now), actor="test",
                                             now=now)
        assert [item.status for item in sent.items] == ["queued"]
        (message,) = [m for m in await rows(db, OutboxMessage) if m.kind == "statement"]
        assert f"  - Use the claim form on your page: {view.claim_link} " in message.body_text
        assert message.body_html is not None and escape(view.claim_link) in message.body_html

        # Followed on the live server (the public address is the proxy's; the daemon here
        # answers on 127.0.0.1): the page opens, its form takes the claim.
        opened = await site.get(f"{link.path}?{link.query}")
        assert opened.status == 303 and opened.headers["Location"] == "/customer/acme"
        page = await (await site.get("/customer/acme")).text()
        assert '<section id="claim">' in page
        assert re.search(rf'<option value="{last}"', page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        made = await site.post("/customer/acme/claims", data={"month": last, "csrf": csrf[1]})
        assert made.status == 303
        receipt = await (await site.get(made.headers["Location"])).text()
        assert f"Credit claim #1 for {last}: received" in receipt
        assert [(c.customer_id, c.month, c.channel) for c in await rows(db, Claim)] == [
            ("acme", last, "web")]

        # Once claimed, a statement says so instead of how to claim; a tampered link opens
        # nothing.
        again = await actions.statement(db, settings, month=last, customer="acme", now=now)
        assert again.claim is not None and "#1" in again.claim
        forged = view.claim_link.replace("customer/acme", "customer/bita").split("#")[0]
        bad = urlsplit(forged)
        assert (await site.get(f"{bad.path}?{bad.query}")).status == 401


@pytest.mark.slow
async def test_without_a_link_key_a_statement_says_to_reply(db: Database, tmp_path: Path) -> None:
    text = config_text(tmp_path).replace(f"  link_key_file: {tmp_path / 'link-key'}\n", "")
    plain = Settings.from_config(parse_config(text))
    now = dt.datetime.now(dt.UTC)
    last = closable_month(plain.policy, now)
    await actions.close_month(db, plain, month=last, now=now)
    view = await actions.statement(db, plain, month=last, customer="acme", now=now)
    assert view.claim_link is None and view.claim_link_expires is None
    assert view.how_to_claim[0].startswith("Reply to the e-mail that brought this statement")
    assert "customer/acme" not in (await actions.statement_files(view)).html


@pytest.mark.slow
async def test_a_statement_shown_after_the_claim_deadline_invites_no_claim(
        db: Database, tmp_path: Path) -> None:
    # Seen by a customer: a statement shown after its month's claim deadline said "This
    # credit is granted when you claim it" with a link valid a week more, to a form that
    # then refused the claim as late (R-C1).
    async with serve(db, tmp_path, extra_http=f"  public_url: {PUBLIC}") as site:
        settings = site.settings
        now = dt.datetime.now(dt.UTC)
        last = await _closed_with_a_credit(db, settings, now)
        before = await actions.statement(db, settings, month=last, customer="acme", now=now)
        deadline = before.claim_deadline
        # The deadline itself is in time ("that instant included"); a second later is not.
        at = await actions.statement(db, settings, month=last, customer="acme", now=deadline)
        assert at.claim_link is not None and at.how_to_claim
        # On the claim form's boundary (whole seconds, monitor.sla.in_time): half a second
        # after it is still the deadline's second, and the form would take the claim.
        half = await actions.statement(db, settings, month=last, customer="acme",
                                       now=deadline + dt.timedelta(seconds=0.5))
        assert half.claim_link is not None and not half.claims_closed
        late = await actions.statement(db, settings, month=last, customer="acme",
                                       now=deadline + dt.timedelta(seconds=1))
        assert late.credit_days_total == 8  # the figures are the revision's, unchanged
        assert late.claim_link is None and late.how_to_claim == ()
        files = await actions.statement_files(late)
        printed = pdf(["pdftotext", "-raw"], files.pdf, tmp_path)
        for text in (files.html, " ".join(printed.split())):
            assert "granted when you claim it" not in text and "claim form" not in text
            assert "The claim deadline has passed" in text, text[-3000:]
            assert "are accepted until then" not in text  # not said of a deadline passed
        # The e-mail's text part too (it ended on "...by the deadline above:" and nothing).
        late_now = deadline + dt.timedelta(seconds=1)
        sent = await actions.send_statements(db, settings, month=last, customer="acme",
                                             mail=ContractMailer(settings, late_now),
                                             actor="test", now=late_now)
        assert [item.status for item in sent.items] == ["queued"]
        (message,) = [m for m in await rows(db, OutboxMessage) if m.kind == "statement"]
        assert "granted when you claim it" not in message.body_text
        assert "The claim deadline has passed" in message.body_text, message.body_text
