"""Coming from another monitor: its configuration as an sla-monitor configuration
(``sla-monitor import gatus``), checked by the same loader as ``check-config``, with a
report of what could not be mapped and why (:mod:`monitor.config.gatus` decides the
mapping)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from monitor.config import parse_config
from monitor.config.gatus import Unmapped, convert
from monitor.config.loader import read_yaml
from monitor.errors import ConfigError, ConfigIssue

__all__ = ["Imported", "import_gatus"]

MAX_SOURCE_BYTES = 32 * 1024 * 1024


@dataclass
class Imported:
    """``text``: the configuration (YAML, valid); ``channels``: the operators' channels
    (Apprise URLs, which hold tokens), for ``operators.notify_file``; counts, the unmapped
    and the notes for the report."""

    source: str
    text: str
    channels: list[str]
    servers: int
    projects: int
    customers: int
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


HEADER = """\
# Imported from {kind} ({source}) by `sla-monitor import {command}`.
# Review it: draft customers carry placeholder contacts and fees; see the report.
"""


def import_gatus(raw: bytes, source: str, *, channels_file: str | None = None,
                 accepts: Callable[[str, str], bool] = lambda where, url: True) -> Imported:
    """A Gatus configuration file's bytes as an sla-monitor configuration. With
    ``channels_file``, the operators' channels are read from that file
    (``operators.notify_file``), which the caller writes; else they are written inline.
    ``accepts(where, url)``: whether the daemon could use a channel's URL (Apprise's word,
    from the caller: the notifier's layer is above this one)."""

    if len(raw) > MAX_SOURCE_BYTES:
        raise ConfigError(source, [ConfigIssue("(file)", None, f"{len(raw):,} bytes is too "
                                               f"large; allowed: at most {MAX_SOURCE_BYTES:,}")])
    try:
        data = read_yaml(raw.decode("utf-8"), source)
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [ConfigIssue("(file)", None, f"not UTF-8 (byte {exc.start}); "
                                               "allowed: a Gatus configuration (YAML)")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
        raise ConfigError(source, [ConfigIssue("endpoints", None, "missing; allowed: a Gatus "
                                               "configuration with a list of endpoints")])
    converted = convert(data)
    channels = []
    for where, url in converted.channels:
        if accepts(where, url):
            channels.append(url)
        else:
            converted.unmapped.append(Unmapped(where, url.split("://", 1)[0] + "://…",
                                               "Apprise takes no such URL (not shown: it "
                                               "holds a token)"))
    document = converted.document
    if channels:
        document["operators"] = ({"notify_file": channels_file} if channels_file
                                 else {"notify": channels})
    text = HEADER.format(kind="Gatus", source=source, command="gatus") + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100)
    parse_config(text, source)  # what check-config says of it (a mistake here is ours)
    return Imported(source, text, channels, converted.servers, converted.projects,
                    converted.customers, converted.unmapped, converted.notes)
