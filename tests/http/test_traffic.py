"""Every answer of the HTTP edge is counted on /metrics by route, method and status, with
its duration by route (:mod:`monitor.http.traffic`): a client sending a revoked token is a
rate of 401 on its route. Whatever a client asks for, the labels stay the route table's:
never an id, a path no route has or a method of its own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from monitor.http.openapi import OPENAPI_KEY
from tests.http.site import Site

REQUESTS = "sla_monitor_http_requests"
DURATION = "sla_monitor_http_request_duration_seconds"


async def scraped(site: Site) -> tuple[dict[tuple[str, str, str], float], dict[str, float]]:
    """The requests counted, (route, method, code) -> count, and each route's number of
    durations observed, as a scrape of /metrics shows them."""
    response = await site.get("/metrics")
    assert response.status == 200
    counted: dict[tuple[str, str, str], float] = {}
    observed: dict[str, float] = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            if sample.name == REQUESTS + "_total":
                labels = sample.labels
                counted[labels["route"], labels["method"], labels["code"]] = sample.value
            elif sample.name == DURATION + "_count":
                observed[sample.labels["route"]] = sample.value
    return counted, observed


async def test_each_answer_is_counted_by_its_route_method_and_status(site: Site) -> None:
    before, _ = await scraped(site)  # the scrape itself is counted from the next one
    asked = [
        ("GET", "/api/v1/incidents", "read", 200),
        ("GET", "/api/v1/incidents", "read", 200),
        ("GET", "/api/v1/incidents", None, 401),  # no token
        ("GET", "/api/v1/incidents", "revoked", 200),  # still configured: valid
        ("GET", "/api/v1/incidents/987654", "read", 404),  # no such incident
        ("GET", "/api/v1/incidents/abc", "read", 404),  # not an id
        ("POST", "/api/v1/incidents", "read", 403),  # a read token on a write
        ("GET", "/no/such/path/4242", None, 404),
        ("DELETE", "/api/v1/incidents", "write", 405),
        ("HEAD", "/", None, 200),
        ("OPTIONS", "/api/v1/incidents", None, 204),
    ]
    for method, path, who, status in asked:
        headers = site.auth(who) if who else {}
        async with site.session.request(method, site.url + path, headers=headers,
                                        json={} if method == "POST" else None) as response:
            assert response.status == status, (method, path, await response.text())
    site.reload_secrets(revoked=True)  # the token revoked, as SIGHUP does
    async with site.session.get(site.url + "/api/v1/incidents",
                                headers=site.auth("revoked")) as response:
        assert response.status == 401

    counted, observed = await scraped(site)
    grown = {key: value - before.get(key, 0) for key, value in counted.items()
             if value != before.get(key, 0)}
    assert grown == {
        ("/api/v1/incidents", "GET", "200"): 3,
        ("/api/v1/incidents", "GET", "401"): 2,  # no token; the revoked one
        ("/api/v1/incidents/{incident_id}", "GET", "404"): 2,
        ("/api/v1/incidents", "POST", "403"): 1,
        ("unmatched", "GET", "404"): 1,
        ("unmatched", "DELETE", "405"): 1,
        ("/", "HEAD", "200"): 1,
        ("/api/v1/incidents", "OPTIONS", "204"): 1,
        ("/metrics", "GET", "200"): 1,  # the first scrape
    }
    # Each answer's duration is observed on its route: the counts agree.
    for route in {route for route, _, _ in counted}:
        assert observed[route] == sum(value for (r, _, _), value in counted.items()
                                      if r == route), route


async def test_no_label_holds_what_a_client_typed(site: Site) -> None:
    for path in ["/api/v1/incidents/1%0A2", "/customer/%3Cscript%3E", "/x" * 300,
                 "/api/v1/customers/%D8%A8%DB%8C%D8%AA%D8%A7/claims/77"]:
        async with site.session.get(site.url + path, headers=site.auth("read")):
            pass
    async with site.session.request("PROPFIND", site.url + "/api/v1/incidents"):
        pass
    counted, _ = await scraped(site)
    routes = {route for route, _, _ in counted}
    assert routes <= {route.path for route in site.web_app[OPENAPI_KEY]} | {"unmatched"}, routes
    assert {"/api/v1/incidents/{incident_id}", "/customer/{customer}", "unmatched",
            "/api/v1/customers/{customer}/claims/{claim_id}"} <= routes
    assert {method for _, method, _ in counted} <= {"GET", "other"}
