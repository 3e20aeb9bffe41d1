"""Closing a generated month freezes the same revision, byte for byte, on SQLite and
PostgreSQL (R-C3): the frozen report's and evidence's SHA-256, the inputs hash, the
second revision's list of changes and the claims it marks for review are the ones the
month close froze before it was made fast. A change to how a month is gathered, computed,
serialised or written that moves any figure fails here.

The world is fixed by a seed: 40 customers on the shared web panel, the mobile API (40 %)
and projects of their own on 4 servers; 400 incidents in March 2026 (some open at the
close, 10 % with an excluded cause), notifications on time, late and never; 12
maintenance windows with notices, some less than 48 h ahead; unknown intervals and a
daemon that did not run for part of the month (R-M3); provider-fault tickets of the web
panel and the mobile API (R-P1, R-P2); approved claims whose credit the second revision
changes (reviews, R-C3). It is written in bulk through the tables, as recorded facts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert

from monitor import actions
from monitor.config import Config, Settings
from monitor.store import Database, evidence, reports
from monitor.store.models import (
    Claim,
    DaemonSession,
    Incident,
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceWindow,
    Notification,
    Ticket,
    UnknownInterval,
)

UTC = dt.UTC
START = dt.datetime(2026, 3, 1, tzinfo=UTC)
MONTH_SECONDS = 31 * 86400
CLOSED = dt.datetime(2026, 4, 2, 9, tzinfo=UTC)
REOPENED = dt.datetime(2026, 4, 3, 9, tzinfo=UTC)
TCP = {"type": "tcp", "host": "127.0.0.1", "port": 9}
SERVERS = [f"srv-{n}" for n in range(4)]


def _settings(rng: random.Random) -> tuple[Settings, dict[str, list[str]], list[str]]:
    config: dict[str, Any] = {
        "provider": {"name": "Generated Hosting"},
        "servers": [{"id": s, "probe": TCP} for s in SERVERS],
        "services": [{"id": "panel", "kind": "web_panel", "probe": TCP},
                     {"id": "mobile", "kind": "mobile_api", "probe": TCP}],
        "customers": [],
    }
    dependents: dict[str, list[str]] = {}
    projects: list[str] = []
    for number in range(40):
        customer = f"c{number:02d}"
        server = rng.choice(SERVERS)
        own = [f"p{number:02d}-{k}" for k in range(rng.choice((1, 2)))]
        uses = list(own) + (["mobile"] if rng.random() < 0.4 else [])
        for project in own:
            config["services"].append({"id": project, "kind": "project", "server": server,
                                       "probe": TCP})
        for service in sorted({"panel", server, *uses}):
            dependents.setdefault(service, []).append(customer)
        projects += own
        config["customers"].append({
            "id": customer, "name": f"Customer {number}",
            "contacts": {"technical": {"email": f"tech@{customer}.example"}},
            "fee": {"amount": 1200 + 10 * number, "currency": "EUR"}, "services": uses,
            "sites": [{"domain": f"{customer}.example"}]})
    return Settings.from_config(Config.model_validate(config)), dependents, projects


def _at(rng: random.Random) -> dt.datetime:
    return START + dt.timedelta(seconds=rng.randrange(MONTH_SECONDS))


async def _record(db: Database, settings: Settings, dependents: dict[str, list[str]],
                  projects: list[str], rng: random.Random) -> None:
    incidents, notifications = [], []
    for number in range(1, 401):
        chance = rng.random()
        service = ("panel" if chance < 0.01 else "mobile" if chance < 0.02
                   else rng.choice(SERVERS) if chance < 0.1 else rng.choice(projects))
        start = _at(rng)
        end = start + dt.timedelta(seconds=int(rng.expovariate(1 / 3000)) + 60)
        detected = start + dt.timedelta(seconds=rng.randrange(300))
        incidents.append({
            "id": number, "service_id": service, "start": start, "start_bound": None,
            "detected_at": detected, "end": None if rng.random() < 0.02 else end,
            "end_bound": None, "source": "probe" if number % 7 else "manual",
            "cause": "provider" if rng.random() < 0.9 else rng.choice(
                ("customer_request", "customer_action", "external")),
            "note": None, "created_at": detected})
        for customer in dependents[service]:
            chance = rng.random()
            if chance < 0.95:  # within the D-2 duty
                told = detected + dt.timedelta(seconds=rng.randrange(900))
            elif chance < 0.98:  # late (R-N1)
                told = start + dt.timedelta(seconds=rng.randrange(7200, 20000))
            else:
                continue
            notifications.append({"incident_id": number, "customer_id": customer,
                                  "channel": rng.choice(("email", "phone")),
                                  "notified_at": told, "outbox_id": None, "note": None,
                                  "recorded_at": told})
    async with db.transaction() as tx:
        connection = await tx.connection()
        await connection.execute(insert(Incident), incidents)
        await connection.execute(insert(Notification), notifications)
        for number in range(1, 13):
            service = "panel" if number <= 2 else rng.choice(SERVERS)
            start = _at(rng)
            await connection.execute(insert(MaintenanceWindow), [{
                "id": number, "start": start, "end": start + dt.timedelta(hours=2),
                "reason": f"update {number}", "created_at": start - dt.timedelta(days=5),
                "cancelled_at": None}])
            await connection.execute(insert(MaintenanceService),
                                     [{"window_id": number, "service_id": service}])
            await connection.execute(insert(MaintenanceNotice), [
                {"window_id": number, "customer_id": customer,
                 "sent_at": start - dt.timedelta(hours=rng.choice((72, 72, 47))),
                 "channel": "email", "outbox_id": None}
                for customer in dependents[service]])
        # The daemon ran from the 3rd, was away for 5 hours on the 17th (R-M3), and two
        # intervals it was blind to its canaries (R-M2).
        await connection.execute(insert(DaemonSession), [
            {"started_at": START + dt.timedelta(days=2), "last_beat_at": START + dt.timedelta(
                days=16, hours=10), "stopped_at": START + dt.timedelta(days=16, hours=10),
             "hostname": "a", "pid": 1, "version": "t"},
            {"started_at": START + dt.timedelta(days=16, hours=15), "last_beat_at": CLOSED,
             "stopped_at": None, "hostname": "a", "pid": 2, "version": "t"}])
        await connection.execute(insert(UnknownInterval), [
            {"start": START + dt.timedelta(days=d, hours=3), "end": START + dt.timedelta(
                days=d, hours=4, minutes=d), "reason": "canaries_failed", "detail": None,
             "node": None, "vantage": None, "target_id": None} for d in (5, 22)])
        tickets = []
        for number in range(1, 9):
            customer = f"c{rng.randrange(40):02d}"
            opened = _at(rng) - dt.timedelta(days=3)
            diagnosed = opened + dt.timedelta(hours=rng.randrange(1, 30))
            tickets.append({
                "id": number, "customer_id": customer, "site_domain": f"{customer}.example",
                "service_id": "panel" if number % 2 else "mobile",
                "kind": "web_panel" if number % 2 else "mobile", "type_id": None,
                "title": f"ticket {number}", "channel": "email", "opened_at": opened,
                "number_sent_at": opened, "level": 2, "diagnosed_at": diagnosed,
                "provider_fault": True, "finding": None,
                "fixed_at": diagnosed + dt.timedelta(days=rng.randrange(1, 12)),
                "next_release": number == 4, "next_release_reason": None, "price": None,
                "currency": None, "price_requested": None, "price_requested_at": None,
                "status": "fixed", "closed_at": None})
        await connection.execute(insert(Ticket), tickets)
        await connection.execute(insert(Claim), [{
            "id": number, "customer_id": f"c{number:02d}", "month": "2026-03",
            "calendar": "gregorian", "site_domain": f"c{number:02d}.example", "channel": "web",
            "note": None, "submitted_by": "customer", "submitted_at": CLOSED,
            "receipt_due_at": CLOSED, "decision_due_at": CLOSED, "receipt_sent_at": CLOSED,
            "decided_at": CLOSED, "decided_by": "ops", "decision": "approved",
            "decision_reason": None, "credit_days": Decimal(number),
            "refund_amount": Decimal(0), "credited_at": CLOSED,
            "basis_days": Decimal(number), "basis_amount": Decimal(0),
            "decision_sent_at": None, "review_revision": None, "review_noted_at": None}
            for number in range(6)])


def _sha(document: object) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.slow  # about 1 s on SQLite on the shared machine: three closes and a chain check
async def test_a_generated_month_closes_to_the_same_revisions(db: Database) -> None:
    """R-C3: revision 1 of the generated month and, after a late incident of a server and an
    open incident's end were recorded, revision 2 with what it changed and the approved
    claims it marks for review; the chain holds each revision as the row says (check)."""
    rng = random.Random(20260301)
    settings, dependents, projects = _settings(rng)
    await _record(db, settings, dependents, projects, rng)
    first = await actions.close_month(db, settings, month="2026-03", now=CLOSED)
    again = await actions.close_month(db, settings, month="2026-03", now=CLOSED)
    async with db.transaction() as tx:
        connection = await tx.connection()
        late = START + dt.timedelta(days=20, hours=1)
        await connection.execute(insert(Incident), [{
            "id": 401, "service_id": "srv-1", "start": late, "start_bound": None,
            "detected_at": late, "end": late + dt.timedelta(hours=3), "end_bound": None,
            "source": "manual", "cause": "provider", "note": "phoned in",
            "created_at": REOPENED}])
        await evidence.append(tx, "incident.open", "incidents", [401], at=REOPENED)
    second = await actions.close_month(db, settings, month="2026-03", now=REOPENED)
    async with db.reading() as tx:
        one = await reports.revision_text(tx, "gregorian", "2026-03", 1)
        two = await reports.revision_text(tx, "gregorian", "2026-03", 2)
        chain = await evidence.check(tx)
        frozen = [entry async for entry in evidence.entries(tx)
                  if entry.fact_table == "report_revisions"]
        facts = await evidence.current_facts(
            tx, "report_revisions", [int(entry.fact_id or 0) for entry in frozen])
        texts = [await evidence.kept_text(tx, entry) for entry in frozen]
    assert one is not None and two is not None
    one_report, two_report = json.loads(one.report), json.loads(two.report)
    assert chain.ok, chain.broken
    # Each revision's chain entry is the canonical JSON of its row as read back, byte for
    # byte (the module's documented form; an archive's verifier hashes this text), rebuilt
    # from the row: the chain keeps its digest, not a second copy of the report.
    assert texts == [json.dumps(
        {"fact": facts[int(entry.fact_id or 0)], "id": entry.fact_id, "kind": "report.revision",
         "table": "report_revisions"}, sort_keys=True, separators=(",", ":"),
        ensure_ascii=False) for entry in frozen]
    assert [entry.canonical for entry in frozen] == [
        evidence.KEPT_IN_ROW + evidence.content_digest(text or "") for text in texts]
    assert len(frozen) == 2
    assert (first.revision, first.created, again.revision, again.created) == (1, True, 1, False)
    assert (second.revision, second.created) == (2, True)
    lines = sum(len(c["incidents"]) for c in one_report["customers"])
    assert (len(one_report["customers"]), lines) == (40, 986)
    assert first.digest == one.inputs_hash == (
        "d609825272eb47d2196b270f2ea385c6e43f216da970a0ecf15e4af43f3bc92d")
    assert second.digest == two.inputs_hash == (
        "3f578fcdb795b5707bccb52efac7566c2b49ef007c07a867cc068c8c2551b66b")
    # The evidence: the maintenance windows as before, and since revisions keep the month's
    # terms (monitor.sla.terms), the customers and policy they were closed with.
    assert one.evidence is not None and two.evidence is not None
    windows = {"maintenance": one.evidence["maintenance"]}
    assert (_sha(one_report), _sha(windows), _sha(one.evidence["terms"])) == (
        "82d55b0328a916b12b3803a6576c2bd3fbf4014ee275878c6e82ebb056b6cf4a",
        "42b95bb7921d98c43bcc1318450699c96411119ab6ab4701af0b625df55c4dee",
        "1b917b4fd84c48860437cd44edc228d6187bf4277242040400125605268575e9")
    assert (_sha(two_report), two.evidence) == (
        "ae5eea3e31a53aabbd6b6c1b3681897c8e46a936e053def2aa02d0ca92a8e5a8", one.evidence)
    assert (len(second.changes), _sha(second.changes)) == (
        80, "2ac992d9d8c51f5d29616316e04873c911517bff7e9b7d3b34e74a09cf5ffde6")
    assert [(r.claim_id, r.customer, r.days_before, r.days_now, r.amount_now)
            for r in second.reviews] == [
        (0, "c00", 0, 31, 0), (1, "c01", 1, Decimal("39.5"), 0), (2, "c02", 2, 31, 0),
        (3, "c03", 3, 15, 0), (4, "c04", 4, 30, 0), (5, "c05", 5, 32, 0)]
