"""What happens in a provider's month, and every face it shows, checked as it is shown.

:class:`Event` is one thing that happens at an instant (an outage, a window announced, a
ticket, a claim, a decision, a month closed into a report revision); hypothesis draws
them (``tests/life/test_month_in_the_life.py``), :func:`apply` writes each through the
actions (or the claim form, or the daemon's own writers), and :func:`show_everything`
renders every face for every customer at one instant and checks it:

* no answer is a 5xx, each answer is what the page or route says it is (200, 303, 422...);
* every HTML document parses with an HTML5 parser in strict mode (a parse error fails),
  every Atom feed and SVG badge as XML, every JSON body against its response schema in
  the OpenAPI document served at ``/api/v1/openapi.json``, every e-mail as MIME (its HTML
  part as HTML5), every statement's CSV as CSV;
* the figures keep the contract's invariants: 0 <= availability <= 100, counted downtime
  <= the month's length, unknown time >= 0, and the tier's credit never falls as counted
  downtime grows (R-T1).
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import html5lib
import jsonschema

from monitor import actions
from monitor.errors import InputError
from monitor.notify.contract import ContractMailer
from monitor.notify.messages import build_email, to_bytes
from monitor.present.statement import statement_csv, statement_html
from monitor.sla import claim_deadline, month_containing
from monitor.store import incidents
from monitor.store.models import OutboxMessage
from tests.life.world import (
    CUSTOMERS,
    PUBLIC_SERVICES,
    TARGETS,
    TICKET_SERVICES,
    TOKENS,
    Life,
)
from tests.support import rows

ATOM = "{http://www.w3.org/2005/Atom}"
SVG = "{http://www.w3.org/2000/svg}"
CAUSES = ("provider", "customer_request", "customer_action", "external")


@dataclass(frozen=True)
class Event:
    """One thing that happens ``minute`` minutes after the simulation starts. ``kind`` says
    what; ``pick`` chooses among what exists (a target, a customer, the n-th incident,
    ticket or claim, modulo how many there are); ``minutes`` is a duration; ``flag`` a
    yes/no (provider's fault, approve, still open); ``text`` free text a person typed."""

    minute: int
    kind: str
    pick: int = 0
    minutes: int = 60
    flag: bool = False
    text: str = "it does not work"


@dataclass
class Seen:
    """What the run has seen so far: the report figures (for R-T1's monotonicity), the
    outbox rows already rendered, the open probe incidents and what was recorded."""

    tiers: list[tuple[int, int, str]] = field(default_factory=list)  # (downtime, days, who)
    outbox_done: int = 0
    probe_open: dict[str, int] = field(default_factory=dict)  # target -> incident id
    incidents: list[int] = field(default_factory=list)
    tickets: list[int] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)  # months with a report revision
    pdfs: set[str] = field(default_factory=set)  # months whose statement PDF was made
    faces: int = 0  # answers and documents checked
    # Changes that may lawfully lower a month's credit (a cause changed, a notification
    # logged), and each customer's month as last seen: (those changes, downtime, credit).
    lowering: int = 0
    months: dict[tuple[str, str], tuple[int, int, Decimal]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# --- writing history ----------------------------------------------------------------------------


async def apply(life: Life, event: Event, seen: Seen, *, send_statements: bool = False) -> None:
    """``event`` written as it happens; a refusal (InputError) is an answer, not a defect."""
    try:
        await _apply(life, event, seen, send_statements)
    except InputError:
        pass


async def _apply(life: Life, event: Event, seen: Seen, send_statements: bool) -> None:
    settings, now = life.settings, life.now()
    customer = CUSTOMERS[event.pick % len(CUSTOMERS)]
    if event.kind in ("cause", "phoned"):
        seen.lowering += 1
    if event.kind == "outage":  # reported by phone after it ended (a manual incident)
        target = TARGETS[event.pick % len(TARGETS)]
        record = await actions.add_incident(
            life.db, settings, service=target, start=now - dt.timedelta(minutes=event.minutes),
            end=now, note=event.text, actor="noc", now=now)
        seen.incidents.append(record.id)
        await life.notifier.on_incident_opened(record.id)
        await life.notifier.on_incident_closed(record.id)
    elif event.kind == "probe_down":  # the daemon's detector opens an incident
        target = TARGETS[event.pick % len(TARGETS)]
        if target in seen.probe_open:
            return
        async with life.db.transaction() as tx:
            opened = await incidents.open_probe_incident(
                tx, service_id=target, start=now - dt.timedelta(minutes=3),
                start_bound=now - dt.timedelta(minutes=4), detected_at=now, created_at=now)
        seen.probe_open[target] = opened
        seen.incidents.append(opened)
        await life.notifier.on_incident_opened(opened)
    elif event.kind == "probe_up":  # ... and closes it
        if not seen.probe_open:
            return
        target = sorted(seen.probe_open)[event.pick % len(seen.probe_open)]
        closing = seen.probe_open.pop(target)
        async with life.db.transaction() as tx:
            await incidents.close(tx, closing, end=now, end_bound=now - dt.timedelta(minutes=1))
        await life.notifier.on_incident_closed(closing)
    elif event.kind == "cause" and seen.incidents:
        await actions.change_cause(
            life.db, incident_id=seen.incidents[event.pick % len(seen.incidents)],
            cause=CAUSES[event.minutes % len(CAUSES)], reason=event.text, actor="noc", now=now)
    elif event.kind == "phoned" and seen.incidents:
        incident = await actions.get_incident(
            life.db, incident_id=seen.incidents[event.pick % len(seen.incidents)])
        at = min(now, incident.start + dt.timedelta(minutes=event.minutes))
        await actions.log_notification(life.db, settings, incident_id=incident.id, at=at,
                                       channel="phone", actor="noc", now=now)
    elif event.kind == "maintenance":
        services = [PUBLIC_SERVICES[event.pick % 2]] if not event.flag else ["srv-1"]
        start = now + dt.timedelta(hours=1 + event.minutes % 96)
        added = await actions.add_maintenance(
            life.db, settings, services=services, start=start,
            end=start + dt.timedelta(minutes=30 + event.minutes), reason=event.text,
            actor="noc", now=now)
        await life.notifier.on_maintenance_created(added.window.id)
    elif event.kind == "ticket":
        services = TICKET_SERVICES[customer]
        view = await actions.open_ticket(
            life.db, settings, customer=customer, service=services[event.minutes % len(services)],
            channel="web" if event.flag else "email", summary=event.text,
            mail=ContractMailer(settings, now), actor=f"customer:{customer}", now=now)
        seen.tickets.append(view.ticket.id)
    elif event.kind == "diagnose" and seen.tickets:
        await actions.diagnose_ticket(
            life.db, settings, ticket_id=seen.tickets[event.pick % len(seen.tickets)],
            provider_fault=event.flag, actor="noc", now=now)
    elif event.kind == "fix" and seen.tickets:
        await actions.fix_ticket(life.db, settings,
                                 ticket_id=seen.tickets[event.pick % len(seen.tickets)],
                                 actor="noc", now=now)
    elif event.kind == "claim":  # by e-mail, recorded by an operator
        month = _months_back(life, 1 + event.minutes % 2)
        view = await actions.submit_claim(
            life.db, settings, customer=customer, month=month, channel="email",
            note=event.text, mail=ContractMailer(settings, now), actor="noc", now=now)
        seen.claims.append(view.claim.id)
    elif event.kind == "claim_form":  # the customer, through its link
        await claim_through_the_form(life, seen, customer, _months_back(life, 1), event.text)
    elif event.kind == "decide" and seen.claims:
        await actions.decide_claim(
            life.db, settings, claim_id=seen.claims[event.pick % len(seen.claims)],
            decision="approved" if event.flag else "rejected",
            reason=None if event.flag else event.text,
            mail=ContractMailer(settings, now), actor="noc", now=now)
    elif event.kind == "close":  # a report revision of last month (R-C3)
        month = _months_back(life, 1)
        if send_statements:
            await actions.send_statements(life.db, settings, month=month,
                                          mail=ContractMailer(settings, now), actor="noc",
                                          now=now)
        else:
            await actions.close_month(life.db, settings, month=month, now=now)
        seen.closed.add(month)


def _months_back(life: Life, back: int) -> str:
    settings = life.settings
    period = month_containing(life.now(), settings.calendar, settings.timezone)  # type: ignore[arg-type]
    for _ in range(back):
        period = month_containing(period.start - dt.timedelta(seconds=1), settings.calendar,  # type: ignore[arg-type]
                                  settings.timezone)
    return period.label


# --- checking what is shown -----------------------------------------------------------------------


def check(seen: Seen, condition: bool, what: str) -> None:
    if not condition:
        seen.errors.append(what)
    assert condition, what


#: SHA-256 of every page already found valid: a page shown again unchanged (about half of
#: the looks: nothing happened to that customer since) is not parsed again.
_VALID: set[bytes] = set()


def parse_html(seen: Seen, text: str, what: str) -> None:
    """``text`` parsed by an HTML5 parser in strict mode (any parse error fails)."""
    digest = hashlib.sha256(text.encode()).digest()
    if digest not in _VALID:
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(text)
        except html5lib.html5parser.ParseError as exc:
            check(seen, False, f"{what}: not valid HTML5: {exc}")
        _VALID.add(digest)
    seen.faces += 1


def parse_xml(seen: Seen, body: bytes, root: str, what: str) -> ET.Element:
    try:
        element = ET.fromstring(body)
    except ET.ParseError as exc:
        check(seen, False, f"{what}: not XML: {exc}")
    check(seen, element.tag == root, f"{what}: root {element.tag}, not {root}")
    seen.faces += 1
    return element


class Schemas:
    """Response schemas of the OpenAPI document the server serves, for JSON bodies."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def validate(self, seen: Seen, path: str, status: int, body: Any, what: str) -> None:
        answers = self.document["paths"][path]["get"]["responses"]
        content = answers[str(status)].get("content", {}).get("application/json")
        check(seen, content is not None, f"{what}: no JSON schema for {status}")
        schema = {**content["schema"], "components": self.document.get("components", {})}
        try:
            jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as exc:
            check(seen, False, f"{what}: breaks the OpenAPI document: {exc.message} at "
                               f"{list(exc.absolute_path)}")
        seen.faces += 1


async def fetch(life: Life, seen: Seen, method: str, path: str, expect: int | tuple[int, ...],
                *, who: str | None = None, browser: str | None = None,
                **kwargs: Any) -> tuple[int, bytes, Mapping[str, str]]:
    session = life.browsers[browser] if browser is not None else life.session
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
    headers.update(kwargs.pop("headers", {}))
    async with session.request(method, life.url + path, headers=headers,
                               allow_redirects=False, **kwargs) as response:
        body = await response.read()
        status = response.status
        found = response.headers.copy()  # case-insensitive
    what = f"{method} {path} at {life.now().isoformat()}"
    check(seen, status < 500, f"{what}: {status} {body[:300]!r}")
    wanted = (expect,) if isinstance(expect, int) else expect
    check(seen, status in wanted, f"{what}: {status}, not {wanted}: {body[:500]!r}")
    return status, body, found


def invariants(seen: Seen, report: dict[str, Any], who: str, month: str) -> None:
    """The contract's figures hold for one customer's month (SPEC section 7's JSON)."""
    credit = Decimal(str(report["credit_days_total"]))
    key = (report["customer"], month)
    if key in seen.months and report["ineligible_reason"] is None:
        # Credit never falls when counted downtime grows, unless a cause was changed or
        # a notification logged since the last look (R-T1, R-N1).
        lowering, downtime, before = seen.months[key]
        if lowering == seen.lowering and report["downtime_seconds"] >= downtime:
            check(seen, credit >= before, f"{who}: credit fell from {before} to {credit} "
                                          f"while downtime went {downtime} -> "
                                          f"{report['downtime_seconds']} s")
    seen.months[key] = (seen.lowering, report["downtime_seconds"], credit)
    availability = report["availability_percent"]
    period = report["period_seconds"]
    check(seen, 0 <= availability <= 100, f"{who}: availability {availability}")
    check(seen, 0 <= report["downtime_seconds"] <= period,
          f"{who}: counted {report['downtime_seconds']} s of a {period} s month")
    check(seen, report["unknown_seconds"] >= 0, f"{who}: unknown {report['unknown_seconds']}")
    check(seen, report["excluded_seconds"] >= 0, f"{who}: excluded {report['excluded_seconds']}")
    check(seen, Decimal(str(report["credit_days_total"])) >= report["tier_credit_days"] >= 0,
          f"{who}: credit {report['credit_days_total']} below the tier's "
          f"{report['tier_credit_days']}")
    if report["ineligible_reason"] is None:
        seen.tiers.append((report["downtime_seconds"], report["tier_credit_days"], who))
        # R-T1: more counted downtime never earns less of the tier's credit.
        for downtime, days, other in seen.tiers:
            if downtime <= report["downtime_seconds"]:
                check(seen, days <= report["tier_credit_days"],
                      f"{who}: {report['downtime_seconds']} s earns {report['tier_credit_days']}"
                      f" days, {other}: {downtime} s earned {days}")


async def open_link(life: Life, seen: Seen, customer: str) -> str:
    """The customer opens its signed link (valid a day); its page's CSRF token."""
    expires = life.now() + dt.timedelta(days=1)
    path = f"/customer/{customer}?{life.links.link_query(customer, expires)}"
    _, _, headers = await fetch(life, seen, "GET", path, 303, browser=customer)
    check(seen, headers.get("Location") == f"/customer/{customer}", f"{path}: {headers}")
    _, body, _ = await fetch(life, seen, "GET", f"/customer/{customer}", 200, browser=customer)
    page = body.decode()
    parse_html(seen, page, f"{customer}'s page by link")
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    check(seen, found is not None, f"{customer}'s page by link has no claim form")
    assert found is not None
    return found[1]


async def claim_through_the_form(life: Life, seen: Seen, customer: str, month: str,
                                 note: str) -> None:
    """A claim through the form: a receipt (303, then the receipt and its way back to the
    page) or the page again saying why not (422)."""
    csrf = await open_link(life, seen, customer)
    status, body, headers = await fetch(
        life, seen, "POST", f"/customer/{customer}/claims", (303, 422), browser=customer,
        data={"month": month, "csrf": csrf, "note": note})
    if status == 422:
        text = body.decode()
        parse_html(seen, text, f"{customer}'s claim refused")
        check(seen, f"Your claim for {month} was not accepted" in text, text[:2000])
        return
    seen.claims.append(int(headers["Location"].rsplit("/", 1)[1]))
    _, receipt, _ = await fetch(life, seen, "GET", headers["Location"], 200, browser=customer)
    parse_html(seen, receipt.decode(), f"{customer}'s receipt")
    back = re.search(r'<a href="([^"]+)">Back to your page</a>', receipt.decode())
    check(seen, back is not None, "the receipt has no way back")
    assert back is not None
    _, page, _ = await fetch(life, seen, "GET", back[1], 200, browser=customer)
    parse_html(seen, page.decode(), f"{customer}'s page after its claim")


async def show_public(life: Life, seen: Seen, schemas: Schemas) -> None:
    _, body, _ = await fetch(life, seen, "GET", "/", 200)
    parse_html(seen, body.decode(), "the status page")
    _, body, headers = await fetch(life, seen, "GET", "/feed.atom", 200)
    feed = parse_xml(seen, body, f"{ATOM}feed", "the feed")
    await fetch(life, seen, "GET", "/feed.atom", 304, headers={"If-None-Match": headers["ETag"]})
    for entry in feed.iter(f"{ATOM}entry"):
        check(seen, entry.find(f"{ATOM}id") is not None and entry.find(f"{ATOM}updated")
              is not None, "a feed entry without id or updated")
        # Every entry links a page that shows it (an incident's page, the page's anchor).
        link = entry.find(f"{ATOM}link")
        href = urlsplit(link.get("href") or "") if link is not None else None
        check(seen, href is not None, "a feed entry without a link")
        if href is not None:
            _, page, _ = await fetch(life, seen, "GET", href.path, 200)
            parse_html(seen, page.decode(), f"the page of feed entry {href.geturl()}")
            shown = href.fragment or f"incident-{href.path.rsplit('/', 1)[-1]}"
            check(seen, f'id="{shown}"' in page.decode(), f"{href.geturl()} shows no {shown}")
    for path in ("/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json",
                 "/api/v2/scheduled-maintenances.json"):
        _, body, _ = await fetch(life, seen, "GET", path, 200)
        schemas.validate(seen, path, 200, json.loads(body), path)
    for service in PUBLIC_SERVICES:
        for badge in ("status", "availability"):
            path = f"/badge/{service}/{badge}.svg"
            _, body, _ = await fetch(life, seen, "GET", path, 200)
            parse_xml(seen, body, f"{SVG}svg", path)


async def show_customer(life: Life, seen: Seen, schemas: Schemas, customer: str) -> None:
    # By its token: the page (no form) and its JSON.
    _, body, _ = await fetch(life, seen, "GET", f"/customer/{customer}", 200, who=customer)
    parse_html(seen, body.decode(), f"{customer}'s page by token")
    _, body, _ = await fetch(life, seen, "GET", f"/api/v1/customers/{customer}", 200,
                             who=customer)
    overview = json.loads(body)
    schemas.validate(seen, "/api/v1/customers/{customer}", 200, overview,
                     f"{customer}'s overview")
    for standing in (overview["month"], overview["previous"]):
        invariants(seen, standing["report"], f"{customer} {standing['month']} at "
                                              f"{life.now().isoformat()}", standing["month"])
    # By its link: the page with the form, each of the form's refusals, each receipt.
    csrf = await open_link(life, seen, customer)
    base = f"/customer/{customer}/claims"
    refusals = {}  # one month of each state the form refuses (R-C1): each refusal once
    for option in overview["claim_months"]:
        refusals.setdefault(option["state"], option)
    refusals.pop("open", None)  # claiming is an event, not a look
    for option in refusals.values():
        _, body, _ = await fetch(life, seen, "POST", base, 422, browser=customer,
                                 data={"month": option["month"], "csrf": csrf})
        text = body.decode()
        parse_html(seen, text, f"{customer}'s claim for a {option['state']} month refused")
        check(seen, f"Your claim for {option['month']} was not accepted" in text,
              f"{customer}: no refusal for {option}")
    for month in ("2026-13", ""):
        _, body, _ = await fetch(life, seen, "POST", base, 422, browser=customer,
                                 data={"month": month, "csrf": csrf})
        parse_html(seen, body.decode(), f"{customer}'s claim for {month!r} refused")
    for data, status in (({"month": "2026-01", "csrf": "forged"}, 403),
                         ({"month": "2026-01"}, 403)):
        _, body, _ = await fetch(life, seen, "POST", base, status, browser=customer, data=data)
        parse_html(seen, body.decode(), f"{customer}'s forged form")
    _, body, _ = await fetch(life, seen, "POST", base, 415, browser=customer,
                             json={"month": "2026-01", "csrf": csrf})
    parse_html(seen, body.decode(), f"{customer}'s claim as JSON")
    _, body, _ = await fetch(life, seen, "POST", base, 401, data={"month": "2026-01"})
    parse_html(seen, body.decode(), "a claim without a session")
    other = next(c for c in CUSTOMERS if c != customer)
    for view in overview["claims"]:
        path = f"{base}/{view['claim']['id']}"
        _, body, _ = await fetch(life, seen, "GET", path, 200, browser=customer)
        parse_html(seen, body.decode(), f"{customer}'s receipt")
        _, body, _ = await fetch(life, seen, "GET", path.replace(f"/{customer}/", f"/{other}/"),
                                 (401, 404), browser=customer)
        parse_html(seen, body.decode(), f"{customer}'s receipt under {other}'s address")
    # A link that expired a second ago, and one whose signature was changed.
    expired = life.links.link_query(customer, life.now() - dt.timedelta(seconds=1))
    tampered = life.links.link_query(customer, life.now() + dt.timedelta(days=1))
    head, _, sig = tampered.partition("sig=")
    tampered = f"{head}sig={'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    for query, words in ((expired, "This link has expired"), (tampered, "This link is not valid")):
        _, body, _ = await fetch(life, seen, "GET", f"/customer/{customer}?{query}", 401)
        text = body.decode()
        parse_html(seen, text, f"{customer}'s bad link")
        check(seen, words in text, f"{customer}'s bad link: {text[:500]}")


async def show_mail(life: Life, seen: Seen) -> None:
    """Every e-mail queued since the last look, as the outbox worker would send it."""
    settings = life.settings
    for row in await rows(life.db, OutboxMessage, OutboxMessage.id > seen.outbox_done):
        message = build_email(
            sender=settings.sender, sender_name=settings.provider.name,
            recipients=row.recipients, subject=row.subject, text=row.body_text,
            html=row.body_html, message_id=row.message_id, date=row.created_at,
            kind=row.kind, in_reply_to=row.in_reply_to)
        parsed = email.message_from_bytes(to_bytes(message), policy=email.policy.default)
        what = f"e-mail {row.id} ({row.kind})"
        check(seen, parsed["Subject"] and "\n" not in str(parsed["Subject"]), what)
        text = parsed.get_body(preferencelist=("plain",))
        check(seen, text is not None and text.get_content().strip() != "", f"{what}: no text")
        if row.body_html is not None:
            html = parsed.get_body(preferencelist=("html",))
            check(seen, html is not None, f"{what}: no HTML part")
            assert html is not None
            parse_html(seen, html.get_content(), what)
        seen.outbox_done = row.id
        seen.faces += 1


async def show_statements(life: Life, seen: Seen, *, pdf_once: bool) -> None:
    """Each closed month's statement of each customer, in HTML and CSV (and its PDF once
    per month with ``pdf_once``)."""
    settings = life.settings
    for month in sorted(seen.closed):
        for customer in CUSTOMERS:
            shown = await actions.statement(life.db, settings, month=month, customer=customer,
                                            now=life.now())
            parse_html(seen, statement_html(shown), f"{customer}'s statement of {month}")
            table = list(csv.reader(io.StringIO(statement_csv(shown))))
            check(seen, len(table) > 3 and all(len(r) == len(table[0]) for r in table),
                  f"{customer}'s statement CSV of {month}: {table[:5]}")
            seen.faces += 1
            if pdf_once and month not in seen.pdfs:
                files = await actions.statement_files(shown)
                check(seen, files.pdf.startswith(b"%PDF-"), f"{month}: no PDF")
                seen.pdfs.add(month)


async def show_everything(life: Life, seen: Seen, schemas: Schemas, *, pdf: bool) -> None:
    await life.heartbeat()
    await show_public(life, seen, schemas)
    for customer in CUSTOMERS:
        await show_customer(life, seen, schemas, customer)
    await show_mail(life, seen)
    await show_statements(life, seen, pdf_once=pdf)


def moments(life: Life, start: dt.datetime, days: int, render_hour: int) -> list[dt.datetime]:
    """When to look: every day at ``render_hour`` local time, a second after each month
    boundary, and at the claim deadline of each month ending in the span (the last instant
    a claim is in time, R-C1) and a second after it."""
    settings = life.settings
    end = start + dt.timedelta(days=days)
    found: set[dt.datetime] = set()
    zone = ZoneInfo(settings.timezone)
    local = start.astimezone(zone).replace(hour=render_hour, minute=0, second=0, microsecond=0)
    for day in range(days + 1):
        at = (local.replace(tzinfo=None) + dt.timedelta(days=day)).replace(tzinfo=zone)
        found.add(at.astimezone(dt.UTC))
    period = month_containing(start, settings.calendar, settings.timezone)  # type: ignore[arg-type]
    while period.start < end:
        for at in (period.start + dt.timedelta(seconds=1),
                   claim_deadline(month_containing(period.start - dt.timedelta(seconds=1),
                                                   settings.calendar, settings.timezone),  # type: ignore[arg-type]
                                  settings.policy)):
            found |= {at, at + dt.timedelta(seconds=1)}
        period = month_containing(period.end, settings.calendar, settings.timezone)  # type: ignore[arg-type]
    return sorted(at for at in found if start < at <= end)
