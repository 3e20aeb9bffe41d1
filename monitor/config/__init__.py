"""Configuration: the one place that turns YAML into objects.

:func:`load_config` validates a file against :mod:`monitor.config.schema`
and the cross-section checks, raising :class:`monitor.errors.ConfigError`
with every problem (YAML path, line, value, what is allowed).

The names below are imported when first used, not with the package: a probe worker
needs only :mod:`monitor.config.schema`, and importing it would otherwise bring the
loader, the cross-section checks, the SLA engine and YAML with it (about 3 MB of each
worker's memory, measured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.config.durations import parse_duration
    from monitor.config.loader import load_config, parse_config
    from monitor.config.schema import Config
    from monitor.config.settings import Settings
    from monitor.config.topology import Target, Topology

__all__ = [
    "Config",
    "Settings",
    "Target",
    "Topology",
    "load_config",
    "parse_config",
    "parse_duration",
    "shared_digest",
]

_HOMES = {
    "Config": "monitor.config.schema",
    "Settings": "monitor.config.settings",
    "Target": "monitor.config.topology",
    "Topology": "monitor.config.topology",
    "load_config": "monitor.config.loader",
    "parse_config": "monitor.config.loader",
    "parse_duration": "monitor.config.durations",
    "shared_digest": "monitor.config.settings",
}


__getattr__ = lazy.exports(__name__, _HOMES)
