"""Probe-test helpers: configurations validated like YAML, and the deadline margin."""

from __future__ import annotations

from typing import Any

from monitor.config.schema import HTTPProbe, TCPProbe

# A deadline is a correctness bound: the probe must end by then, plus scheduling slack.
MARGIN = 0.5


def http_config(url: str, **settings: Any) -> HTTPProbe:
    """An HTTP probe configuration, validated like one from YAML."""
    return HTTPProbe.model_validate({"type": "http", "url": url, **settings})


def tcp_config(host: str, port: int, **settings: Any) -> TCPProbe:
    return TCPProbe.model_validate({"type": "tcp", "host": host, "port": port, **settings})
