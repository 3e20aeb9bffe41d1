"""Who may call what, through the real aiohttp server: no token, an operator's
read and write tokens, customer A on its own and on customer B's data, a revoked token.
Every refusal says which it is and nothing else, and changes nothing."""

from __future__ import annotations

import logging

import pytest

from monitor.store.models import AuditEvent, Incident
from tests.http.site import TOKENS, Site
from tests.support import rows

INCIDENT = {"service": "panel", "start": "2026-03-01T10:00Z", "end": "2026-03-01T11:00Z"}


async def problem(response) -> dict:  # type: ignore[no-untyped-def]
    body = await response.json()
    assert set(body) == {"error", "detail", "errors"}, body  # nothing else
    return body


async def test_no_token_is_401_with_a_bearer_challenge(site: Site) -> None:
    for method, path in [("GET", "/api/v1/incidents"), ("POST", "/api/v1/incidents"),
                         ("GET", "/api/v1/customers/acme"), ("GET", "/api/v1/reports?month=2026-03"),
                         ("POST", "/api/v1/reports/2026-03/close")]:
        response = await site.session.request(method, site.url + path, json=INCIDENT)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="sla-monitor"'
        assert (await problem(response))["error"] == "unauthorized"
    assert await rows(site.db, Incident) == []


async def test_a_token_that_is_not_valid_is_401(site: Site) -> None:
    for header in ["Bearer not-a-configured-token-at-all", "Basic dXNlcjpwYXNz", "Bearer "]:
        response = await site.session.get(site.url + "/api/v1/incidents",
                                          headers={"Authorization": header})
        assert response.status == 401, header
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert (await problem(response))["error"] == "invalid_token"


async def test_an_operator_read_token_reads_and_may_not_write(site: Site) -> None:
    assert (await site.get("/api/v1/incidents", "read")).status == 200
    assert (await site.get("/api/v1/customers/bita", "read")).status == 200
    refused = await site.post("/api/v1/incidents", "read", json=INCIDENT)
    assert refused.status == 403
    body = await problem(refused)
    assert (body["error"], body["detail"]) == ("forbidden", "this token may read, not write")
    assert await rows(site.db, Incident) == []
    written = await site.post("/api/v1/incidents", "write", json=INCIDENT)
    assert written.status == 201
    assert [i.service_id for i in await rows(site.db, Incident)] == ["panel"]
    # The audit log names the token's name, never the token.
    assert [(e.actor, e.action) for e in await rows(site.db, AuditEvent)] == [
        ("api:noc", "incident.add")]


async def test_a_customer_reads_its_own_data_only(site: Site) -> None:
    own = await site.get("/api/v1/customers/acme", "acme")
    assert own.status == 200
    assert (await own.json())["customer"] == "acme"
    report = await site.get("/api/v1/customers/acme/report?month=2026-03", "acme")
    assert [c["customer"] for c in (await report.json())["customers"]] == ["acme"]
    # Customer B's data answers exactly as a customer that does not exist: 404.
    other = await site.get("/api/v1/customers/bita", "acme")
    missing = await site.get("/api/v1/customers/nobody", "acme")
    assert other.status == missing.status == 404
    assert await problem(other) == await problem(missing) == {
        "error": "not_found", "detail": "no such customer", "errors": []}
    assert (await site.get("/api/v1/customers/bita/report?month=2026-03", "acme")).status == 404


async def test_a_customer_token_may_not_use_operator_routes(site: Site) -> None:
    for method, path in [("GET", "/api/v1/incidents"), ("GET", "/api/v1/reports?month=2026-03"),
                         ("GET", "/api/v1/customers"), ("POST", "/api/v1/incidents"),
                         ("POST", "/api/v1/maintenance"), ("GET", "/api/v1/config/check")]:
        response = await site.session.request(method, site.url + path, json=INCIDENT,
                                              headers=site.auth("acme"))
        assert response.status == 403, path
        assert (await problem(response))["error"] == "forbidden"
    assert await rows(site.db, Incident) == []


async def test_a_revoked_token_stops_working_after_a_reload(site: Site) -> None:
    assert (await site.get("/api/v1/incidents", "revoked")).status == 200
    site.reload_secrets(revoked=True)  # its line removed from the file, then SIGHUP
    response = await site.get("/api/v1/incidents", "revoked")
    assert response.status == 401
    assert (await problem(response))["error"] == "invalid_token"
    assert (await site.get("/api/v1/incidents", "read")).status == 200  # the others stay


async def test_customer_pages_follow_the_same_rules(site: Site) -> None:
    assert (await site.get("/customer/acme")).status == 401  # no link, no token
    assert (await site.get("/customer/acme", "acme")).status == 200
    assert (await site.get("/customer/acme", "read")).status == 200  # operators see all
    other = await site.get("/customer/bita", "acme")
    missing = await site.get("/customer/nobody", "acme")
    assert other.status == missing.status == 404
    assert await other.text() == await missing.text()


async def test_public_routes_need_no_token(site: Site) -> None:
    for path in ["/", "/feed.atom", "/api/v2/summary.json", "/api/v2/status.json",
                 "/badge/panel/status.svg", "/api/v1/openapi.json", "/healthz"]:
        assert (await site.get(path)).status == 200, path


async def test_tokens_never_reach_the_logs(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for who in TOKENS:
        await site.get("/api/v1/incidents", who)
        await site.post("/api/v1/incidents", who, json={"service": "nope"})
    logged = "\n".join(record.getMessage() + str(vars(record)) for record in caplog.records)
    for token in TOKENS.values():
        assert token not in logged


def test_each_of_many_tokens_finds_its_own_principal_and_the_last_line_wins() -> None:
    # Found by the SHA-256 of the token (monitor.http.auth): one step among 10,000 lines,
    # the principal of the line that holds it; a token on two lines is the later's.
    from monitor.config.credentials import hash_line
    from monitor.http.auth import TokenSet

    lines = [hash_line(f"push:job-{i}", f"token-of-job-number-{i:05d}", f"job-{i}")
             for i in range(10_000)]
    lines.append(hash_line("read", "token-of-job-number-00007", "moved-to-read"))
    tokens = TokenSet.parse("\n".join(lines), "http.tokens_file")
    found = tokens.find("token-of-job-number-09999")
    assert found is not None and (found.scope, found.target) == ("push", "job-9999")
    moved = tokens.find("token-of-job-number-00007")
    assert moved is not None and (moved.scope, moved.name) == ("read", "moved-to-read")
    assert tokens.find("token-of-job-number-10000") is None
    assert tokens.find("token-of-job-number-0000\u00e9") is None  # not ASCII: no token
    assert (tokens + TokenSet()).find("token-of-job-number-00042") == tokens.find(
        "token-of-job-number-00042")
