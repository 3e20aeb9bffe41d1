"""A small history written through the store's own writers, one transaction per fact as
the daemon and the actions write them: every kind the evidence chain covers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from monitor.store import (
    Database,
    claims,
    history,
    incidents,
    ledger,
    maintenance,
    outbox,
    reports,
    tickets,
    unknown,
)

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


async def write_history(db: Database) -> dict[str, int]:
    """Returns the ids a test tampers with."""
    ids: dict[str, int] = {}
    async with db.transaction() as tx:
        runs = await history.insert_runs(tx, [
            {"target_id": "web", "state": "up", "first_at": T0, "last_at": T0, "count": 1,
             "latency_min_ms": 10.0, "latency_max_ms": 10.0, "latency_sum_ms": 10.0}])
    async with db.transaction() as tx:
        await history.update_runs(tx, [
            {"run_id": runs["web"], "state": "up", "first_at": T0, "last_at": T0 + MIN,
             "count": 2, "latency_min_ms": 10.0, "latency_max_ms": 12.5,
             "latency_sum_ms": 22.5}])
        new = await history.insert_runs(tx, [
            {"target_id": "web", "state": "down", "first_at": T0 + 2 * MIN,
             "last_at": T0 + 2 * MIN, "count": 1, "latency_min_ms": None,
             "latency_max_ms": None, "latency_sum_ms": 0.0}])
        await history.add_failures(tx, [
            {"target_id": "web", "at": T0 + 2 * MIN, "state": "down",
             "failure_class": "connect", "detail": "refused", "http_status": None,
             "latency_ms": None, "timings": {"connect": 1.5}},
            {"target_id": "web", "at": T0 + 3 * MIN, "state": "down",
             "failure_class": "connect", "detail": "refused again", "http_status": None,
             "latency_ms": None, "timings": None}])
        await history.chain_closed_runs(tx, [new["web"]])
        ids["run"] = runs["web"]
    async with db.transaction() as tx:
        ids["incident"] = await incidents.open_probe_incident(
            tx, service_id="web", start=T0 + 2 * MIN, start_bound=T0 + MIN,
            detected_at=T0 + 4 * MIN, created_at=T0 + 4 * MIN)
    async with db.transaction() as tx:
        await incidents.record_notifications(
            tx, ids["incident"], ["acme", "globex"], channel="phone", at=T0 + 5 * MIN,
            recorded_at=T0 + 5 * MIN, note="called")
    async with db.transaction() as tx:
        await incidents.close(tx, ids["incident"], end=T0 + 30 * MIN, end_bound=T0 + 29 * MIN)
    async with db.transaction() as tx:
        ids["manual"] = await incidents.add_manual(
            tx, service_id="web", start=T0 + 60 * MIN, end=T0 + 70 * MIN, cause="provider",
            note="seen by a customer", created_at=T0 + 80 * MIN)
        await incidents.change_cause(tx, ids["manual"], old="provider", new="customer",
                                     reason="their DNS", actor="ops", at=T0 + 90 * MIN)
        await incidents.add_update(tx, ids["manual"], status="resolved", message="fixed",
                                   actor="ops", at=T0 + 91 * MIN)
    async with db.transaction() as tx:
        window = await maintenance.add_window(
            tx, services=["web", "api"], start=T0 + dt.timedelta(days=3),
            end=T0 + dt.timedelta(days=3, hours=1), reason="upgrade", created_at=T0)
        await maintenance.add_notices(tx, window, ["acme"], sent_at=T0, channel="other")
    async with db.transaction() as tx:  # an e-mail, accepted for one of its two recipients
        await outbox.enqueue(tx, [outbox.NewMessage(
            dedupe_key="outage/1/acme", message_id="<1@sla.example>", kind="outage",
            recipients=("tech@acme.example", "boss@acme.example"), subject="Outage",
            body_text="down", body_html=None, created_at=T0 + 4 * MIN,
            next_attempt_at=T0 + 4 * MIN, customer_id="acme", incident_id=ids["incident"])])
    async with db.transaction() as tx:
        [message] = await outbox.claim(tx, now=T0 + 4 * MIN, lease=60, limit=1, owner="w1")
        assert await outbox.record_acceptance(
            tx, message.id, accepted_at=T0 + 5 * MIN, response="250 queued", error=None,
            owner="w1", recipients=message.recipients,
            refused={"boss@acme.example": (550, "no such user")})
        ids["message"] = message.id
    async with db.transaction() as tx:  # a run of the monitor: started, beating, stopped
        ids["session"] = await unknown.add_session(tx, started_at=T0, hostname="mon1",
                                                   pid=4242, version="1.0")
    async with db.transaction() as tx:
        await unknown.beat(tx, ids["session"], T0 + 50 * MIN)
    async with db.transaction() as tx:
        await unknown.beat(tx, ids["session"], T0 + 99 * MIN, stopped=True)
    async with db.transaction() as tx:  # the next run, still going (its beat moves on)
        running = await unknown.add_session(tx, started_at=T0 + 111 * MIN, hostname="mon1",
                                            pid=4343, version="1.0")
        await unknown.beat(tx, running, T0 + 112 * MIN)
    async with db.transaction() as tx:
        ids["unknown"] = await unknown.add_unknown(
            tx, start=T0 + 100 * MIN, end=None, reason="daemon_down", detail=None)
    async with db.transaction() as tx:
        await unknown.end_open_unknown(tx, T0 + 110 * MIN)
    async with db.transaction() as tx:
        ticket = await tickets.add(
            tx, customer_id="acme", site_domain="acme.example", service_id="web",
            kind="web_panel", type_id=None, title="slow panel", channel="email",
            opened_at=T0, price=None, currency=None, actor="ops")
        await tickets.change(tx, ticket, status="fixed", fixed_at=T0 + 120 * MIN)
    async with db.transaction() as tx:
        claim = await claims.add(
            tx, customer_id="acme", month="2026-03", calendar="gregorian",
            site_domain="acme.example", channel="email", note=None, submitted_by="acme",
            submitted_at=T0 + dt.timedelta(days=35),
            receipt_due_at=T0 + dt.timedelta(days=36),
            decision_due_at=T0 + dt.timedelta(days=45))
        assert claim is not None
        ids["claim"] = claim
    async with db.transaction() as tx:
        await claims.decide(
            tx, claim, decision="approved", reason=None, decided_at=T0 + dt.timedelta(days=37),
            decided_by="ops", credit_days=Decimal("1.5"), refund_amount=None,
            credited_at=T0 + dt.timedelta(days=37), basis_days=Decimal("1.5"),
            basis_amount=Decimal("125000.25"))
        ids["ledger"] = await ledger.append(
            tx, ledger.NewEntry(customer_id="acme", site_domain="acme.example", kind="days",
                                reason="credit", rule="R-C2",
                                effective_at=T0 + dt.timedelta(days=37),
                                days=Decimal("1.5"), claim_id=claim,
                                evidence={"claim": claim}),
            actor="ops", created_at=T0 + dt.timedelta(days=37))
    async with db.transaction() as tx:
        await reports.add_revision(tx, reports.RevisionRecord(
            calendar="gregorian", month="2026-03", revision=1,
            closed_at=T0 + dt.timedelta(days=32), inputs_hash="ab" * 32,
            report={"availability": "99.93", "customers": []}, evidence=None))
    return ids
