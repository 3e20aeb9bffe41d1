"""A Gatus configuration as an sla-monitor one (``sla-monitor import gatus``): endpoints,
conditions, groups and alerting; and a list of what could not be mapped, and why.

What each part becomes (the README's "Coming from Gatus"):

* An endpoint ``https://…`` or ``http://…`` is a **project** (an HTTP probe: method,
  headers, ``body`` (``graphql: true`` wraps it as Gatus does), interval,
  ``client.timeout``, ``client.insecure``, ``client.ignore-redirect``; a proxy, OAuth2, a
  client certificate or a resolver of its own are reported), on the **server** of its
  host: the endpoint ``tcp://HOST:PORT`` of that host when there is one, else a server made
  for it, probed by TCP on the URL's port. An endpoint ``tcp://…`` is its host's server
  (a host's further ``tcp://`` endpoints, another port, are projects on it); so is an
  endpoint ``tls://…``, probed by TCP with ``tls`` (``client.insecure``: not verified;
  ``[CERTIFICATE_EXPIRATION] > D`` its ``tls.cert_expiry_warning``), and ``starttls://…``,
  the same after SMTP's STARTTLS (``starttls: smtp``).
* Conditions: ``[STATUS] == N`` (or ``== any(N, M)``, ``< 300``, ``< 400``) →
  ``expected_status``;
  ``[BODY] == pat(*TEXT*)`` → ``body_contains``; ``[BODY].a.b == V`` → ``json``;
  ``[RESPONSE_TIME] < N`` → ``max_response_time`` (milliseconds);
  ``[CERTIFICATE_EXPIRATION] > D`` → ``tls.cert_expiry_warning``; ``[CONNECTED] == true``
  is what a TCP probe checks. Anything else is reported, not guessed.
* An endpoint's first alert's ``failure-threshold`` and ``success-threshold`` (where the
  alert leaves them out, its provider's ``default-alert``'s, as Gatus fills them; else
  Gatus's defaults 3 and 2) → ``fail_after`` and ``recover_after``.
* A **group** → a **draft customer** owning the group's projects, its sites the projects'
  host names; its contact (``@example.invalid``) and fee (0) are placeholders to fill in,
  and the report says so. Endpoints without a group belong to no customer.
* ``alerting``: Slack, Discord and Microsoft Teams webhooks, Telegram, ntfy → Apprise URLs
  for ``operators.notify`` (they hold tokens: the command writes them to their own file);
  ``email.to`` → ``provider.operators``. Other providers are reported.
* ``maintenance`` and an endpoint's ``maintenance-windows`` → ``maintenance.recurring``
  (the global one on every server, an endpoint's on what it became), each occurrence then
  announced to the customers (D-3), with a placeholder reason the report names.
* An endpoint with ``dns`` (``query-name``, ``query-type``; ``url`` the nameserver's IP
  address, port 53 unless given) is a **server** probed by DNS: ``[DNS_RCODE] == NOERROR``
  is what the probe checks, ``[BODY] == V`` (an A, AAAA, CNAME, MX, NS or PTR query)
  becomes ``expected: [V]``.
* An external endpoint with ``heartbeat.interval`` is a **server** probed by push (its job
  keeps calling ``/api/v1/endpoints/KEY/external`` with its token: the report prints the
  token's line for ``http.tokens_file``, hashed); one without is reported.
* ICMP, SSH, gRPC and WebSocket endpoints, disabled endpoints and ``[BODY]``
  conditions other than the above are reported (sla-monitor probes HTTP, TCP and DNS), and so
  is the connectivity checker, and a URL or
  header naming an environment variable (``${TOKEN}``, which Gatus fills in and sla-monitor
  does not: the endpoint, or the header, is left out).

>>> found = convert({"endpoints": [{"name": "web", "group": "acme",
...     "url": "https://acme.example/health", "conditions": ["[STATUS] == 200"]}]})
>>> found.document["services"][0]["probe"]["expected_status"], found.document["customers"][0]["sites"]
([200], [{'domain': 'acme.example'}])
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, get_args

from monitor.config.durations import parse_duration
from monitor.config.imported import (
    Converted,
    Unmapped,
    asked_name,
    assemble,
    draft_customer,
    host_server,
    lasts_as_a_window,
    nameserver,
    other_clock,
    push_probe,
    push_token,
    request_body,
    slug,
    within_detection_duty,
)
from monitor.config.schema import DNS_RECORDS, TIME_OF_DAY, Weekday, time_of_day

__all__ = ["Converted", "Unmapped", "convert"]

GATUS_INTERVAL = "60s"  # Gatus's default
GATUS_TIMEOUT = "10s"


_CONDITION = re.compile(r"^\s*\[(\w+)\]((?:\.[\w-]+|\[\d+\])*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")


# A number in a condition is ASCII digits, as Gatus reads it (Go's strconv): str.isdigit()
# takes "²" (which int() then refuses) and "۲۰۰", and int() and float() read any Unicode
# digit; such a condition is not one this reads (reported unmapped).
_WHOLE = re.compile(r"[0-9]+")

# A Gatus function as the value compared with (pat(*UP*), any(a, b), len(…), has(…)): not
# a value a JSON equality could hold.
_FUNCTION = re.compile(r"^(pat|any|len|has)\(")

# Gatus expands environment variables ($VAR, ${VAR}: Go's os.ExpandEnv) in its whole
# configuration when it starts; sla-monitor expands none (secrets go in files), so such a
# value would be sent as those very characters.
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_WHY_VARIABLE = ("an environment variable Gatus fills in when it starts; sla-monitor does "
                 "not: write the value here by hand")


def _scalar(text: str) -> Any:
    text = text.strip().strip('"')
    if text in ("true", "false"):
        return text == "true"
    if not text.isascii():
        return text
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _apply_condition(probe: dict[str, Any], condition: str, where: str,
                     converted: Converted) -> None:
    found = _CONDITION.match(condition)
    if found is None:
        converted.unmapped.append(Unmapped(where, condition, "not a condition this reads"))
        return
    placeholder, path, operator, value = found.groups()
    if placeholder == "STATUS" and not path:
        if operator == "==" and _WHOLE.fullmatch(value):
            probe.setdefault("expected_status", []).append(int(value))
            return
        # Gatus's any(): one of several codes.
        codes = re.fullmatch(r"any\((.*)\)", value)
        listed = [code.strip() for code in codes[1].split(",")] if codes else []
        if operator == "==" and listed and all(_WHOLE.fullmatch(code) for code in listed):
            probe.setdefault("expected_status", []).extend(int(code) for code in listed)
            return
        classes = {"300": ["2xx"], "400": ["2xx", "3xx"], "500": ["2xx", "3xx", "4xx"]}
        if operator == "<" and value in classes:
            probe["expected_status"] = classes[value]
            return
    elif placeholder == "BODY" and not path and operator == "==":
        pattern = re.fullmatch(r"pat\(\*([^*]+)\*\)", value)
        if pattern and "body_contains" not in probe:
            probe["body_contains"] = pattern[1]
            return
    elif (placeholder == "BODY" and path and operator == "==" and "json" not in probe
          and not _FUNCTION.match(value)):
        probe["json"] = {"path": path.lstrip(".").replace("[", ".").replace("]", ""),
                         "equals": _scalar(value)}
        return
    elif placeholder == "RESPONSE_TIME" and operator in ("<", "<=") and _WHOLE.fullmatch(value):
        probe["max_response_time"] = f"{int(value)}ms"
        return
    elif placeholder == "CERTIFICATE_EXPIRATION" and operator in (">", ">="):
        probe.setdefault("tls", {})["cert_expiry_warning"] = value
        return
    elif placeholder == "CONNECTED" and operator == "==" and value == "true":
        return  # what every probe checks first
    converted.unmapped.append(Unmapped(where, condition, {
        "BODY": "one body_contains (pat(*TEXT*)) and one JSON equality to a plain value are "
                "kept; others (more of them, pat() or any() on a JSON value) are not",
        "DOMAIN_EXPIRATION": "sla-monitor does not read domain registrations",
        "DNS_RCODE": "only an endpoint with dns: asks a nameserver",
    }.get(placeholder, "no equivalent in sla-monitor's probes")))


# Client settings the probes have no equivalent of: (what is shown, why); a URL is shown
# without its password.
_CLIENT = {
    "proxy-url": (None, "sla-monitor's probes connect directly, not through a proxy"),
    "dns-resolver": (None, "sla-monitor's probes share one resolver: monitor.resolver."
                           "nameservers"),
    "oauth2": ("(OAuth2 client credentials)", "sla-monitor's probes fetch no OAuth2 token; "
                                                "put an Authorization header by hand"),
    "tls": ("(a client certificate)", "sla-monitor's probes present no client certificate"),
    "identity-aware-proxy": ("(Identity-Aware Proxy)", "sla-monitor's probes fetch no IAP "
                                                       "token"),
    "ssh-tunnel": ("(an SSH tunnel)", "sla-monitor's probes connect directly, not through "
                                      "an SSH tunnel"),
}


def _client_unmapped(client: dict[str, Any], where: str, converted: Converted) -> None:
    for key, (shown, why) in _CLIENT.items():
        value = client.get(key)
        if value:
            if shown is None:
                text = str(value)
                password = urllib.parse.urlsplit(text).password
                shown = text.replace(password, "***") if password else text
            converted.unmapped.append(Unmapped(f"{where}.client.{key}", shown, why))


def _shaped(value: Any, kind: type[dict[str, Any]] | type[list[Any]], where: str,
            converted: Converted) -> Any:
    """``value`` when it is what Gatus reads there (``kind``: a mapping, a list; absent:
    an empty one). Anything else Gatus itself refuses: it is reported as not mapped, at
    ``where``, and read as empty, so that the rest of the file is still imported. A value
    the configuration carries as it is (a threshold, a timeout) is not checked here: the
    configuration's own check refuses it, naming the endpoint (``in_source``)."""
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    converted.unmapped.append(Unmapped(where, str(value), _SHAPES[kind]))
    return kind()


_SHAPES = {dict: "not a mapping, which Gatus reads here: nothing of it is carried",
           list: "not a list, which Gatus reads here: nothing of it is carried"}


def _first_alert(endpoint: dict[str, Any], where: str, converted: Converted,
                 alerting: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's first alert as Gatus runs it: each field it leaves out is taken from
    its provider's ``alerting.<type>.default-alert``."""
    alerts = _shaped(endpoint.get("alerts"), list, f"{where}.alerts", converted)
    first = alerts[0] if alerts and isinstance(alerts[0], dict) else {}
    provider = alerting.get(str(first.get("type"))) if first else None
    default = provider.get("default-alert") if isinstance(provider, dict) else None
    return {**default, **first} if isinstance(default, dict) else first


def _endpoint(endpoint: dict[str, Any], where: str, converted: Converted,
              alerting: dict[str, Any]) -> tuple[str, dict[str, Any], str, int] | None:
    """(kind, probe, host, port) of one endpoint, or None (reported)."""
    url = str(endpoint.get("url", ""))
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    if endpoint.get("enabled") is False:
        converted.unmapped.append(Unmapped(where, url, "disabled in Gatus"))
        return None
    variable = _VARIABLE.search(url)
    if variable is not None:
        converted.unmapped.append(Unmapped(f"{where}.url", variable[0], _WHY_VARIABLE))
        return None
    client = _shaped(endpoint.get("client"), dict, f"{where}.client", converted)
    timing: dict[str, Any] = {"interval": str(endpoint.get("interval", GATUS_INTERVAL)),
              "timeout": str(client.get("timeout", GATUS_TIMEOUT))}
    first = _first_alert(endpoint, where, converted, alerting)
    # Carried as they are: a threshold that is not a whole number is refused by the
    # configuration's check, at this endpoint's place.
    timing["fail_after"] = first.get("failure-threshold", 3)
    timing["recover_after"] = first.get("success-threshold", 2)
    if isinstance(endpoint.get("dns"), dict):
        asked = _dns(endpoint, url, where, converted, timing)
        if asked is None:
            return None
        within_detection_duty(asked[0], where, converted)
        return "server", asked[0], asked[0]["server"], asked[1]
    if scheme in ("http", "https") and parsed.hostname:
        probe: dict[str, Any] = {"type": "http", "url": url, **timing}
        method = str(endpoint.get("method", "GET")).upper()
        if method != "GET":
            probe["method"] = method
        headers = endpoint.get("headers") or {}
        if not isinstance(headers, dict):
            probe["headers"] = headers  # refused by the configuration's check, at its place
            headers = {}
        for name, value in headers.items():
            variable = _VARIABLE.search(str(value))
            if variable is None:
                probe.setdefault("headers", {})[str(name)] = str(value)
            else:
                converted.unmapped.append(Unmapped(f"{where}.headers.{name}", variable[0],
                                                   _WHY_VARIABLE))
        body = endpoint.get("body")
        variable = _VARIABLE.search(str(body)) if body else None
        if variable is not None:
            converted.unmapped.append(Unmapped(f"{where}.body", variable[0], _WHY_VARIABLE))
        elif body and endpoint.get("graphql"):  # Gatus wraps it, and sends it as JSON
            request_body(probe, json.dumps({"query": str(body)}, ensure_ascii=False),
                         "application/json", where, converted)
        elif body:
            request_body(probe, str(body), None, where, converted)
        if client.get("insecure"):
            probe["tls"] = {"verify": False}
        if client.get("ignore-redirect"):
            probe["follow_redirects"] = False
        _client_unmapped(client, where, converted)
        port = parsed.port or (443 if scheme == "https" else 80)
        kind = "project"
    elif scheme in ("tcp", "tls", "starttls") and parsed.hostname and parsed.port:
        probe = {"type": "tcp", "host": parsed.hostname, "port": parsed.port, **timing}
        if scheme != "tcp":  # the connect, then a TLS handshake (Gatus's TLS endpoint)
            probe["tls"] = {"verify": False} if client.get("insecure") else {}
        if scheme == "starttls":  # after SMTP's STARTTLS, as Gatus asks it
            probe["starttls"] = "smtp"
        port, kind = parsed.port, "server"
    else:
        what = scheme or ("dns" if endpoint.get("dns") else "grpc" if endpoint.get("grpc")
                          else "unknown")
        converted.unmapped.append(Unmapped(where, url, f"an endpoint of type {what}: "
                                           "sla-monitor probes HTTP(S), TCP and DNS (an "
                                           "endpoint with dns:)"))
        return None
    within_detection_duty(probe, where, converted)
    conditions = _shaped(endpoint.get("conditions"), list, f"{where}.conditions", converted)
    for c, condition in enumerate(conditions):
        if probe["type"] == "http" or (
                "tls" in probe and str(condition).startswith("[CERTIFICATE_EXPIRATION]")):
            _apply_condition(probe, str(condition), f"{where}.conditions[{c}]", converted)
        elif not str(condition).startswith("[CONNECTED]"):
            converted.unmapped.append(Unmapped(
                f"{where}.conditions[{c}]", str(condition), "a TCP probe checks only that it "
                "connects (and shakes hands, with tls) within its timeout"))
    return kind, probe, parsed.hostname or "", port


#: The value of Gatus's ``[BODY]`` for a DNS endpoint, by query type: the last answer's
#: address or name (an SRV's ``target:port``, and nothing of other types, which an
#: ``expected`` value of sla-monitor's does not say).
_DNS_BODIES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR")


def _dns(endpoint: dict[str, Any], url: str, where: str, converted: Converted,
         timing: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """A Gatus DNS endpoint (``url`` the nameserver, ``dns``: query-name, query-type) as a
    DNS probe and its port, or None (reported). Its conditions: ``[DNS_RCODE] ==
    NOERROR`` is what the probe checks; ``[BODY] == V`` becomes ``expected: [V]`` (Gatus
    compares the answer's last record, sla-monitor each record: one of them must be V)."""
    query = endpoint["dns"]
    host, port_text = _host_and_port(url.strip())
    if not _WHOLE.fullmatch(port_text):
        converted.unmapped.append(Unmapped(f"{where}.url", url, "a nameserver's address "
                                           "and its port, a number"))
        return None
    if nameserver(host, f"{where}.url", converted) is None:
        return None
    name = asked_name(str(query.get("query-name", "")), f"{where}.dns.query-name", converted)
    if name is None:
        return None
    record = str(query.get("query-type", "")).upper()
    if record not in DNS_RECORDS:
        converted.unmapped.append(Unmapped(f"{where}.dns.query-type", record, "one of "
                                           + ", ".join(DNS_RECORDS)))
        return None
    port = int(port_text)
    probe: dict[str, Any] = {"type": "dns", "server": host, "name": name,
                             **({} if port == 53 else {"port": port}),
                             **({} if record == "A" else {"record": record}), **timing}
    conditions = _shaped(endpoint.get("conditions"), list, f"{where}.conditions", converted)
    for c, condition in enumerate(conditions):
        text, place = str(condition), f"{where}.conditions[{c}]"
        found = _CONDITION.match(text)
        placeholder, path, operator, value = found.groups() if found else ("", "", "", "")
        if not path and operator == "==" and (placeholder, value.strip('"')) in (
                ("DNS_RCODE", "NOERROR"), ("CONNECTED", "true")):
            continue  # what a DNS probe checks
        if placeholder == "BODY" and not path and operator == "==" and record in _DNS_BODIES:
            probe.setdefault("expected", []).append(value.strip().strip('"'))
            continue
        converted.unmapped.append(Unmapped(place, text, "a DNS probe is up when the answer's "
                                           "code is NOERROR and it holds a record of the "
                                           "type (and each expected value: [BODY] == V of an "
                                           + ", ".join(_DNS_BODIES) + " query)"))
    return probe, port


def _host_and_port(address: str) -> tuple[str, str]:
    """``8.8.8.8``, ``8.8.8.8:5353``, ``2001:db8::53`` or ``[2001:db8::53]:5353`` as
    (host, port), the port 53 when none is given (as Gatus reads it)."""
    if address.startswith("[") and "]" in address:
        host, _, rest = address[1:].partition("]")
        return host, rest.removeprefix(":") if rest.startswith(":") else rest or "53"
    if address.count(":") == 1:
        host, _, port = address.partition(":")
        return host, port
    return address, "53"


def _alerting(alerting: dict[str, Any], converted: Converted) -> list[str]:
    """Apprise URLs (into ``converted.channels``); the operators' e-mail addresses."""
    operators: list[str] = []
    for name, settings in alerting.items():
        where = f"alerting.{name}"
        settings = settings if isinstance(settings, dict) else {}
        webhook = settings.get("webhook-url")
        if name in ("slack", "discord", "teams", "teams-workflows", "mattermost",
                    "rocketchat", "google-chat") and webhook:
            converted.channels.append((where, str(webhook)))  # Apprise takes them as they are
        elif name == "telegram" and settings.get("token") and settings.get("id"):
            converted.channels.append((where, f"tgram://{settings['token']}/{settings['id']}"))
        elif name == "ntfy" and settings.get("topic"):
            base = urllib.parse.urlsplit(str(settings.get("url", "https://ntfy.sh")))
            secure = "ntfys" if base.scheme == "https" else "ntfy"
            converted.channels.append((where, f"{secure}://{base.netloc}/{settings['topic']}"))
        elif name == "email" and settings.get("to"):
            operators += [a.strip() for a in str(settings["to"]).split(",") if a.strip()]
            converted.notes.append(
                "alerting.email: its recipients are provider.operators; the SMTP server "
                "(host, port, user, password) goes in smtp:, with the password in a file")
        else:
            converted.unmapped.append(Unmapped(where, name, "no Apprise URL is made for it; "
                                               "add one to operators.notify by hand"))
    return operators


_WEEKDAYS: tuple[str, ...] = get_args(Weekday)
#: The reason a recurring window tells customers, until the operator writes theirs.
WINDOW_REASON = "Scheduled maintenance"


def _recurring(spec: Any, where: str, ident: str, services: list[str],
               converted: Converted) -> dict[str, Any] | None:
    """A Gatus maintenance window (``maintenance``, an endpoint's ``maintenance-windows``:
    start, duration, every, timezone) as a recurring window of ``services``
    (``maintenance.recurring``), or None (reported). Gatus holds back its alerts then;
    sla-monitor records each occurrence ahead and announces it to the customers (D-3)."""
    if not isinstance(spec, dict):
        converted.unmapped.append(Unmapped(where, str(spec), "not a maintenance window"))
        return None
    if spec.get("enabled") is False:
        converted.unmapped.append(Unmapped(where, "(maintenance window)", "disabled in Gatus"))
        return None
    # Gatus's YAML (1.2) reads an unquoted 23:00 as text; this one's (1.1), as the
    # sexagesimal number 1380: read back as the schema reads it.
    given = time_of_day(spec.get("start", ""))
    start = re.fullmatch(TIME_OF_DAY, str(given))
    if start is None:
        converted.unmapped.append(Unmapped(f"{where}.start", str(spec.get("start", "")),
                                           "not a time of day HH:MM"))
        return None
    duration = str(spec.get("duration", ""))
    try:
        seconds = parse_duration(duration)
    except ValueError:
        seconds = -1.0
    if not lasts_as_a_window(seconds, f"{where}.duration", duration, converted):
        return None
    every = spec.get("every") or list(_WEEKDAYS)  # none given: every day, as Gatus reads it
    days = [str(day).lower() for day in every] if isinstance(every, list) else []
    if not days or any(day not in _WEEKDAYS for day in days):
        converted.unmapped.append(Unmapped(f"{where}.every", str(every),
                                           "weekday names (Monday ... Sunday)"))
        return None
    other_clock(converted, where, "Gatus", start[0], str(spec.get("timezone") or "UTC"))
    return {"id": ident, "services": services, "every": list(dict.fromkeys(days)),
            "at": start[0], "duration": duration,
            "reason": WINDOW_REASON}


def _windows(data: dict[str, Any], made: list[tuple[str, int, dict[str, Any]]],
             servers: list[str], converted: Converted) -> list[dict[str, Any]]:
    """The recurring windows of a Gatus configuration: its global ``maintenance`` on every
    server (a server's window covers its projects), and each endpoint's
    ``maintenance-windows`` on what it became (``made``: its service or server id, its
    number and the endpoint)."""
    found = []
    taken: set[str] = set()
    spec = data.get("maintenance")
    if spec and servers:
        found.append(_recurring(spec, "maintenance", slug("gatus-maintenance", taken),
                                servers, converted))
    elif spec:
        converted.unmapped.append(Unmapped("maintenance", "(maintenance window)",
                                           "no endpoint was carried for it to cover"))
    for ident, number, endpoint in made:
        for j, spec in enumerate(_shaped(endpoint.get("maintenance-windows"), list,
                                         f"endpoints[{number}].maintenance-windows",
                                         converted)):
            found.append(_recurring(spec, f"endpoints[{number}].maintenance-windows[{j}]",
                                    slug(f"{ident}-maintenance", taken), [ident], converted))
    windows = [window for window in found if window is not None]
    if windows:
        converted.notes.append(
            f"maintenance.recurring: {len(windows)} window(s) from Gatus, each occurrence "
            "recorded 7 days ahead and announced to the customers (D-3); their reason, "
            f"{WINDOW_REASON!r}, is shown to customers: write yours")
    return windows


def _unprobed(data: dict[str, Any], converted: Converted) -> None:
    """Report the parts of a Gatus configuration besides its endpoints and alerting that
    the configuration does not carry, each by its place."""
    if data.get("connectivity"):
        converted.unmapped.append(Unmapped(
            "connectivity", "(connectivity checker)", "add its target to monitor.canaries "
            "(a tcp probe): when the canaries fail, results are unknown, not down"))


def _external(external: Any, number: int, taken: set[str], converted: Converted,
              alerting: dict[str, Any]) -> dict[str, Any] | None:
    """An external endpoint (its job pushes its results) as a server probed by push (README
    "Push targets"): its job calls every ``heartbeat.interval``, which Gatus's endpoint
    may leave out (then only the results pushed are seen: reported, not carried)."""
    place = f"external-endpoints[{number}]"
    if not isinstance(external, dict):
        converted.unmapped.append(Unmapped(place, str(external), "not a mapping"))
        return None
    place = _place_named(place, external)
    name = str(external.get("name", ""))
    if external.get("enabled") is False:
        converted.unmapped.append(Unmapped(place, name, "disabled in Gatus"))
        return None
    heartbeat = _shaped(external.get("heartbeat"), dict, f"{place}.heartbeat", converted)
    interval = heartbeat.get("interval")
    try:
        seconds = parse_duration(str(interval)) if interval else None
    except ValueError:
        seconds = None
    if seconds is None or seconds <= 0:
        converted.unmapped.append(Unmapped(
            f"{place}.heartbeat.interval", str(interval or "(none)"), "how often its job "
            "calls, a duration: without it Gatus sees only the results pushed, and a push "
            "target is down when its job stops calling"))
        return None
    threshold = _first_alert(external, place, converted, alerting).get("failure-threshold", 3)
    probe = push_probe(seconds, threshold if type(threshold) is int and threshold >= 1 else 3,
                       place, converted)
    if probe is None:
        return None
    group = external.get("group")
    ident = slug(f"{group}-{name}" if group else name, taken, fallback="external")
    push_token(ident, external.get("token"), place, "/api/v1/endpoints/KEY/external",
               converted)
    converted.sources["servers", ident] = place
    return {"id": ident, "name": name or ident, "probe": probe}


def _place(number: int, endpoint: dict[str, Any]) -> str:
    """An endpoint's place in the Gatus file, as a refusal names it: ``endpoints[3] 'web'``."""
    return _place_named(f"endpoints[{number}]", endpoint)


def _place_named(place: str, endpoint: dict[str, Any]) -> str:
    name = endpoint.get("name")
    return place + ("" if name is None else f" {str(name)!r}")


def convert(data: Any) -> Converted:
    """``data``: a Gatus configuration as YAML loads it."""
    converted = Converted({})
    data = data if isinstance(data, dict) else {}
    taken: set[str] = set()
    servers: dict[str, dict[str, Any]] = {}  # host -> server
    services: list[dict[str, Any]] = []
    groups: dict[str, list[tuple[str, str]]] = {}  # group -> [(service id, host)]
    endpoints = [(i, _shaped(e, dict, f"endpoints[{i}]", converted))
                 for i, e in enumerate(data.get("endpoints") or [])]
    alerting = _shaped(data.get("alerting"), dict, "alerting", converted)
    found = [(i, e, _endpoint(e, f"endpoints[{i}]", converted, alerting))
             for i, e in endpoints if e]
    _unprobed(data, converted)
    servers_made: set[int] = set()
    made: list[tuple[str, int, dict[str, Any]]] = []  # what each endpoint became
    for i, endpoint, result in found:  # servers first: the projects' hosts
        if result is not None and result[0] == "server" and result[2] not in servers:
            servers[result[2]] = {"id": slug(str(endpoint.get("name", result[2])), taken,
                                             fallback=result[2]),
                                  "name": str(endpoint.get("name", result[2])),
                                  "probe": result[1]}
            converted.sources["servers", servers[result[2]]["id"]] = _place(i, endpoint)
            servers_made.add(i)
            made.append((servers[result[2]]["id"], i, endpoint))
    for i, endpoint, result in found:
        if result is None or i in servers_made:
            continue
        # A project; a host's further TCP endpoints (a database port) are projects on it.
        _kind, probe, host, port = result
        kind = "project"
        host_server(servers, host, port, probe, taken, converted, _place(i, endpoint))
        name = str(endpoint.get("name", host))
        group = endpoint.get("group")
        ident = slug(f"{group}-{name}" if group else name, taken, fallback=host)
        services.append({"id": ident, "kind": kind, "name": name,
                         "server": servers[host]["id"], "probe": probe})
        converted.sources["services", ident] = _place(i, endpoint)
        made.append((ident, i, endpoint))
        if group:
            groups.setdefault(str(group), []).append((ident, host))
    for i, external in enumerate(data.get("external-endpoints") or []):
        pushed = _external(external, i, taken, converted, alerting)
        if pushed is not None:  # a server of its own, as a DNS endpoint's
            servers[f"external endpoint {i}"] = pushed
    customers = []
    customer_ids: set[str] = set()
    for group, members in groups.items():
        customer = draft_customer(group, "group", members, customer_ids, converted)
        if customer is None:
            converted.unmapped.append(Unmapped(f"group {group!r}", group, "no host name of its "
                                               "endpoints is a domain: no draft customer"))
        else:
            customers.append(customer)
            converted.sources["customers", customer["id"]] = f"the endpoints' group {group!r}"
    operators = _alerting(alerting, converted)
    windows = _windows(data, made, [server["id"] for server in servers.values()], converted)
    return assemble(converted, operators, list(servers.values()), services, customers,
                    {"recurring": windows} if windows else None)
