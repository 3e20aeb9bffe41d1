"""What every import from another monitor shares (``sla-monitor import gatus``,
``sla-monitor import uptime-kuma``): the result and its report of what was not mapped,
names made from the source's, the detection duty (D-1), a server per host."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from monitor.config.credentials import hash_line
from monitor.config.durations import parse_duration
from monitor.config.schema import (
    BODY_LENGTH,
    BODY_METHODS,
    DOMAIN_PATTERN,
    RECURRING_SECONDS,
    domain_name,
    nameserver_address,
)
from monitor.present.formats import format_duration

__all__ = [
    "PLACEHOLDER_EMAIL",
    "Converted",
    "Unmapped",
    "asked_name",
    "assemble",
    "draft_customer",
    "host_server",
    "lasts_as_a_window",
    "nameserver",
    "other_clock",
    "request_body",
    "slug",
    "within_detection_duty",
]

PLACEHOLDER_EMAIL = "contact@{id}.example.invalid"
DETECTION_DEADLINE = 15 * 60  # D-1, the policy's default


@dataclass(frozen=True)
class Unmapped:
    """Something of the source that the configuration does not carry: where, what, why."""

    where: str
    what: str
    why: str


@dataclass
class Converted:
    """The configuration (a YAML document), the operators' channels (Apprise URLs, which
    hold tokens), what was not mapped, and notes on what needs a person (placeholders)."""

    document: dict[str, Any]
    channels: list[tuple[str, str]] = field(default_factory=list)  # (where, Apprise URL)
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    servers: int = 0
    projects: int = 0
    customers: int = 0
    origins: dict[int, str] = field(default_factory=dict)  # the source's id -> service id
    #: What each server, service and customer was made of, in the source's words
    #: (``("services", "acme-web") -> "endpoints[3] 'web'"``); :func:`assemble` turns it
    #: into ``places``: the document's own paths (``services[0]``) -> the source's.
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)


def slug(text: str, taken: set[str], fallback: str = "endpoint") -> str:
    """An identifier made of ``text``, not in ``taken`` (added to it); of ``fallback`` (a
    host name) when ``text`` has no ASCII letter or digit (a name in Persian).

    >>> taken = set(); slug("ACME Shop", taken), slug("acme shop!", taken), slug("1.1", taken)
    ('acme-shop', 'acme-shop-2', 'e-1-1')
    >>> slug("وب‌سایت", taken, fallback="shop.acme.example")
    'shop-acme-example'
    """
    def ascii_id(name: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50]

    base = ascii_id(text) or ascii_id(fallback) or "endpoint"
    if not base[0].isalpha():
        base = "e-" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def within_detection_duty(timing: dict[str, Any], where: str, converted: Converted) -> None:
    """D-1: a failure must be detected within 15 minutes (``interval × fail_after +
    timeout``, the policy's default): a longer interval is shortened, and said."""
    try:
        interval = parse_duration(timing["interval"])
        timeout = parse_duration(timing["timeout"])
    except ValueError:
        return  # the loader names it
    fail_after = timing["fail_after"]
    if type(fail_after) is not int or fail_after < 1:
        return  # not a number of failures (a source's "" or 0): the loader names it
    longest = math.floor((DETECTION_DEADLINE - timeout) / fail_after)
    if interval > longest > timeout:
        timing["interval"] = f"{longest}s"
        converted.notes.append(
            f"{where}: interval {format_duration(interval)} shortened to "
            f"{format_duration(longest)}: {timing['fail_after']} failures and the timeout "
            f"must fit the {format_duration(DETECTION_DEADLINE)} detection duty (D-1)")


def push_probe(interval: float, fail_after: int, where: str, converted: Converted
               ) -> dict[str, Any] | None:
    """A push target's probe (README "Push targets") for a job that calls every
    ``interval`` seconds, a call at most ``min(10 s, interval / 2)`` late; ``fail_after``
    lowered to fit D-1 (said), or None (reported) when even one missed call would be found
    after it: the job's cadence is its own, so the interval is never shortened."""
    timeout = min(10.0, interval / 2)
    fitting = math.floor((DETECTION_DEADLINE - timeout) / interval)  # missed calls allowed
    if fitting < 1:
        converted.unmapped.append(Unmapped(where, format_duration(interval), (
            f"its job calls every {format_duration(interval)}: a missed call would be found "
            f"after the {format_duration(DETECTION_DEADLINE)} detection duty (D-1); a push "
            f"target's job calls at least every {format_duration(DETECTION_DEADLINE - 10)}")))
        return None
    if fail_after > fitting:
        converted.notes.append(
            f"{where}: {fail_after} missed calls lowered to {fitting}: they and the "
            f"{format_duration(timeout)} a call may be late must fit the "
            f"{format_duration(DETECTION_DEADLINE)} detection duty (D-1)")
        fail_after = fitting
    return {"type": "push", "interval": f"{interval:g}s", "timeout": f"{timeout:g}s",
            "fail_after": fail_after}


def push_token(ident: str, token: Any, where: str, url: str, converted: Converted) -> None:
    """Say the line of ``http.tokens_file`` that lets push target ``ident``'s job keep its
    ``token`` and its ``url`` (only the host name changes): the token's hash, never the
    token. A job without a token is told to get one."""
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token):
        converted.notes.append(
            f"{where}: no token to keep: give its job one (sla-monitor token new push:{ident}) "
            f"and have it call POST /api/v1/push/{ident}")
        return
    short = (" (it is shorter than 16 characters: a new one, sla-monitor token new "
             f"push:{ident}, is safer)") if len(token) < 16 else ""
    converted.notes.append(
        f"{where}: its job keeps calling {url} at this monitor's address; add to "
        f"http.tokens_file: {hash_line(f'push:{ident}', token, f'{ident}-job'[:80])}{short}")


def other_clock(converted: Converted, where: str, source: str, at: str, zone: str) -> None:
    """Say that ``source`` read a recurring window's time ``at`` on the clock of ``zone``,
    when that is not UTC (the imported configuration's ``provider.timezone``): the
    configuration reads ``maintenance.recurring`` on the provider's clock."""
    if zone != "UTC":
        converted.notes.append(
            f"{where}: {source} read its start ({at}) on the clock of {zone}; sla-monitor "
            "reads maintenance.recurring on provider.timezone's (UTC unless set): set "
            f"provider.timezone to {zone}, or the time to UTC")


def request_body(probe: dict[str, Any], body: str, content_type: str | None, where: str,
                 converted: Converted) -> None:
    """The source's request ``body`` as the HTTP ``probe``'s, with ``content_type`` as its
    Content-Type unless the source's headers give one; reported instead when the probe
    does not send one (a method other than POST or PUT) or it is too long.

    >>> found = Converted({}); probe = {"method": "POST"}
    >>> request_body(probe, '{"q": 1}', "application/json", "monitors[0]", found)
    >>> probe
    {'method': 'POST', 'body': '{"q": 1}', 'headers': {'Content-Type': 'application/json'}}
    >>> request_body({}, "x", None, "monitors[1]", found); found.unmapped[0].why
    "a body with method GET: sla-monitor's probes send one with POST or PUT"
    """
    method = str(probe.get("method", "GET"))
    if method not in BODY_METHODS:
        converted.unmapped.append(Unmapped(
            f"{where}.body", "(a request body)",
            f"a body with method {method}: sla-monitor's probes send one with "
            f"{' or '.join(BODY_METHODS)}"))
        return
    if len(body) > BODY_LENGTH:
        converted.unmapped.append(Unmapped(
            f"{where}.body", f"(a request body of {len(body):,} characters)",
            f"sla-monitor's probes send at most {BODY_LENGTH:,}"))
        return
    probe["body"] = body
    headers = probe.get("headers")
    named = {str(name).lower() for name in headers} if isinstance(headers, dict) else set()
    if content_type is not None and "content-type" not in named:
        probe.setdefault("headers", {})["Content-Type"] = content_type


def lasts_as_a_window(seconds: float, where: str, shown: str, converted: Converted) -> bool:
    """Whether a window of the source lasting ``seconds`` can be a recurring window of the
    configuration (``maintenance.recurring``'s bounds); else reported at ``where``, as
    ``shown`` there."""
    low, high = RECURRING_SECONDS
    if low <= seconds <= high:
        return True
    converted.unmapped.append(Unmapped(where, shown, "sla-monitor's recurring windows last "
                                       f"from {format_duration(low)} to "
                                       f"{format_duration(high)}"))
    return False


def nameserver(address: str, where: str, converted: Converted) -> str | None:
    """``address`` as a DNS probe's ``server`` takes it (an IP address); else None, and
    reported at ``where``: the check is not carried, the rest of the import is."""
    try:
        return nameserver_address(address)
    except ValueError as problem:
        converted.unmapped.append(Unmapped(where, address or "(none)", str(problem)))
        return None


def asked_name(name: str, where: str, converted: Converted) -> str | None:
    """``name`` as a DNS probe's ``name`` takes it (the final dot dropped); else None, and
    reported at ``where`` (a wildcard, a name with a space ...): the check is not carried,
    the rest of the import is."""
    try:
        return domain_name(name).removesuffix(".")
    except ValueError as problem:
        converted.unmapped.append(Unmapped(where, name or "(none)", str(problem)))
        return None


def host_server(servers: dict[str, dict[str, Any]], host: str, port: int,
                probe: dict[str, Any], taken: set[str], converted: Converted,
                place: str) -> str:
    """The id of ``host``'s server; one is made (probed by TCP on ``port``, at the
    project's interval and timeout) when the source has none, and said to be made of
    ``place``, the project's place in the source."""
    if host not in servers:
        servers[host] = {"id": slug(f"host-{host}", taken), "name": host,
                         "probe": {"type": "tcp", "host": host, "port": port,
                                   **{k: probe[k] for k in ("interval", "timeout")}}}
        converted.sources["servers", servers[host]["id"]] = place
    return str(servers[host]["id"])


def draft_customer(name: str, origin: str, members: list[tuple[str, str]], taken: set[str],
                   converted: Converted) -> dict[str, Any] | None:
    """A draft customer named ``name`` (a Gatus group, a Kuma group or tag: ``origin``)
    owning ``members`` (project id, host): its sites the hosts that are domains; its contact
    and fee placeholders, said in the notes. None when no member is a project on a domain
    (the caller says why)."""
    # A site is a domain: an endpoint on an IP address (dots, but no domain) is no site.
    domains = sorted({host for _, host in members if re.fullmatch(DOMAIN_PATTERN, host)})
    if not members or not domains:
        return None
    ident = slug(name, taken, fallback=domains[0])
    converted.notes.append(f"customer {ident} ({origin} {name!r}): a draft; its contact "
                           "and fee are placeholders to fill in")
    return {
        "id": ident, "name": name,
        "contacts": {"technical": {"email": PLACEHOLDER_EMAIL.format(id=ident)}},
        "fee": {"amount": 0, "currency": "EUR"},
        "services": [service for service, _ in members],
        "sites": [{"domain": domain} for domain in domains],
    }


def assemble(converted: Converted, operators: list[str], servers: list[dict[str, Any]],
             services: list[dict[str, Any]], customers: list[dict[str, Any]],
             maintenance: dict[str, Any] | None = None) -> Converted:
    """The configuration document of an import, and its counts for the report."""
    document: dict[str, Any] = {}
    if operators:
        document["provider"] = {"operators": operators}
    document["servers"] = servers
    document["services"] = services
    document["customers"] = customers
    if maintenance:
        document["maintenance"] = maintenance
    converted.document = document
    for section in ("servers", "services", "customers"):
        for number, item in enumerate(document[section]):
            place = converted.sources.get((section, item["id"]))
            if place is not None:
                converted.places[f"{section}[{number}]"] = place
    converted.servers, converted.projects = len(servers), len(services)
    converted.customers = len(customers)
    return converted
