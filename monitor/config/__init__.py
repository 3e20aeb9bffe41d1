"""Configuration: the one place that turns YAML into objects.

:func:`load_config` validates a file against :mod:`monitor.config.schema`
and the cross-section checks, raising :class:`monitor.errors.ConfigError`
with every problem (YAML path, line, value, what is allowed).
"""

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
]
