"""An HTTP probe's request body (``body``, with POST or PUT), sent to a real local server as
the configuration gives it: its bytes in UTF-8, its Content-Type from ``headers``. A health
endpoint that wants a query (GraphQL, a JSON-RPC ping) is judged on its answer to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from monitor.probes import ProbeSessions, build_probe
from tests.support import http_config

QUERY = json.dumps({"query": "{ health { status } }", "note": "سلام"}, ensure_ascii=False)


class Endpoint:
    """A GraphQL-like health endpoint on 127.0.0.1: 200 for the expected query sent as JSON,
    400 for anything else; it keeps what each request carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, bytes]] = []
        self.url = ""

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append((request.method, request.headers.get("Content-Type"), body))
        wanted = (request.headers.get("Content-Type") == "application/json"
                  and body == QUERY.encode("utf-8"))
        return web.json_response({"ok": wanted}, status=200 if wanted else 400)


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    made = Endpoint()
    app = web.Application()
    app.router.add_route("*", "/graphql", made.answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    made.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    try:
        yield made
    finally:
        await runner.cleanup()


async def test_the_body_is_sent_as_configured_and_the_answer_judged(
        sessions: ProbeSessions, endpoint: Endpoint) -> None:
    probe = build_probe("api", http_config(
        endpoint.url, method="POST", body=QUERY,
        headers={"Content-Type": "application/json"}, json={"path": "ok", "equals": True}),
        sessions)
    result = await probe.check()
    assert (result.state, result.http_status, result.detail) == ("up", 200, "")
    assert endpoint.seen == [("POST", "application/json", QUERY.encode("utf-8"))]


async def test_a_body_the_endpoint_refuses_is_an_outage(
        sessions: ProbeSessions, endpoint: Endpoint) -> None:
    wrong = build_probe("api", http_config(
        endpoint.url, method="PUT", body="{}", headers={"Content-Type": "application/json"}),
        sessions)
    result = await wrong.check()
    assert (result.state, result.failure_class, result.http_status) == (
        "down", "http_status", 400)
    assert endpoint.seen == [("PUT", "application/json", b"{}")]


async def test_probes_alike_but_for_their_bodies_each_send_their_own(
        sessions: ProbeSessions, endpoint: Endpoint) -> None:
    # Equal settings share their rules (one object for thousands of targets): the body is
    # one of the settings, so two bodies are two rules.
    headers = {"Content-Type": "application/json"}
    first = build_probe("a", http_config(endpoint.url, method="POST", body=QUERY,
                                         headers=headers), sessions)
    second = build_probe("b", http_config(endpoint.url, method="POST", body="[]",
                                          headers=headers), sessions)
    assert [(await first.check()).state, (await second.check()).state] == ["up", "down"]
    assert [body for _, _, body in endpoint.seen] == [QUERY.encode("utf-8"), b"[]"]


async def test_without_a_content_type_the_body_is_octets_and_without_a_body_none(
        sessions: ProbeSessions, endpoint: Endpoint) -> None:
    for body in ["ping", None]:
        result = await build_probe("api", http_config(endpoint.url, method="POST", body=body),
                                   sessions).check()
        assert result.http_status == 400
    assert endpoint.seen == [("POST", "application/octet-stream", b"ping"),
                             ("POST", "application/octet-stream", b"")]
