"""Checks that tie sections of the configuration together.

They run on the raw YAML data, next to the schema validation and not after
it, so that one run reports a typo in one service and a dangling reference
in another together. Each check tolerates values the schema rejects (the
schema reports those); it yields ``(path, message)`` pairs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from monitor.config.durations import parse_duration
from monitor.config.schema import (
    ANNOUNCE_MARGIN,
    BODY_METHODS,
    HTTPProbe,
    HTTPServer,
    MaintenanceSettings,
    MonitorSettings,
    PolicySettings,
    ProbeBase,
    RetentionSettings,
    Statements,
    TierSettings,
)
from monitor.errors import some_of
from monitor.present.formats import format_duration
from monitor.sla import DETECTION_KINDS, within

Issue = tuple[tuple[str | int, ...], str]

def _items(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _seconds(value: Any, default: float) -> float | None:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _int(value: Any, default: int) -> int | None:
    if value is None:
        return default
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds_of(section: dict[str, Any], model: type[BaseModel], name: str) -> float | None:
    """``section[name]`` as seconds, the schema's default when absent (one source of it);
    None when the field's own check refuses it (:func:`_field_accepts`)."""
    value = section.get(name)
    return _seconds(value, model.model_fields[name].default) if _field_accepts(
        model, name, value) else None


def _int_of(section: dict[str, Any], model: type[BaseModel], name: str) -> int | None:
    """``section[name]`` as a whole number, as :func:`_seconds_of`."""
    value = section.get(name)
    return _int(value, model.model_fields[name].default) if _field_accepts(
        model, name, value) else None


def _as_read(section: dict[str, Any], model: type[BaseModel], name: str) -> Any:
    """``section[name]`` as the schema reads it (``true`` is 1 where a number is asked);
    None when absent or when the field's own check refuses it."""
    value = section.get(name)
    read = _REFUSED if value is None else _read(model, name, value)
    return None if read is _REFUSED else read


def _field_accepts(model: type[BaseModel], name: str, value: Any) -> bool:
    """Whether ``model``'s field ``name`` takes ``value`` (absent: its default), bounds
    included. The checks here run beside the schema's, on the file as written: one that
    computed with a value the schema refuses (``fail_after: 10**90``) failed itself."""
    return value is None or _read(model, name, value) is not _REFUSED


_REFUSED = object()


def _read(model: type[BaseModel], name: str, value: Any) -> Any:
    """``value`` as ``model``'s field ``name`` reads it, or :data:`_REFUSED`."""
    try:
        return _adapter(model, name).validate_python(value)
    except ValidationError:
        return _REFUSED


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    form: Any = field.annotation  # with its bounds and validators, when it has any
    if field.metadata:
        form = Annotated.__class_getitem__((form, *field.metadata))  # type: ignore[attr-defined]
    return TypeAdapter(form)


def semantic_issues(data: dict[str, Any]) -> Iterator[Issue]:
    yield from _duplicate_ids(data)
    yield from _references(data)
    yield from _probes(data)
    yield from _policy(data)
    yield from _monitor(data)
    yield from _smtp(data)
    yield from _statements(data)
    yield from _retention(data)
    yield from _backup(data)
    yield from _webhook(data)
    yield from _cluster(data)
    yield from _links(data)
    yield from _maintenance(data)


def _links(data: dict[str, Any]) -> Iterator[Issue]:
    """A customer link's default lifetime is within the longest one allowed."""
    http = _section(data, "http")
    lifetime = _seconds_of(http, HTTPServer, "link_lifetime")
    longest = _seconds_of(http, HTTPServer, "link_max_lifetime")
    if lifetime is not None and longest is not None and lifetime > longest:
        yield ("http", "link_lifetime"), (
            f"{format_duration(lifetime)} is longer than http.link_max_lifetime "
            f"({format_duration(longest)}): allowed: at most that")


def _cluster(data: dict[str, Any]) -> Iterator[Issue]:
    """A cluster shares one PostgreSQL; its vantages and quorum agree."""
    cluster = data.get("cluster")
    if not isinstance(cluster, dict):
        return
    url = _section(data, "storage").get("url")
    if not (isinstance(url, str) and url.startswith("postgresql")):
        shown = "SQLite (the default)" if url is None else repr(url)
        yield ("cluster",), (
            f"requires PostgreSQL, but storage.url is {shown}; allowed: storage.url "
            "postgresql+asyncpg://USER@HOST/DB shared by every node, or no cluster section "
            "(one daemon alone)"
        )
    vantage = cluster.get("vantage", "default")
    vantages = cluster.get("vantages") or [vantage]
    if isinstance(vantages, list) and vantage not in vantages:
        yield ("cluster", "vantages"), (
            f"{vantages!r} does not list this node's vantage {vantage!r}; allowed: a list "
            "that includes cluster.vantage"
        )
    workers = _section(data, "monitor").get("probe_workers")
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0:
        yield ("monitor", "probe_workers"), (
            f"{workers} is not valid in a cluster: a node probes in its own process; "
            "allowed: auto or 0"
        )
    quorum = cluster.get("quorum")
    if (isinstance(quorum, int) and not isinstance(quorum, bool) and isinstance(vantages, list)
            and quorum > len(vantages)):
        yield ("cluster", "quorum"), (
            f"{quorum} is more than the {len(vantages)} vantages in cluster.vantages; allowed: "
            f"1 to {len(vantages)}"
        )


def _backup(data: dict[str, Any]) -> Iterator[Issue]:
    """The daemon's backups copy an SQLite database."""
    storage = _section(data, "storage")
    directory = _section(storage, "backup").get("directory")
    url = storage.get("url")
    if directory is not None and isinstance(url, str) and url.startswith("postgresql"):
        yield ("storage", "backup", "directory"), (
            f"{directory!r}: the daemon's backups copy an SQLite database, and storage.url is "
            "PostgreSQL; allowed: null (back PostgreSQL up with pg_dump)")


def _retention(data: dict[str, Any]) -> Iterator[Issue]:
    retention = _section(_section(data, "storage"), "retention")
    hourly = _seconds_of(retention, RetentionSettings, "hourly_rollups")
    daily = _seconds_of(retention, RetentionSettings, "daily_rollups")
    if hourly is not None and daily is not None and daily < hourly:
        yield (
            ("storage", "retention", "daily_rollups"),
            (
                f"{format_duration(daily)} must be at least hourly_rollups "
                f"({format_duration(hourly)}): the days are made from the hours"
            ),
        )


def _unique(
    items: list[tuple[int, dict[str, Any]]],
    loc: tuple[str | int, ...],
    key: str,
    seen: dict[str, str],
    why: str,
) -> Iterator[Issue]:
    for i, item in items:
        value = item.get(key)
        if not isinstance(value, str):
            continue
        if value in seen:
            yield (*loc, i, key), f"{value!r} is already used by {seen[value]}; {why}"
        else:
            seen[value] = format_loc((*loc, i))


def format_loc(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _duplicate_ids(data: dict[str, Any]) -> Iterator[Issue]:
    unique = "ids must be unique"
    # Servers and services share one namespace: a project's customers depend on its server.
    shared: dict[str, str] = {}
    yield from _unique(_items(data, "servers"), ("servers",), "id", shared, unique)
    yield from _unique(_items(data, "services"), ("services",), "id", shared, unique)
    yield from _unique(_items(data, "customers"), ("customers",), "id", {}, unique)
    monitor = _section(data, "monitor")
    yield from _unique(_items(monitor, "canaries"), ("monitor", "canaries"), "id", {}, unique)
    yield from _unique(_items(data, "ticket_types"), ("ticket_types",), "id", {}, unique)
    domains: dict[str, str] = {}
    for c, customer in _items(data, "customers"):
        # L-1: a domain belongs to exactly one account.
        yield from _unique(
            _items(customer, "sites"),
            ("customers", c, "sites"),
            "domain",
            domains,
            "a domain belongs to exactly one customer (L-1)",
        )


def _name(value: Any) -> str | None:
    """An id or reference as these checks compare it: text; anything else (a list, a
    mapping) names nothing here, and the schema's own check refuses it at its place."""
    return value if isinstance(value, str) else None


def _references(data: dict[str, Any]) -> Iterator[Issue]:
    servers = {_name(item.get("id")) for _, item in _items(data, "servers")} - {None}
    kinds = {_name(item.get("id")): item.get("kind") for _, item in _items(data, "services")}
    kinds.pop(None, None)
    for i, service in _items(data, "services"):
        server = service.get("server")
        if server is not None and _name(server) is None:
            continue  # the schema names it
        if service.get("kind") == "project" and server is None:
            yield (
                ("services", i, "server"),
                "a project must name the server it runs on; allowed: " + _choices(servers),
            )
        elif server is not None and server not in servers:
            yield (
                ("services", i, "server"),
                f"unknown server {server!r}; allowed: {_choices(servers, server)}",
            )
    owners: dict[str, str] = {}
    for c, customer in _items(data, "customers"):
        refs = customer.get("services")
        if not isinstance(refs, list):
            continue
        listed: dict[str, int] = {}
        for r, ref in enumerate(refs):
            if _name(ref) is None:
                continue  # the schema names it
            if ref in listed:
                yield (("customers", c, "services", r),
                       f"{ref!r} is listed twice (also customers[{c}].services[{listed[ref]}]); "
                       "list each service once")
                continue
            if isinstance(ref, str):
                listed[ref] = r
            if ref not in kinds:
                if isinstance(ref, str) and ref in servers:
                    msg = f"{ref!r} is a server; list the customer's projects, their servers are implied"
                else:
                    msg = f"unknown service {ref!r}; allowed: {_choices(kinds, ref)}"
                yield ("customers", c, "services", r), msg
            elif kinds[ref] == "project":
                if ref in owners:
                    yield (
                        ("customers", c, "services", r),
                        f"project {ref!r} already belongs to {owners[ref]}; a project is one customer's",
                    )
                owners.setdefault(ref, f"customers[{c}]")


def _credentials_twice(probe: dict[str, Any]) -> bool:
    """An HTTP probe whose URL carries credentials and whose headers an Authorization: the
    probe client refuses to send both, so every probe of it failed, an outage of the
    configuration's making."""
    url, headers = probe.get("url"), probe.get("headers")
    if not isinstance(url, str) or not isinstance(headers, dict):
        return False
    try:
        parts = urlsplit(url)
        credentials = parts.username is not None or parts.password is not None
    except ValueError:
        return False  # the URL's own check names it
    return credentials and any(str(name).lower() == "authorization" for name in headers)


def _choices(ids: Any, value: object = "") -> str:
    names = [i for i in ids if isinstance(i, str)]
    return some_of(str(value), names) if names else "(none defined)"


def _probe_sites(
    data: dict[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], Any, bool]]:
    for i, server in _items(data, "servers"):
        yield ("servers", i, "probe"), server.get("probe"), "server" in DETECTION_KINDS
    for i, service in _items(data, "services"):
        yield (
            ("services", i, "probe"),
            service.get("probe"),
            _name(service.get("kind")) in DETECTION_KINDS,  # D-1
        )
    monitor = _section(data, "monitor")
    for i, canary in _items(monitor, "canaries"):
        yield ("monitor", "canaries", i, "probe"), canary.get("probe"), False


def _probes(data: dict[str, Any]) -> Iterator[Issue]:
    policy = _section(data, "policy")
    deadline = _seconds_of(policy, PolicySettings, "detection_deadline")
    # SPEC section 8: all bodies together fit in monitor.max_body_memory, so one must too.
    budget = _int_of(_section(data, "monitor"), MonitorSettings, "max_body_memory")
    for loc, probe, carries_d1 in _probe_sites(data):
        if not isinstance(probe, dict):
            continue
        body = _int_of(probe, HTTPProbe, "max_body_bytes")
        if probe.get("type") == "http" and budget is not None and body is not None and body > budget:
            yield (
                (*loc, "max_body_bytes"),
                (
                    f"{body} bytes is more than monitor.max_body_memory ({budget} bytes), "
                    "which all probes' bodies share; lower it or raise max_body_memory"
                ),
            )
        if probe.get("type") == "http" and probe.get("body") is not None:
            method = (_as_read(probe, HTTPProbe, "method") if "method" in probe
                      else HTTPProbe.model_fields["method"].default)
            if method is not None and method not in BODY_METHODS:
                yield (
                    (*loc, "body"),
                    f"a body is sent with method {' or '.join(BODY_METHODS)}; this probe's "
                    f"method is {method} (set method: POST, or remove body)",
                )
        if probe.get("type") == "push" and loc[0] == "monitor":
            yield (
                (*loc, "type"),
                "a canary is probed from here (R-M2: this monitor's own view of the "
                "network); allowed: http, tcp or dns",
            )
        if probe.get("type") == "tcp" and probe.get("starttls") and probe.get("tls") is False:
            yield (
                (*loc, "tls"),
                "starttls is followed by a TLS handshake: tls cannot be false (leave it out, "
                "or give its settings)",
            )
        if probe.get("type") == "http" and _credentials_twice(probe):
            yield (
                loc,
                "credentials in the URL (user:password@) and an Authorization header: a "
                "request sends one; keep one of them",
            )
        interval = _seconds_of(probe, ProbeBase, "interval")
        timeout = _seconds_of(probe, ProbeBase, "timeout")
        fail_after = _int_of(probe, ProbeBase, "fail_after")
        if interval is None or timeout is None:
            continue
        if interval <= timeout:
            yield (
                (*loc, "interval"),
                (
                    f"{format_duration(interval)} must be longer than the timeout "
                    f"({format_duration(timeout)}) so that a probe never overlaps itself"
                ),
            )
        if carries_d1 and deadline is not None and fail_after is not None and interval > 0:
            worst = interval * fail_after + timeout
            if not within(worst, deadline):  # D-1, on the engine's boundary
                yield (
                    loc,
                    (
                        f"worst-case detection interval × fail_after + timeout = "
                        f"{format_duration(interval)} × {fail_after} + {format_duration(timeout)} = "
                        f"{format_duration(worst)} exceeds the {format_duration(deadline)} "
                        "detection duty (D-1)"
                    ),
                )


def _maintenance(data: dict[str, Any]) -> Iterator[Issue]:
    """Recurring windows: unique ids, services and servers that exist, and announced
    before the notice period (D-3) begins, so each occurrence can be noticed in time."""
    section = _section(data, "maintenance")
    recurring = _items(section, "recurring")
    yield from _unique(recurring, ("maintenance", "recurring"), "id", {}, "ids must be unique")
    known = {_name(item.get("id")) for key in ("servers", "services")
             for _, item in _items(data, key)} - {None}
    for i, window in recurring:
        given = [key for key in ("every", "days_of_month") if window.get(key) is not None]
        if len(given) != 1:
            yield (("maintenance", "recurring", i),
                   "give one of every (weekdays) and days_of_month (days of the month), "
                   + ("not both" if given else "none is given"))
        elif window.get("weeks_of_month") is not None and given != ["every"]:
            yield (("maintenance", "recurring", i, "weeks_of_month"),
                   "chooses among the weekdays of every; give every, not days_of_month")
        services = window.get("services")
        for j, service in enumerate(services if isinstance(services, list) else []):
            if isinstance(service, str) and service not in known:
                yield (("maintenance", "recurring", i, "services", j),
                       f"unknown service {service!r}; allowed: {_choices(known, service)}")
    announce = _seconds_of(section, MaintenanceSettings, "announce")
    notice = _seconds_of(_section(data, "policy"), PolicySettings, "maintenance_notice")
    if announce is not None and notice is not None and announce < notice + ANNOUNCE_MARGIN:
        yield (("maintenance", "announce"),
               f"{format_duration(announce)} is too short: each occurrence must be recorded "
               f"at least {format_duration(ANNOUNCE_MARGIN)} before the "
               f"{format_duration(notice)} notice period (policy.maintenance_notice, D-3) "
               "begins, so that its notice can reach customers in time (R-EX1)")


def _policy(data: dict[str, Any]) -> Iterator[Issue]:
    policy = data.get("policy")
    if not isinstance(policy, dict):
        return
    previous: tuple[float, float] | None = None
    for i, tier in _items(policy, "tiers"):
        downtime = _seconds(tier.get("min_downtime"), -1)
        # As the engine will get it: the schema takes `true` for 1 (the engine's own check
        # then refused the tiers with a traceback).
        credit = _as_read(tier, TierSettings, "credit_days")
        if downtime is None or credit is None:
            continue
        if previous is not None and (downtime <= previous[0] or credit <= previous[1]):
            yield (
                ("policy", "tiers", i),
                (
                    "tiers must be in increasing order of min_downtime and credit_days "
                    f"(this tier: {format_duration(downtime)} / {credit} days; the one before: "
                    f"{format_duration(previous[0])} / {previous[1]:g} days)"
                ),
            )
        previous = (downtime, float(credit))
    warning = _seconds_of(policy, PolicySettings, "notification_warning")
    deadline = _seconds_of(policy, PolicySettings, "notification_deadline")
    if warning is not None and deadline is not None and warning >= deadline:
        yield (
            ("policy", "notification_warning"),
            (
                f"{format_duration(warning)} must be shorter than notification_deadline "
                f"({format_duration(deadline)})"
            ),
        )


def _monitor(data: dict[str, Any]) -> Iterator[Issue]:
    monitor = _section(data, "monitor")
    beat = _seconds_of(monitor, MonitorSettings, "heartbeat_interval")
    unknown_after = _seconds_of(monitor, MonitorSettings, "unknown_after")
    if beat is not None and unknown_after is not None and unknown_after <= beat:
        yield (
            ("monitor", "unknown_after"),
            (
                f"{format_duration(unknown_after)} must be longer than heartbeat_interval "
                f"({format_duration(beat)}), or every beat would leave unknown time (R-M3)"
            ),
        )


def _smtp(data: dict[str, Any]) -> Iterator[Issue]:
    smtp = data.get("smtp")
    if not isinstance(smtp, dict):
        return
    provider = _section(data, "provider")
    sender, from_provider = smtp.get("sender"), provider.get("sender")
    if sender is None and from_provider is None:
        yield ("smtp", "sender"), (
            "required: the From address of the e-mails (or set provider.sender, the From "
            "of every e-mail)"
        )
    elif sender is not None and from_provider is not None and sender != from_provider:
        yield ("smtp", "sender"), (
            f"{sender!r} differs from provider.sender {from_provider!r}: give one From "
            "address (provider.sender, used with SMTP and without)"
        )
    if smtp.get("password_file") and smtp.get("password_env"):
        yield ("smtp", "password_file"), "give password_file or password_env, not both"
    if smtp.get("username") and not (smtp.get("password_file") or smtp.get("password_env")):
        yield ("smtp", "username"), "a username needs password_file or password_env"
    http = data.get("http")
    if isinstance(http, dict) and http.get("tokens_file") and http.get("tokens_env"):
        yield ("http", "tokens_file"), "give tokens_file or tokens_env, not both"


def _statements(data: dict[str, Any]) -> Iterator[Issue]:
    """A reminder must come after the statement and before the claim deadline (R-C1)."""
    statements = _section(data, "statements")
    if statements.get("reminder_before") is None:
        return
    before = _seconds_of(statements, Statements, "reminder_before")
    delay = _seconds_of(statements, Statements, "delay")
    deadline = _seconds_of(_section(data, "policy"), PolicySettings, "claim_deadline")
    if before is None or delay is None or deadline is None:
        return
    if deadline - before <= delay:
        yield ("statements", "reminder_before"), (
            f"{format_duration(before)} before the claim deadline is not after the statements "
            f"are sent ({format_duration(delay)} after the month ends; the claim deadline is "
            f"{format_duration(deadline)} after it): allowed: less than "
            f"{format_duration(deadline - delay)}, or null for no reminders"
        )


def _webhook(data: dict[str, Any]) -> Iterator[Issue]:
    webhook = data.get("webhook")
    if not isinstance(webhook, dict):
        return
    file, env = webhook.get("secret_file"), webhook.get("secret_env")
    if file and env:
        yield ("webhook", "secret_file"), "give secret_file or secret_env, not both"
    if webhook.get("secret_header") and not (file or env):
        yield ("webhook", "secret_header"), "a secret_header needs secret_file or secret_env"
    if (file or env) and not webhook.get("secret_header"):
        yield ("webhook", "secret_header"), "required with secret_file or secret_env: the header that carries the secret, e.g. Authorization"
