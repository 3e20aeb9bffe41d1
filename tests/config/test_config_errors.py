"""Broken configurations: every problem is named with its YAML path, line and value,
all at once, and the CLI exits 2 without a traceback (SPEC section 8)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import parse_config
from monitor.errors import ConfigError
from tests.support import sla_monitor_command

BASE = """\
provider:
  timezone: Asia/Tehran
  calendar: jalali
servers:
  - id: srv-1
    probe: {type: tcp, host: 10.0.0.1, port: 22}
services:
  - id: panel
    kind: web_panel
    probe: {type: http, url: "https://panel.example/healthz"}
  - id: shop
    kind: project
    server: srv-1
    probe: {type: http, url: "https://shop.example/", interval: 1m}
customers:
  - id: acme
    name: ACME
    contacts: {technical: {email: tech@acme.example}}
    fee: {amount: 1000, currency: EUR}
    services: [shop]
    sites:
      - {domain: shop.acme.example, paid_until: 2027-01-01}
"""


def broken(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


# (id, config text, the exact issue lines expected)
CASES = [
    (
        "unknown-key-typo",
        broken(
            "    probe: {type: tcp, host: 10.0.0.1, port: 22}",
            "    probe: {type: tcp, host: 10.0.0.1, port: 22, intervall: 30s}",
        ),
        [
            "line 6: servers[0].probe.intervall: unknown key 'intervall' (did you mean 'interval'?); "
            "allowed keys: fail_after, host, interval, port, recover_after, starttls, timeout, tls, type"
        ],
    ),
    (
        "bad-timezone",
        broken("timezone: Asia/Tehran", "timezone: Asia/Teheran"),
        [
            "line 2: provider.timezone: 'Asia/Teheran' is not valid: not a known IANA time zone "
            "(e.g. 'Asia/Tehran', 'UTC')"
        ],
    ),
    (
        "bad-calendar",
        broken("calendar: jalali", "calendar: persian"),
        ["line 3: provider.calendar: 'persian' is not valid: expected 'gregorian' or 'jalali'"],
    ),
    (
        "duplicate-service-id",
        broken("  - id: shop\n", "  - id: panel\n"),
        [
            "line 11: services[1].id: 'panel' is already used by services[0]; ids must be unique",
            "line 20: customers[0].services[0]: unknown service 'shop'; allowed: panel",
        ],
    ),
    (
        "project-without-server",
        broken("    server: srv-1\n", ""),
        ["line 11: services[1].server: a project must name the server it runs on; allowed: srv-1"],
    ),
    (
        "unknown-server",
        broken("    server: srv-1\n", "    server: srv-9\n"),
        ["line 13: services[1].server: unknown server 'srv-9'; allowed: srv-1"],
    ),
    (
        "unknown-customer-service",
        broken("services: [shop]", "services: [shop, shopp]"),
        ["line 20: customers[0].services[1]: unknown service 'shopp'; allowed: panel, shop"],
    ),
    (
        # Credentials in the URL and an Authorization header: the probe client refuses to
        # send both ("Cannot combine AUTHORIZATION header with ... credentials encoded in
        # URL"), so every probe failed: an outage of the configuration's making, counted and
        # e-mailed to the customer.
        "credentials-twice",
        broken('url: "https://shop.example/", interval: 1m}',
               'url: "https://u:p@shop.example/", interval: 1m, '
               'headers: {authorization: "Bearer x"}}'),
        [
            "line 14: services[1].probe: credentials in the URL (user:password@) and an "
            "Authorization header: a request sends one; keep one of them"
        ],
    ),
    (
        # A recurring window on a service that does not exist, announced too late for its
        # notice (D-3: 48 h) to be in time: each said where it is.
        "recurring-maintenance",
        broken("customers:", "maintenance:\n  announce: 2d\n  recurring:\n"
               "    - {id: backup, services: [srv-9], every: [sunday], at: '02:00',"
               " duration: 1h, reason: Backup}\ncustomers:"),
        [
            "line 16: maintenance.announce: 2 d is too short: each occurrence must be "
            "recorded at least 1 h before the 2 d notice period (policy.maintenance_notice, "
            "D-3) begins, so that its notice can reach customers in time (R-EX1)",
            "line 18: maintenance.recurring[0].services[0]: unknown service 'srv-9'; "
            "allowed: panel, shop, srv-1",
        ],
    ),
    (
        # A recurring window is weekly (every) or monthly (days_of_month), not both; a day
        # of the month is 1 to 31 or last.
        "recurring-weekly-and-monthly",
        broken("customers:", "maintenance:\n  recurring:\n"
               "    - {id: both, services: [srv-1], every: [sunday], days_of_month: [1],"
               " at: '02:00', duration: 1h, reason: Backup}\n"
               "    - {id: neither, services: [srv-1], at: '02:00', duration: 1h,"
               " reason: Backup}\n"
               "    - {id: bad-day, services: [srv-1], days_of_month: [1, 32, first],"
               " at: '02:00', duration: 1h, reason: Backup}\ncustomers:"),
        [
            "line 17: maintenance.recurring[0]: give one of every (weekdays) and "
            "days_of_month (days of the month), not both",
            "line 18: maintenance.recurring[1]: give one of every (weekdays) and "
            "days_of_month (days of the month), none is given",
            "line 19: maintenance.recurring[2].days_of_month[1]: 32 is not valid: expected a "
            "day of the month, 1 to 31, or last",
            "line 19: maintenance.recurring[2].days_of_month[2]: 'first' is not valid: "
            "expected a day of the month, 1 to 31, or last",
        ],
    ),
    (
        # weeks_of_month chooses among every's weekdays: the first to fifth or the last.
        "recurring-weeks-of-month",
        broken("customers:", "maintenance:\n  recurring:\n"
               "    - {id: monthly, services: [srv-1], days_of_month: [1],"
               " weeks_of_month: [1], at: '02:00', duration: 1h, reason: Backup}\n"
               "    - {id: sixth, services: [srv-1], every: [friday], weeks_of_month: [6],"
               " at: '02:00', duration: 1h, reason: Backup}\ncustomers:"),
        [
            "line 17: maintenance.recurring[0].weeks_of_month: chooses among the weekdays of "
            "every; give every, not days_of_month",
            "line 18: maintenance.recurring[1].weeks_of_month[0]: 6 is not valid: expected "
            "which of the month's weekdays, 1 to 5, or last",
        ],
    ),
    (
        # A body on a GET (the default method): no target reads one; said where it is,
        # with the way out.
        "body-without-post",
        broken('url: "https://shop.example/", interval: 1m}',
               'url: "https://shop.example/", interval: 1m, body: "{}"}'),
        [
            "line 14: services[1].probe.body: a body is sent with method POST or PUT; this "
            "probe's method is GET (set method: POST, or remove body)"
        ],
    ),
    (
        "body-with-head",
        broken('url: "https://shop.example/", interval: 1m}',
               'url: "https://shop.example/", interval: 1m, method: HEAD, body: x}'),
        [
            "line 14: services[1].probe.body: a body is sent with method POST or PUT; this "
            "probe's method is HEAD (set method: POST, or remove body)"
        ],
    ),
    (
        # A DNS probe (monitor.probes.dns): its nameserver is asked at an address, never
        # looked up; an A record's expected value is an IPv4 address; each said at once.
        "dns-probe",
        broken("probe: {type: tcp, host: 10.0.0.1, port: 22}",
               "probe: {type: dns, server: ns1.example, name: 'shop example',"
               " expected: ['2001:db8::1']}"),
        [
            "line 6: servers[0].probe.expected: ['2001:db8::1'] is not valid: '2001:db8::1' "
            "is not an IPv4 address, which an A record holds",
            "line 6: servers[0].probe.name: 'shop example' is not valid: expected a domain "
            "name: labels of letters, digits, '-' and '_', separated by dots, at most 63 "
            "characters each and 253 in all (an internationalized name in its xn-- form)",
            "line 6: servers[0].probe.server: 'ns1.example' is not valid: expected an IP "
            "address (IPv4 or IPv6): the nameserver is asked directly, not found through a "
            "resolver",
        ],
    ),
    (
        # A TCP probe's tls: true, false or the settings of an https:// probe's tls.
        "tcp-tls",
        broken("probe: {type: tcp, host: 10.0.0.1, port: 22}",
               "probe: {type: tcp, host: 10.0.0.1, port: 465, tls: sure}"),
        [
            "line 6: servers[0].probe.tls: 'sure' is not valid: expected true, false or TLS "
            "settings (verify, ca_file, cert_expiry_warning, cert_check_interval)",
        ],
    ),
    (
        # STARTTLS is followed by a handshake: tls false contradicts it; only SMTP's is known.
        "starttls-without-tls",
        broken("probe: {type: tcp, host: 10.0.0.1, port: 22}",
               "probe: {type: tcp, host: 10.0.0.1, port: 587, starttls: smtp, tls: false}"),
        [
            "line 6: servers[0].probe.tls: starttls is followed by a TLS handshake: tls "
            "cannot be false (leave it out, or give its settings)",
        ],
    ),
    (
        "starttls-imap",
        broken("probe: {type: tcp, host: 10.0.0.1, port: 22}",
               "probe: {type: tcp, host: 10.0.0.1, port: 143, starttls: imap}"),
        [
            "line 6: servers[0].probe.starttls: 'imap' is not valid: expected 'smtp'",
        ],
    ),
    (
        "dns-record-type",
        broken("probe: {type: tcp, host: 10.0.0.1, port: 22}",
               "probe: {type: dns, server: 10.0.0.53, name: shop.example, record: ANY,"
               " transport: quic, port: 0}"),
        [
            "line 6: servers[0].probe.port: 0 is not valid: input should be greater than "
            "or equal to 1",
            "line 6: servers[0].probe.record: 'ANY' is not valid: expected 'A', 'AAAA', "
            "'CNAME', 'MX', 'NS', 'TXT', 'SOA', 'SRV', 'PTR' or 'CAA'",
            "line 6: servers[0].probe.transport: 'quic' is not valid: expected 'udp' or 'tcp'",
        ],
    ),
    (
        # Header names that are no HTTP token, and a control character in a value: the
        # request is refused by the client (a NUL) or by the target (400), every time.
        "header-names-and-values",
        broken('url: "https://shop.example/", interval: 1m}',
               'url: "https://shop.example/", interval: 1m, '
               'headers: {"X Token": a, "": b, "X-Ok": "a\\0b"}}'),
        [
            "line 14: services[1].probe.headers: {'X Token': 'a', '': 'b', 'X-Ok': 'a\\x00b'} "
            "is not valid: header name 'X Token' is not valid: letters, digits and "
            "!#$%&'*+-.^_`|~ only (RFC 9110 token)",
        ],
    ),
    (
        # A project or a shared service listed twice in one customer's list: said so, not
        # "already belongs to customers[0]" (its own list), nor passed over (the panel).
        "customer-service-twice",
        broken("services: [shop]", "services: [shop, panel, shop, panel]"),
        [
            "line 20: customers[0].services[2]: 'shop' is listed twice (also "
            "customers[0].services[0]); list each service once",
            "line 20: customers[0].services[3]: 'panel' is listed twice (also "
            "customers[0].services[1]); list each service once",
        ],
    ),
    (
        "interval-not-longer-than-timeout",
        broken("interval: 1m}", "interval: 10s, timeout: 10s}"),
        [
            "line 14: services[1].probe.interval: 10 s must be longer than the timeout (10 s) so that "
            "a probe never overlaps itself"
        ],
    ),
    (
        "d1-worst-case-over-15-minutes",
        broken("interval: 1m}", "interval: 5m, fail_after: 3, timeout: 30s}"),
        [
            "line 14: services[1].probe: worst-case detection interval × fail_after + timeout = "
            "5 min × 3 + 30 s = 15 min 30 s exceeds the 15 min detection duty (D-1)"
        ],
    ),
    (
        "bad-url",
        broken('url: "https://shop.example/"', 'url: "shop.example"'),
        [
            "line 14: services[1].probe.url: 'shop.example' is not valid: expected an absolute "
            "http:// or https:// URL with a host"
        ],
    ),
    (
        "negative-duration",
        broken("interval: 1m}", "interval: 1m, timeout: -5}"),
        ["line 14: services[1].probe.timeout: -5 is not valid: a duration must not be negative"],
    ),
    (
        "tiers-out-of-order",
        BASE
        + textwrap.dedent("""\
        policy:
          tiers:
            - {name: 1w, min_downtime: 8h, credit_days: 7}
            - {name: 2w, min_downtime: 1h30m, credit_days: 14}
        """),
        [
            "line 26: policy.tiers[1]: tiers must be in increasing order of min_downtime and "
            "credit_days (this tier: 1 h 30 min / 14 days; the one before: 8 h / 7 days)"
        ],
    ),
    (
        "bad-email-and-currency",
        broken("email: tech@acme.example}}", "email: tech-at-acme}}").replace("EUR", "euro"),
        [
            "line 18: customers[0].contacts.technical.email: 'tech-at-acme' is not valid: "
            "expected an e-mail address like ops@example.com",
            "line 19: customers[0].fee.currency: 'euro' is not valid: expected an ISO 4217 currency "
            "code like 'IRR' or 'EUR'",
        ],
    ),
    (
        "missing-required-key",
        broken("    name: ACME\n", ""),
        ["line 16: customers[0].name: required key is missing"],
    ),
    (
        "unknown-probe-type",
        broken("{type: tcp, host: 10.0.0.1, port: 22}", "{type: icmp, host: 10.0.0.1}"),
        ["line 6: servers[0].probe.type: type 'icmp' is not valid: expected 'http', 'tcp', 'dns', 'push'"],
    ),
    (
        # pydantic 2.14 gives this error no expected tags: it was a KeyError and a traceback.
        "probe-without-type",
        broken("{type: tcp, host: 10.0.0.1, port: 22}", "{host: 10.0.0.1, port: 22}"),
        ["line 6: servers[0].probe.type: type is missing: expected 'http', 'tcp', 'dns', 'push'"],
    ),
    # Ids and references of the wrong kind (found by changing the example configuration at
    # random): each was a TypeError in the cross-checks, which put them in sets.
    (
        "server-id-a-mapping",
        broken("  - id: srv-1\n", "  - id: {a: 1}\n"),
        ["line 5: servers[0].id: {'a': 1} is not valid: input should be a valid string",
         "line 13: services[1].server: unknown server 'srv-1'; allowed: (none defined)"],
    ),
    (
        "server-reference-a-list",
        broken("server: srv-1", "server: [srv-1]"),
        ["line 13: services[1].server: ['srv-1'] is not valid: input should be a valid string"],
    ),
    (
        "service-reference-a-mapping",
        broken("    services: [shop]\n", "    services: [{a: 1}]\n"),
        ["line 20: customers[0].services[0]: {'a': 1} is not valid: input should be a valid "
         "string"],
    ),
    (
        "service-kind-a-list",
        broken("kind: project", "kind: [project]"),
        ["line 12: services[1].kind: ['project'] is not valid: expected 'web_panel', "
         "'project' or 'mobile_api'"],
    ),
    (
        # A path with a NUL character: check-config's readability check was a ValueError.
        "path-with-a-nul",
        BASE + 'smtp: {host: mail.example, sender: a@b.example, password_file: "/etc/x\\0y"}\n'
        + 'maildir: "/var/mail\\0"\n',
        ["line 23: smtp.password_file: '/etc/x\\x00y' is not valid: expected a file path, or "
         "${CREDENTIALS_DIRECTORY}/NAME for the systemd credential NAME (LoadCredential=NAME:"
         "...); no other variable, and no ~, is expanded; no NUL character",
         "line 24: maildir: '/var/mail\\x00' is not valid: expected a path without a NUL "
         "character"],
    ),
    (
        # A name longer than a file name may be: ZoneInfo's OSError was a traceback.
        "zone-name-too-long",
        broken("  timezone: Asia/Tehran\n", "  timezone: " + "x" * 300 + "\n"),
        [f"line 2: provider.timezone: {'x' * 300!r} is not valid: not a known IANA time zone "
         "(e.g. 'Asia/Tehran', 'UTC')"],
    ),
    (
        # The detection duty's check computed with it (found by test_any_source.py's Kuma
        # database: maxretries 6e90): a traceback where the schema names it.
        "fail-after-far-out-of-range",
        broken('url: "https://panel.example/healthz"}',
               'url: "https://panel.example/healthz", fail_after: ' + "9" * 400 + "}"),
        ["line 10: services[0].probe.fail_after: " + "9" * 400 + " is not valid: input "
         "should be less than or equal to 100"],
    ),
    (
        # The schema reads `true` as 1 day; the engine then refused the tiers (a traceback).
        "tier-credit-true",
        BASE + "policy:\n  tiers:\n    - {name: 1w, min_downtime: 90m, credit_days: 7}\n"
        "    - {name: 2w, min_downtime: 3h, credit_days: true}\n",
        ["line 26: policy.tiers[1].credit_days: true is not valid: expected a number, not "
         "true or false"],  # not 1 day, as pydantic's lax mode read it
    ),
    (
        "duplicate-yaml-key",
        broken("  calendar: jalali\n", "  calendar: jalali\n  calendar: gregorian\n"),
        ["line 4: provider.calendar: duplicate key 'calendar'; each key may appear once"],
    ),
    (
        "domain-of-two-customers",
        BASE
        + "  - id: other\n"
        + "    name: Other\n"
        + "    contacts: {technical: {email: it@other.example}}\n"
        + "    fee: {amount: 10, currency: EUR}\n"
        + "    sites: [{domain: shop.acme.example}]\n",
        [
            "line 27: customers[1].sites[0].domain: 'shop.acme.example' is already used by "
            "customers[0].sites[0]; a domain belongs to exactly one customer (L-1)"
        ],
    ),
    (
        "body-bound-over-the-shared-budget",
        broken('url: "https://shop.example/"', 'url: "https://shop.example/", max_body_bytes: 2000000')
        + "monitor: {max_body_memory: 1500000}\n",
        [
            "line 14: services[1].probe.max_body_bytes: 2000000 bytes is more than "
            "monitor.max_body_memory (1500000 bytes), which all probes' bodies share; lower it "
            "or raise max_body_memory"
        ],
    ),
    (
        "bad-nameserver",
        BASE + "monitor: {resolver: {nameservers: [dns.example, '127.0.0.1:70000']}}\n",
        [
            "line 23: monitor.resolver.nameservers[0]: 'dns.example' is not valid: expected an IP "
            "address, IP:port or [IPv6]:port, e.g. '9.9.9.9' or '127.0.0.1:5353'",
            "line 23: monitor.resolver.nameservers[1]: '127.0.0.1:70000' is not valid: expected a "
            "port 1-65535 after the address",
        ],
    ),
    (
        "not-yaml",
        "provider: {timezone: UTC\nservers: []\n",
        ["line 2: (file): not valid YAML: did not find expected ',' or '}'"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_config_names_path_line_and_value(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.yaml")
    assert [str(issue) for issue in caught.value.issues] == expected


def test_an_unknown_server_among_many_is_named_with_the_nearest_not_every_one() -> None:
    """A configuration of thousands of servers listed every id after a mistyped one (one
    line of tens of kilobytes); more than 20 are counted, with the nearest."""
    servers = "".join(f"  - id: srv-{n}\n    probe: {{type: tcp, host: 10.0.{n // 250}."
                      f"{n % 250}, port: 22}}\n" for n in range(2, 3000))
    text = broken("    server: srv-1\n", "    server: srv-1234x\n").replace(
        "services:\n", servers + "services:\n", 1)
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    [issue] = [i for i in error.value.issues if "server" in i.path]
    assert issue.message.startswith(
        "unknown server 'srv-1234x'; allowed: 2,999 ids, the nearest srv-1234, "), issue.message
    assert len(issue.message) < 120


def test_base_config_is_valid() -> None:
    config = parse_config(BASE)
    assert [s.id for s in config.services] == ["panel", "shop"]


def test_all_errors_reported_at_once() -> None:
    text = broken("timezone: Asia/Tehran", "timezone: Nowhere").replace(
        "server: srv-1", "server: x"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [issue.path for issue in caught.value.issues] == [
        "provider.timezone",
        "services[1].server",
    ]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in CASES[:3]], ids=[c[0] for c in CASES[:3]]
)
def test_cli_exits_2_with_each_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert main(["-c", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    for line in expected:
        assert line in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_subprocess_config_error_has_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(broken("calendar: jalali", "calendar: persian"))
    done = subprocess.run(
        [*sla_monitor_command(), "-c", str(path), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "provider.calendar: 'persian' is not valid" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(tmp_path / "nope.yaml"), "check-config"]) == 2
    assert "nope.yaml: 1 configuration error(s)" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check-config", "--no-such-option"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "field", "allowed"),
    [
        ("http: {listen: '127.0.0.1:²'}\n", "http.listen", "expected HOST:PORT"),
        ("monitor: {resolver: {nameservers: ['9.9.9.9:٣']}}\n", "monitor.resolver.nameservers",
         "port 1-65535 after the address"),
    ],
)
def test_a_port_in_other_digits_is_a_clear_error(extra: str, field: str, allowed: str) -> None:
    """Numbers are ASCII: "²" and "٣" pass str.isdigit and int() refuses them (a crash in a
    validator read as 'invalid literal for int()')."""
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + extra, "test.yaml")
    shown = [str(issue) for issue in caught.value.issues]
    assert len(shown) == 1 and field in shown[0] and allowed in shown[0], shown
    assert "invalid literal" not in shown[0]


def test_a_json_path_part_in_other_digits_is_a_key_not_a_crash() -> None:
    from monitor.probes.http import json_path

    assert json_path("checks.².ok") == (("checks", None), ("²", None), ("ok", None))
    assert json_path("checks.-1") == (("checks", None), ("-1", -1))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("port: 22}", "port: true}", "line 6: servers[0].probe.port: true is not valid: "
         "expected a number, not true or false"),
        ("port: 22}", "port: 22, fail_after: false}", "line 6: servers[0].probe.fail_after: "
         "false is not valid: expected a number, not true or false"),
        ("calendar: jalali\n", "calendar: jalali\nmonitor: {canary_quorum: true}\n",
         "line 4: monitor.canary_quorum: true is not valid: expected a number, not true or "
         "false"),
        ("calendar: jalali\n", "calendar: jalali\nsmtp: {host: mail.example, port: true, sender: ops@acme.example}\n",
         "line 4: smtp.port: true is not valid: expected a number, not true or false"),
    ],
)
def test_true_or_false_is_not_a_number(old: str, new: str, expected: str) -> None:
    """YAML's true and false are not 1 and 0: pydantic's lax mode took ``port: true`` as
    port 1 and ``fail_after: true`` as one failure, and the file was "valid"."""
    with pytest.raises(ConfigError) as caught:
        parse_config(broken(old, new), "test.yaml")
    assert [str(issue) for issue in caught.value.issues] == [expected]
