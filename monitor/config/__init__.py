"""Configuration: the one place that turns YAML into objects.

:func:`load_config` validates a file against :mod:`monitor.config.schema`
and the cross-section checks, raising :class:`monitor.errors.ConfigError`
with every problem (YAML path, line, value, what is allowed).
"""

from monitor.config.durations import format_duration, parse_duration
from monitor.config.loader import load_config, parse_config
from monitor.config.schema import Config

__all__ = ["Config", "format_duration", "load_config", "parse_config", "parse_duration"]
