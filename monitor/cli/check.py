"""``sla-monitor check-config``: validate, and show each probe's worst-case detection time (D-1)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from monitor.cli.common import add_format, config_path, load, print_json
from monitor.config import Config, Settings
from monitor.config.credentials import secret_path
from monitor.errors import ConfigError
from monitor.present import format_duration, text_table
from monitor.sla import within
from monitor.store import resolve_url


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


def run(args: argparse.Namespace) -> int:
    config = load(args)
    resolve_url(config.storage.url)  # a URL the database driver cannot read: ConfigError
    settings = Settings.from_config(config)
    path = config_path(args)
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
    if args.format == "json":
        print_json(
            {
                "source": str(path) if path is not None else None,
                "valid": True,
                "counts": {
                    "servers": len(config.servers),
                    "services": len(config.services),
                    "customers": len(config.customers),
                    "canaries": len(config.monitor.canaries),
                },
                "calendar": config.provider.calendar,
                "timezone": config.provider.timezone,
                "detection_deadline_seconds": deadline,
                "probes": probes,
                "warnings": warnings,
            }
        )
        return 0
    source = str(path) if path is not None else "embedded defaults (no configuration file)"
    print(f"{source}: valid")
    print(
        f"{len(config.servers)} servers, {len(config.services)} services, "
        f"{len(config.customers)} customers, {len(config.monitor.canaries)} canaries; "
        f"{config.provider.calendar} calendar in {config.provider.timezone}"
    )
    if probes:
        print()
        print(
            f"Worst-case detection = interval × fail_after + timeout; "
            f"D-1 duty: {format_duration(deadline)}"
        )
        headers = ["probe", "kind", "type", "interval", "fail_after", "timeout", "worst case",
                   "D-1"]
        rows = [
            [
                p.id,
                p.kind,
                p.type,
                format_duration(p.interval_seconds),
                p.fail_after,
                format_duration(p.timeout_seconds),
                format_duration(p.worst_case_detection_seconds),
                p.d1 or "-",
            ]
            for p in probes
        ]
        print(text_table(headers, rows))
    for warning in warnings:
        print(f"warning: {warning}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "check-config",
        help="validate the configuration and show each probe's worst-case detection time",
        description="Validate the configuration (every problem at once, with its line) and "
        "print each probe's worst-case detection time against the 15-minute duty (D-1). "
        "Exit code 0 when valid, 2 when not (the problems on standard error, in either "
        "format).",
    )
    add_format(parser, "text", "json")
    parser.set_defaults(handler=run)
