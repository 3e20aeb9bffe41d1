"""``sla-monitor import gatus``: Gatus's own example configurations (``gatus-config.yaml``,
from the TwiN/gatus repository) become a configuration that ``check-config`` passes, with
each mapping worked out by hand below, and a report of what was not mapped."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main
from monitor.config import load_config

FIXTURE = Path(__file__).with_name("gatus-config.yaml")


def gatus_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> Any:
    """``import gatus --format json`` of a Gatus file of ``text``: its report (exit 0)."""
    source = tmp_path / "gatus.yaml"
    source.write_text(text)
    assert main(["import", "gatus", str(source), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / "config.yaml"
    assert main(["import", "gatus", str(FIXTURE), "-o", str(out)]) == 0
    return out, capsys.readouterr().err


@pytest.mark.slow
def test_gatus_examples_become_a_valid_configuration(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = imported(tmp_path, capsys)
    assert main(["-c", str(out), "check-config"]) == 0
    config = load_config(out)
    servers = {s.id: s for s in config.servers}
    services = {s.id: s for s in config.services}
    # The first tcp:// endpoint of 127.0.0.1 is its server; the second a project on it; each
    # https host without one gets a server probed by TCP on 443.
    assert list(servers) == ["example-dns-query", "redis", "host-twin-sh",
                             "host-example-org", "host-shop-acme-example"]
    # The DNS endpoint: 8.8.8.8 asked for example.com's A record, [BODY] == 93.184.216.34
    # its expected value, [DNS_RCODE] == NOERROR what the probe checks.
    resolver = servers["example-dns-query"].probe
    assert (resolver.type, resolver.server, resolver.port, resolver.name,  # type: ignore
            resolver.record, resolver.expected) == (  # type: ignore[union-attr]
        "dns", "8.8.8.8", 53, "example.com", "A", ["93.184.216.34"])
    assert servers["host-twin-sh"].probe.port == 443  # type: ignore[union-attr]
    assert services["postgres"].server == "redis"
    assert services["postgres"].probe.port == 5432  # type: ignore[union-attr]
    website = services["website"].probe
    # [STATUS] == 200, [BODY].status == UP, [RESPONSE_TIME] < 300; the first alert's
    # failure-threshold 5 and success-threshold 3; interval 30s kept.
    assert website.expected_status == [200]  # type: ignore[union-attr]
    assert (website.json_condition.path, website.json_condition.equals) == (  # type: ignore
        "status", "UP")
    assert website.max_response_time == 0.3  # type: ignore[union-attr]
    assert (website.interval, website.fail_after, website.recover_after) == (30, 5, 3)
    shop = services["acme-research-shop"].probe
    # HEAD, client.insecure, client.timeout 5s, [STATUS] < 400, [BODY] == pat(*Welcome*).
    assert shop.method == "HEAD" and shop.tls.verify is False  # type: ignore[union-attr]
    assert shop.timeout == 5 and shop.expected_status == ["2xx", "3xx"]  # type: ignore
    assert shop.body_contains == "Welcome"  # type: ignore[union-attr]
    assert services["core-back-end"].probe.tls.cert_expiry_warning == 48 * 3600  # type: ignore
    # D-1: Gatus's 5 m interval × 3 failures + 10 s timeout is 15 min 10 s, over the 15 min
    # duty: shortened to floor((900 - 10) / 3) = 296 s, and said.
    assert services["core-front-end"].probe.interval == 296
    assert ("endpoints[0]: interval 5 min shortened to 4 min 56 s: 3 failures and the "
            "timeout must fit the 15 min detection duty (D-1)") in report
    # Groups are draft customers: their projects, their sites, placeholders said.
    customers = {c.id: c for c in config.customers}
    assert customers["core"].services == ["core-front-end", "core-back-end"]
    assert [s.domain for s in customers["core"].sites] == ["example.org", "twin.sh"]
    assert customers["acme-research"].contacts.technical.email.endswith(".example.invalid")
    assert "customer acme-research (group 'ACME Research'): a draft" in report
    # Alerting: the e-mail's recipients are the operators; the chat providers channels.
    assert config.provider.operators == ["noc@example.com", "oncall@example.com"]
    channels = Path(config.operators.notify_file or "")
    assert channels == tmp_path / "config.operator-channels"
    assert stat.S_IMODE(channels.stat().st_mode) == 0o600
    assert channels.read_text().splitlines() == [
        "https://discord.com/api/webhooks/000000000000000000/your-discord-webhook-token-here",
        "tgram://123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11/0123456789",
        "ntfys://ntfy.example.com/gatus-test-topic",
    ]
    for line in (
        "not mapped: endpoints[3]: icmp://example.org: an endpoint of type icmp",
        "not mapped: endpoints[4].conditions[0]: [DOMAIN_EXPIRATION] > 720h",
        "not mapped: endpoints[9]: https://blog.acme.example/: disabled in Gatus",
        "not mapped: alerting.pagerduty",
        # The example's Slack URL has no real token: Apprise refuses it, it is not shown.
        "not mapped: alerting.slack: https://…: Apprise takes no such URL",
    ):
        assert line in report
    # The SMTP password and the tokens are in no file but the channels' own.
    assert "hunter2" not in out.read_text() + report
    assert "ABC-DEF1234" not in out.read_text() + report


def test_json_report_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "gatus", str(FIXTURE), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["servers"], found["projects"], found["customers"], found["channels"]) == (
        5, 6, 2, 3)
    assert len(found["unmapped"]) == 5
    # Without -o the channels are inline: the user asked for the whole configuration here.
    document = yaml.safe_load(found["config"])
    assert len(document["operators"]["notify"]) == 3


@pytest.mark.parametrize(("text", "expected"), [
    ("endpoints: [\n", "line 2: (file): not valid YAML"),
    ("alerting: {}\n", "endpoints: missing; allowed: a Gatus configuration with a list of "
     "endpoints"),
])
def test_a_file_that_is_not_gatus_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    source = tmp_path / "gatus.yaml"
    source.write_text(text)
    assert main(["import", "gatus", str(source), "-o", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert os.listdir(tmp_path) == ["gatus.yaml"]


def test_numbers_in_other_digits_than_ascii_are_not_mapped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # str.isdigit() took "²" (then int() failed: a traceback, exit 1) and "۲۰۰" (Persian
    # digits, read as 200), which Gatus itself never reads as a number.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: a\n"
        "    url: http://a.example/\n"
        '    conditions: ["[STATUS] == \u06f2\u06f0\u06f0", "[RESPONSE_TIME] < \u06f5\u06f0\u06f0",'
        ' "[STATUS] == \u00b2", "[BODY].n == \u0665"]\n')
    assert [item["what"] for item in found["unmapped"]] == [
        "[STATUS] == \u06f2\u06f0\u06f0", "[RESPONSE_TIME] < \u06f5\u06f0\u06f0",
        "[STATUS] == \u00b2"]
    probe = next(iter(yaml.safe_load(found["config"])["services"]))["probe"]
    assert "max_response_time" not in probe
    assert probe.get("expected_status", ["2xx"]) == ["2xx"]
    assert probe["json"] == {"path": "n", "equals": "\u0665"}  # the text, as Gatus compares it


def test_a_value_sla_monitor_refuses_is_named_by_its_place_in_the_gatus_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The refusal named the configuration the import makes ("line 10: servers[0].probe.
    # interval"), whose lines and paths are not the Gatus file's: line 10 of it is another
    # endpoint's client. It names the endpoint now, then what it was made into, once each.
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "endpoints:\n"
        "  - name: web\n"
        "    group: acme\n"
        "    url: https://acme.example/health\n"
        "    interval: 1ms\n"
        "  - name: api\n"
        "    url: https://api.example/x\n"
        "    client: {timeout: 0s}\n")
    assert main(["import", "gatus", str(source), "-o", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "line " not in err and "Traceback" not in err, err
    # The interval the schema refuses is not also compared with the timeout (it was, as
    # "0 s must be longer than the timeout"): the cross-checks take only values their own
    # field accepts (monitor.config.checks).
    assert lines[0] == f"sla-monitor: error: {source}: 2 configuration error(s)", err
    assert lines[1:] == [
        "  endpoints[0] 'web' (made into servers[0] and services[0]): probe.interval: '1ms' "
        "is not valid: expected a duration from 0.1 s to 1 d",
        "  endpoints[1] 'api' (made into servers[1] and services[1]): probe.timeout: '0s' is "
        "not valid: expected a duration from 0.1 s to 1 h"], err
    assert os.listdir(tmp_path) == ["gatus.yaml"]


def test_an_alert_takes_its_thresholds_from_its_providers_default_alert(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus fills an endpoint's alert from alerting.<type>.default-alert for every field the
    # alert leaves out; the import read only the alert itself and took Gatus's built-in 3 and
    # 2 instead of the provider's 5 and 4 (an own value still wins: 2 below).
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "alerting:\n"
        "  slack:\n"
        "    webhook-url: https://hooks.slack.com/services/T0/B0/XX\n"
        "    default-alert: {failure-threshold: 5, success-threshold: 4}\n"
        "endpoints:\n"
        "  - name: a\n"
        "    url: http://a.example/\n"
        "    alerts: [{type: slack}]\n"
        "  - name: b\n"
        "    url: http://b.example/\n"
        "    alerts: [{type: slack, failure-threshold: 2}]\n"
        "  - name: c\n"
        "    url: http://c.example/\n")
    assert main(["import", "gatus", str(source), "--format", "json"]) == 0
    services = yaml.safe_load(json.loads(capsys.readouterr().out)["config"])["services"]
    assert [(s["probe"]["fail_after"], s["probe"]["recover_after"]) for s in services] == [
        (5, 4), (2, 4), (3, 2)]


def test_a_status_condition_with_any_is_the_set_of_expected_codes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # "[STATUS] == any(200, 201)" is how Gatus accepts one of several codes; it was reported
    # as having no equivalent, and the endpoint kept the default 2xx.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: a\n"
        "    url: http://a.example/\n"
        '    conditions: ["[STATUS] == any(200, 201, 204)"]\n'
        "  - name: b\n"
        "    url: http://b.example/\n"
        '    conditions: ["[STATUS] == any(200, ok)"]\n')
    services = yaml.safe_load(found["config"])["services"]
    assert services[0]["probe"]["expected_status"] == [200, 201, 204]
    assert "expected_status" not in services[1]["probe"]  # a value that is not a code
    assert [item["what"] for item in found["unmapped"]] == ["[STATUS] == any(200, ok)"]


def test_parts_of_gatus_it_does_not_carry_are_reported_not_dropped_in_silence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus's external endpoints (pushed to, like Kuma's push monitors) and its
    # connectivity checker were left out of the configuration without a word in the report.
    found = gatus_json(
        tmp_path, capsys,
        "connectivity: {checker: {target: 1.1.1.1:53, interval: 60s}}\n"
        "external-endpoints:\n"
        "  - {name: backup-job, group: core, token: potato}\n"
        "  - {name: cron, token: tomato}\n"
        "endpoints:\n"
        "  - name: web\n"
        "    url: https://web.example.org/\n")
    # External endpoints are push targets now (tests/imports/test_push_imports.py); one
    # without heartbeat.interval says nothing when its job stops: reported.
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("connectivity", "(connectivity checker)"),
        ("external-endpoints[0] 'backup-job'.heartbeat.interval", "(none)"),
        ("external-endpoints[1] 'cron'.heartbeat.interval", "(none)"),
    ]
    assert "monitor.canaries" in found["unmapped"][0]["why"]
    assert "a push target is down when its job stops calling" in found["unmapped"][1]["why"]


def test_gatus_maintenance_windows_become_recurring_windows_announced_ahead(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus's maintenance (global, and an endpoint's maintenance-windows) was reported as
    # not mapped; it is a weekly window of sla-monitor's now, each occurrence announced.
    found = gatus_json(
        tmp_path, capsys,
        # Unquoted, as Gatus's documentation writes it (a sexagesimal number in YAML 1.1).
        "maintenance: {start: 23:00, duration: 1h, every: [Monday, Thursday]}\n"
        "endpoints:\n"
        "  - name: web\n"
        "    url: https://web.example.org/\n"
        "    maintenance-windows:\n"
        "      - {start: 7:30, duration: 40m, timezone: Europe/Amsterdam}\n"
        "      - {start: '25:00', duration: 1h}\n"
        "      - {start: '01:00', duration: 2d}\n"
        "      - {start: '01:00', duration: 1h, enabled: false}\n"
        "  - name: db\n"
        "    url: tcp://web.example.org:5432\n")
    config = yaml.safe_load(found["config"])
    assert config["maintenance"]["recurring"] == [
        # The global window on every server (a server's window covers its projects).
        {"id": "gatus-maintenance", "services": ["db"], "every": ["monday", "thursday"],
         "at": "23:00", "duration": "1h", "reason": "Scheduled maintenance"},
        # An endpoint's on its project; no weekday given: every day, as Gatus reads it.
        {"id": "web-maintenance", "services": ["web"],
         "every": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                   "sunday"], "at": "07:30", "duration": "40m",
         "reason": "Scheduled maintenance"},
    ]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[0].maintenance-windows[1].start", "25:00"),
        ("endpoints[0].maintenance-windows[2].duration", "2d"),
        ("endpoints[0].maintenance-windows[3]", "(maintenance window)"),
    ]
    notes = " ".join(found["notes"])
    assert "Europe/Amsterdam" in notes and "provider.timezone" in notes
    assert "2 window(s) from Gatus" in notes and "write yours" in notes
    (tmp_path / "made.yaml").write_text(found["config"])
    assert main(["-c", str(tmp_path / "made.yaml"), "check-config"]) == 0
    capsys.readouterr()
    # Nothing carried for the global window to cover: said, not dropped.
    alone = gatus_json(tmp_path, capsys, "maintenance: {start: 23:00, duration: 1h}\n"
                       "endpoints: [{name: gateway, url: 'icmp://10.0.0.1'}]\n")
    assert ("maintenance", "no endpoint was carried for it to cover") in [
        (item["where"], item["why"]) for item in alone["unmapped"]]


def test_an_environment_variable_gatus_fills_in_is_reported_not_sent_as_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus expands $VAR and ${VAR} in its configuration when it starts; sla-monitor does
    # not. The import carried "Bearer ${API_TOKEN}" into the probe's headers, which then
    # sent those very characters (a 401, an incident, customers e-mailed).
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: api\n"
        "    url: https://api.example.org/health\n"
        "    headers: {Authorization: 'Bearer ${API_TOKEN}', X-Probe: sla}\n"
        "  - name: key\n"
        "    url: https://api.example.org/x?key=$API_KEY\n"
        "  - name: plain\n"
        "    url: https://plain.example.org/\n")
    services = yaml.safe_load(found["config"])["services"]
    assert [s["id"] for s in services] == ["api", "plain"]
    assert services[0]["probe"]["headers"] == {"X-Probe": "sla"}
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[0].headers.Authorization", "${API_TOKEN}"),
        ("endpoints[1].url", "$API_KEY"),
    ]
    assert all("environment variable" in item["why"] for item in found["unmapped"])


def test_a_request_body_is_carried_and_a_graphql_one_wrapped_as_gatus_sends_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A body was reported as "sla-monitor's probes send no body", and the endpoint probed
    # without it (a GraphQL health check answers 400 to an empty POST: an outage).
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: graph\n"
        "    url: https://api.example.org/graphql\n"
        "    method: POST\n"
        "    graphql: true\n"
        "    body: '{ health { status } }'\n"
        "  - name: rpc\n"
        "    url: https://rpc.example.org/\n"
        "    method: PUT\n"
        "    headers: {content-type: application/json-rpc}\n"
        "    body: '{\"method\": \"ping\"}'\n"
        "  - name: getter\n"
        "    url: https://get.example.org/\n"
        "    body: ignored\n"
        "  - name: secret\n"
        "    url: https://secret.example.org/\n"
        "    method: POST\n"
        "    body: '{\"key\": \"${KEY}\"}'\n")
    probes = {s["id"]: s["probe"] for s in yaml.safe_load(found["config"])["services"]}
    # Gatus's {"query": BODY}, sent as JSON.
    assert json.loads(probes["graph"]["body"]) == {"query": "{ health { status } }"}
    assert probes["graph"]["headers"] == {"Content-Type": "application/json"}
    # The body as written, with the endpoint's own Content-Type (any case) kept.
    assert probes["rpc"]["body"] == '{"method": "ping"}'
    assert probes["rpc"]["headers"] == {"content-type": "application/json-rpc"}
    assert "body" not in probes["getter"] and "body" not in probes["secret"]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[2].body", "(a request body)"),
        ("endpoints[3].body", "${KEY}"),
    ]
    assert "with POST or PUT" in found["unmapped"][0]["why"]
    # The configuration made passes check-config, bodies and all.
    (tmp_path / "made.yaml").write_text(found["config"])
    assert main(["-c", str(tmp_path / "made.yaml"), "check-config"]) == 0


def test_client_settings_are_carried_or_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # client.ignore-redirect was dropped (the probe followed the redirect an endpoint checks
    # for with [STATUS] == 302, and failed on the 200 behind it), and so, without a word,
    # were the client's proxy, OAuth2, client certificate and resolver.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: login\n"
        "    url: https://app.example.org/login\n"
        "    client: {ignore-redirect: true}\n"
        '    conditions: ["[STATUS] == 302"]\n'
        "  - name: api\n"
        "    url: https://api.example.org/\n"
        "    client:\n"
        "      proxy-url: http://proxy.example.org:3128\n"
        "      dns-resolver: tcp://8.8.8.8:53\n"
        "      oauth2: {token-url: https://auth.example.org/token, client-id: x,"
        " client-secret: y, scopes: [a]}\n"
        "      tls: {certificate-file: /c.pem, private-key-file: /k.pem}\n")
    services = yaml.safe_load(found["config"])["services"]
    assert services[0]["probe"]["follow_redirects"] is False
    assert services[0]["probe"]["expected_status"] == [302]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[1].client.proxy-url", "http://proxy.example.org:3128"),
        ("endpoints[1].client.dns-resolver", "tcp://8.8.8.8:53"),
        ("endpoints[1].client.oauth2", "(OAuth2 client credentials)"),
        ("endpoints[1].client.tls", "(a client certificate)"),
    ]


def test_a_json_condition_with_a_gatus_function_is_reported_not_compared_as_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "[BODY].status == pat(*UP*)" became json: {path: status, equals: "pat(*UP*)"}: the
    # probe compared the body's status with those very characters and failed on every
    # healthy answer (an incident, customers e-mailed). A plain value is still kept.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: a\n"
        "    url: http://a.example/\n"
        '    conditions: ["[BODY].status == pat(*UP*)", "[BODY].data[0].id == 1"]\n'
        "  - name: b\n"
        "    url: http://b.example/\n"
        '    conditions: ["[BODY].state == any(ok, up)"]\n')
    services = yaml.safe_load(found["config"])["services"]
    assert services[0]["probe"]["json"] == {"path": "data.0.id", "equals": 1}
    assert "json" not in services[1]["probe"]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[0].conditions[0]", "[BODY].status == pat(*UP*)"),
        ("endpoints[1].conditions[0]", "[BODY].state == any(ok, up)"),
    ]


def test_conditions_a_tcp_probe_cannot_check_are_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # On a tcp:// endpoint, "[RESPONSE_TIME] < 50" was read and then dropped without a word
    # (a TCP probe checks that it connects, within its timeout).
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - name: db\n"
        "    url: tcp://10.0.0.5:5432\n"
        '    conditions: ["[CONNECTED] == true", "[RESPONSE_TIME] < 50"]\n')
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[0].conditions[1]", "[RESPONSE_TIME] < 50")]
    assert "TCP" in found["unmapped"][0]["why"]
    probe = yaml.safe_load(found["config"])["servers"][0]["probe"]
    assert "max_response_time" not in probe


def test_a_group_of_endpoints_on_ip_addresses_does_not_stop_the_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An IP address has dots, and was taken for a domain: the draft customer's site
    # '10.0.0.5' was refused and the whole import stopped (exit 2, nothing written) for a
    # group of internal endpoints. A site is a domain; the IP is left out of the sites.
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "endpoints:\n"
        "  - {name: health, group: internal, url: 'http://10.0.0.5:8080/health'}\n"
        "  - {name: shop, group: acme, url: 'https://shop.acme.example/'}\n"
        "  - {name: admin, group: acme, url: 'http://192.168.1.20/'}\n")
    out = tmp_path / "config.yaml"
    assert main(["import", "gatus", str(source), "-o", str(out), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    config = load_config(out)
    assert [(c.id, [s.domain for s in c.sites], c.services) for c in config.customers] == [
        ("acme", ["shop.acme.example"], ["acme-shop", "acme-admin"])]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("group 'internal'", "internal")]


def test_dns_endpoints_become_dns_probes(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus asks url (an address, port 53 unless given) for query-name's query-type;
    # [BODY] == V of an A, AAAA, CNAME, MX, NS or PTR query is V among the answer's records
    # (Gatus compares the last one). What a DNS probe does not check is reported.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - {name: ns1, url: '192.0.2.53', dns: {query-name: shop.example., query-type: A},"
        " conditions: ['[DNS_RCODE] == NOERROR', '[BODY] == 192.0.2.10']}\n"
        "  - {name: ns2, url: '[2001:db8::53]:5353', dns: {query-name: shop.example,"
        " query-type: MX}, conditions: ['[BODY] == mail.shop.example.',"
        " '[RESPONSE_TIME] < 100', '[DNS_RCODE] == NXDOMAIN', '[DNS_RCODE] == true',"
        " '[CONNECTED] == true']}\n"
        "  - {name: ns3, url: 'dns.google', dns: {query-name: shop.example, query-type: A}}\n"
        "  - {name: ns4, url: '192.0.2.54', dns: {query-name: shop.example, query-type: ANY}}\n"
        "  - {name: ns5, url: '192.0.2.55', dns: {query-name: _sip._tcp.shop.example,"
        " query-type: SRV}, conditions: ['[BODY] == sip.shop.example.:5060']}\n"
        "  - {name: ns6, url: '192.0.2.56', dns: {query-name: 'shop example', query-type: A}}\n")
    assert server_probes(found) == {
        "ns1": {"type": "dns", "server": "192.0.2.53", "name": "shop.example",
                "expected": ["192.0.2.10"]},
        "ns2": {"type": "dns", "server": "2001:db8::53", "port": 5353, "name": "shop.example",
                "record": "MX", "expected": ["mail.shop.example."]},
        "ns5": {"type": "dns", "server": "192.0.2.55", "name": "_sip._tcp.shop.example",
                "record": "SRV"},
    }
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[1].conditions[1]", "[RESPONSE_TIME] < 100"),
        ("endpoints[1].conditions[2]", "[DNS_RCODE] == NXDOMAIN"),
        ("endpoints[1].conditions[3]", "[DNS_RCODE] == true"),
        ("endpoints[2].url", "dns.google"),
        ("endpoints[3].dns.query-type", "ANY"),
        ("endpoints[4].conditions[0]", "[BODY] == sip.shop.example.:5060"),
        ("endpoints[5].dns.query-name", "shop example"),  # the rest is carried
    ]
    assert next(item["why"] for item in found["unmapped"]
                if item["where"] == "endpoints[2].url") == (
        "expected an IP address (IPv4 or IPv6): the nameserver is asked directly, not "
        "found through a resolver")


def test_tls_endpoints_become_tcp_probes_with_tls(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Gatus's tls://HOST:PORT connects and shakes hands: a TCP probe with tls, its
    # certificate read for expiry; client.insecure does not verify it. starttls:// asks
    # SMTP's STARTTLS first.
    found = gatus_json(
        tmp_path, capsys,
        "endpoints:\n"
        "  - {name: mail, url: 'tls://mail.shop.example:465', conditions: ['[CONNECTED] =="
        " true', '[CERTIFICATE_EXPIRATION] > 720h', '[RESPONSE_TIME] < 500']}\n"
        "  - {name: ldap, url: 'tls://ldap.shop.example:636', client: {insecure: true}}\n"
        "  - {name: smtp, url: 'starttls://smtp.shop.example:587'}\n")
    assert server_probes(found) == {
        "mail": {"type": "tcp", "host": "mail.shop.example", "port": 465,
                 "tls": {"cert_expiry_warning": "720h"}},
        "ldap": {"type": "tcp", "host": "ldap.shop.example", "port": 636,
                 "tls": {"verify": False}},
        "smtp": {"type": "tcp", "host": "smtp.shop.example", "port": 587, "tls": {},
                 "starttls": "smtp"},
    }
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("endpoints[0].conditions[2]", "[RESPONSE_TIME] < 500"),
    ]


def server_probes(found: Any) -> dict[str, dict[str, Any]]:
    """Each server's probe in an import's made configuration, without its timing."""
    timing = ("interval", "timeout", "fail_after", "recover_after")
    return {server["id"]: {k: v for k, v in server["probe"].items() if k not in timing}
            for server in yaml.safe_load(found["config"])["servers"]}


def test_a_password_in_a_url_is_not_shown_in_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The report named an endpoint it did not map by its URL as written, password included
    # ("not mapped: endpoints[0]: https://admin:s3cret@old.example.org/: disabled"), on the
    # standard error an import's output is pasted from; every other output masks it.
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "endpoints:\n"
        "  - {name: old, enabled: false, url: 'https://admin:s3cret@old.example.org/'}\n"
        "  - {name: dns, url: 'dns://admin:hunter2@8.8.8.8'}\n")
    assert main(["import", "gatus", str(source), "-o", str(tmp_path / "out.yaml")]) == 0
    err = capsys.readouterr().err
    assert "s3cret" not in err and "hunter2" not in err, err
    assert "not mapped: endpoints[0]: https://***@old.example.org/: disabled in Gatus" in err
    assert main(["import", "gatus", str(source), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [item["what"] for item in found["unmapped"]] == [
        "https://***@old.example.org/", "dns://***@8.8.8.8"]


def test_names_in_persian_give_ids_from_the_host_not_endpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An id is made of a name's ASCII letters and digits: a name in Persian has none, and
    # every service and draft customer became "endpoint", "endpoint-2"... (a customer too),
    # which says nothing of which is which. The host name says it.
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "endpoints:\n"
        "  - {name: 'وب‌سایت', group: 'مشتری آکمه', url: 'https://acme.example.com/'}\n"
        "  - {name: 'پنل', group: 'مشتری بیتا', url: 'https://bita.example.com/'}\n"
        "  - {name: 'پایگاه داده', url: 'tcp://db.example.com:5432'}\n")
    out = tmp_path / "config.yaml"
    assert main(["import", "gatus", str(source), "-o", str(out)]) == 0
    config = load_config(out)
    assert [s.id for s in config.servers] == [
        "db-example-com", "host-acme-example-com", "host-bita-example-com"]
    assert [s.id for s in config.services] == ["acme-example-com", "bita-example-com"]
    assert [(c.id, c.name) for c in config.customers] == [
        ("acme-example-com", "مشتری آکمه"), ("bita-example-com", "مشتری بیتا")]


# Values of the wrong shape where the reader walks the Gatus file (found by feeding it random
# documents: 115 of 800 ended in a traceback, at five places). Gatus itself refuses such a
# file; the import names the place: a value the configuration carries is refused by its own
# check at the endpoint's place, and a part it cannot read is reported as not mapped.
ENDPOINT = "endpoints:\n  - name: web\n    url: https://acme.example/\n"


@pytest.mark.parametrize(("extra", "refused"), [
    ("    alerts: [{failure-threshold: ''}]\n",
     "probe.fail_after: '' is not valid"),
    ("    alerts: [{success-threshold: [1]}]\n",
     "probe.recover_after: [1] is not valid"),
    ("    alerts: [{failure-threshold: 1h}]\n",
     "probe.fail_after: '1h' is not valid"),
    ("    alerts: [{failure-threshold: 0}]\n",
     "probe.fail_after: 0 is not valid"),
    ("    headers: [X-A]\n",
     "probe.headers: ['X-A'] is not valid"),
])
def test_a_value_of_the_wrong_kind_is_refused_at_its_place_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, refused: str) -> None:
    source = tmp_path / "gatus.yaml"
    source.write_text(ENDPOINT + extra)
    assert main(["import", "gatus", str(source), "-o", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert f"  endpoints[0] 'web' (made into services[0]): {refused}" in err, err
    assert os.listdir(tmp_path) == ["gatus.yaml"]


@pytest.mark.parametrize(("text", "place", "what"), [
    (ENDPOINT + "    conditions: 5\n", "endpoints[0].conditions", "5"),
    (ENDPOINT + "    alerts: 5\n", "endpoints[0].alerts", "5"),
    (ENDPOINT + "    alerts: {type: email}\n", "endpoints[0].alerts", "{'type': 'email'}"),
    (ENDPOINT + "    client: fast\n", "endpoints[0].client", "fast"),
    (ENDPOINT + "  - 5\n", "endpoints[1]", "5"),
    (ENDPOINT + "alerting: [email]\n", "alerting", "['email']"),
])
def test_a_part_of_the_wrong_kind_is_reported_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, place: str,
        what: str) -> None:
    found = gatus_json(tmp_path, capsys, text)
    assert {"where": place, "what": what} in [
        {"where": item["where"], "what": item["what"]} for item in found["unmapped"]], found
    config = yaml.safe_load(found["config"])
    assert [service["name"] for service in config["services"]] == ["web"]


def test_a_maintenance_window_longer_than_a_day_is_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # maintenance.recurring's windows last 1 min to 1 d, the bounds check-config says.
    found = gatus_json(
        tmp_path, capsys,
        "maintenance: {start: '23:00', duration: 25h, every: [Sunday]}\n"
        "endpoints:\n  - {name: db, url: 'tcp://db.shop.example:5432'}\n")
    assert "maintenance" not in yaml.safe_load(found["config"])
    assert [(i["where"], i["what"], i["why"]) for i in found["unmapped"]] == [
        ("maintenance.duration", "25h",
         "sla-monitor's recurring windows last from 1 min to 1 d")]
