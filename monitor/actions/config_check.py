"""``check-config`` as an action: a configuration's probes against the D-1 duty, and the
secrets it names that would not be found here. The CLI prints it; the HTTP API answers
it for the running configuration or for a candidate file sent to it.

A configuration that does not validate raises :class:`monitor.errors.ConfigError` with
every issue (YAML path, line, what is allowed), from :mod:`monitor.config`.

A configuration sent over HTTP is checked in a child process
(:func:`check_config_isolated`, ``python -I -m monitor.actions.config_check_child``, through
:func:`monitor.config.isolated.run_isolated`, as a reload reads its file): megabytes of
YAML cost seconds of CPU and hundreds of megabytes that a process never gives back, and
the daemon probes. The child's address space is limited (:data:`CHECK_MEMORY`) and so is
its time (:data:`CHECK_TIMEOUT`).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from monitor.config import Config, Settings, parse_config
from monitor.config.credentials import secret_path
from monitor.config.isolated import run_isolated
from monitor.errors import ConfigError
from monitor.sla import within
from monitor.store import resolve_url

__all__ = ["CHECK_MEMORY", "CHECK_TIMEOUT", "ConfigCheck", "ConfigCounts", "ProbeCheck",
           "check_config", "check_config_isolated", "check_config_text", "secret_warnings"]

CHECK_TIMEOUT = 120.0  # seconds: 40,000 targets take about 10 s of CPU
CHECK_MEMORY = 2 * 1024**3  # bytes of address space: 40,000 targets peak near 300 MB


@dataclass(frozen=True)
class ProbeCheck:
    """One probe's worst-case detection time against the D-1 duty."""

    id: str
    kind: str
    type: str
    interval_seconds: float
    fail_after: int
    timeout_seconds: float
    worst_case_detection_seconds: float
    d1: str | None  # OK or OVER for probes carrying D-1 (servers, projects); else None


@dataclass(frozen=True)
class ConfigCounts:
    servers: int
    services: int
    customers: int
    canaries: int


@dataclass(frozen=True)
class ConfigCheck:
    source: str | None  # the file checked; None for the running one or a sent one
    valid: bool  # always True: an invalid configuration raises ConfigError
    counts: ConfigCounts
    calendar: str
    timezone: str
    detection_deadline_seconds: int
    probes: tuple[ProbeCheck, ...]
    warnings: tuple[str, ...]


def secret_warnings(config: Config) -> list[str]:
    """Secrets are read at start-up, not here; say which ones the daemon would not find."""
    refs = []
    if config.smtp is not None:
        refs.append(("smtp.password_file", config.smtp.password_file, "file"))
        refs.append(("smtp.password_env", config.smtp.password_env, "env"))
    if config.webhook is not None:
        refs.append(("webhook.secret_file", config.webhook.secret_file, "file"))
        refs.append(("webhook.secret_env", config.webhook.secret_env, "env"))
    refs.append(("http.tokens_file", config.http.tokens_file, "file"))
    refs.append(("http.tokens_env", config.http.tokens_env, "env"))
    refs.append(("http.link_key_file", config.http.link_key_file, "file"))
    refs.append(("http.link_key_env", config.http.link_key_env, "env"))
    warnings = []
    for field, ref, kind in refs:
        if ref is None:
            continue
        if kind == "file":
            try:
                path = secret_path(field, ref)
            except ConfigError:
                warnings.append(
                    f"{field}: {ref!r} names a systemd credential; $CREDENTIALS_DIRECTORY is "
                    "not set here (systemd sets it for the service, from LoadCredential=)"
                )
                continue
            if not os.access(path, os.R_OK):
                warnings.append(f"{field}: file {ref!r} is not readable here")
        if kind == "env" and ref not in os.environ:
            warnings.append(f"{field}: environment variable {ref!r} is not set here")
    return warnings


def public_url_warning(config: Config) -> str | None:
    """Without ``http.public_url`` the links customers and subscribers receive (and the Atom
    feed's) lead to ``http.listen``: said when that is an address only this machine can open
    (loopback, a wildcard such as 0.0.0.0, ``localhost``), as behind a reverse proxy, and
    someone would receive them (a customer, or subscribers: offered with a link key)."""
    http = config.http
    if http.public_url is not None:
        return None
    signed = http.link_key_file is not None or http.link_key_env is not None
    if not config.customers and not (config.status_page.subscriptions and signed):
        return None
    host = http.listen.rpartition(":")[0].strip("[]")
    try:
        address = ipaddress.ip_address(host)
        local = address.is_loopback or address.is_unspecified
    except ValueError:
        local = host.lower() in ("localhost", "localhost.localdomain")
    if not local:
        return None
    return (f"http.public_url: not set: the links in customers' and subscribers' e-mails and "
            f"in the Atom feed lead to http://{http.listen}, which customers cannot open; "
            "set it to the pages' address as customers reach them, e.g. "
            "'https://status.example.com'")


def check_config(config: Config, source: str | None = None) -> ConfigCheck:
    """Every probe's worst-case detection time against the D-1 duty, and secret warnings."""
    resolve_url(config.storage.url)  # a URL the database driver cannot read: ConfigError
    settings = Settings.from_config(config)
    deadline = settings.policy.detection_deadline_seconds
    probes = []
    for target in settings.topology.targets():
        worst = target.probe.worst_case_detection
        probes.append(
            ProbeCheck(
                target.id,
                target.kind,
                target.probe.type,
                target.probe.interval,
                target.probe.fail_after,
                target.probe.timeout,
                worst,
                ("OK" if within(worst, deadline) else "OVER") if target.carries_d1 else None,
            )
        )
    warnings = secret_warnings(config)
    unreachable = public_url_warning(config)
    if unreachable is not None:
        warnings.append(unreachable)
    return ConfigCheck(
        source=source,
        valid=True,
        counts=ConfigCounts(len(config.servers), len(config.services), len(config.customers),
                            len(config.monitor.canaries)),
        calendar=config.provider.calendar,
        timezone=config.provider.timezone,
        detection_deadline_seconds=deadline,
        probes=tuple(probes),
        warnings=tuple(warnings),
    )


def check_config_text(text: str, source: str = "<request body>") -> ConfigCheck:
    """:func:`check_config` of a configuration given as YAML text (ConfigError if invalid)."""
    return check_config(parse_config(text, source))


async def check_config_isolated(text: str, source: str = "<request body>") -> str:
    """:func:`check_config_text` in a child process: the :class:`ConfigCheck` as its JSON
    text (as :func:`monitor.present.as_json` writes it), or the ConfigError the child
    found (or one saying it could not finish: too slow, too much memory)."""
    out = await run_isolated("monitor.actions.config_check_child", text.encode("utf-8"),
                             source=source, seconds=CHECK_TIMEOUT, memory=CHECK_MEMORY)
    return out.decode("utf-8")

