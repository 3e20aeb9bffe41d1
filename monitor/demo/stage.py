"""The demo's little world: a provider's web panel, one server with two customers' projects,
an SMTP server, and the configuration file that describes them.

Every part is a real local server on 127.0.0.1 (a port the kernel picks), from
:mod:`monitor.testing`: the same targets and SMTP sink the test suite uses.
The server ``srv-1`` stands for the host both projects run on: it is probed
over TCP (like an SSH port), and each project answers HTTP on a port of its
own. The configuration is written as YAML into the state directory and loaded
by the same loader as ``sla-monitor run``.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer

__all__ = ["BROKEN", "FEE", "OPERATORS", "QUICK", "Pacing", "Stage", "open_stage"]

#: The customer whose project the demo breaks, and the project.
BROKEN = ("acme", "acme-survey")
#: Yearly fee of each customer: 3,650 a year is 10 a day, so R-T2's money value
#: (days x fee / 365) is easy to check by eye.
FEE = (3650, "EUR")
OPERATORS = ("noc@demo-hosting.example",)
PROVIDER = "Demo Hosting"
SENDER = "sla@demo-hosting.example"


@dataclass(frozen=True)
class Pacing:
    """How fast the story runs. The default is the real first-run experience; ``QUICK``
    halves the probe interval and shortens the outage (the same code, fewer seconds)."""

    interval: float = 1.0  # seconds between probes of each target
    timeout: float = 0.8
    fail_after: int = 3  # R-M1: consecutive failures that open an incident
    recover_after: int = 2  # R-M1: consecutive successes that close it
    calm: float = 10.0  # seconds of healthy probing before the break (time to open /metrics)
    outage: float = 15.0  # seconds the project stays broken
    patience: float = 30.0  # the longest any one wait may take before the demo gives up

    @property
    def worst_detection(self) -> float:
        """D-1: a probe's worst-case detection time, interval x fail_after + timeout."""
        return self.interval * self.fail_after + self.timeout


QUICK = Pacing(interval=0.5, timeout=0.4, calm=1.0, outage=4.0, patience=20.0)


@dataclass
class Stage:
    """The running world: targets by id, the SMTP sink, and the written configuration."""

    directory: Path
    targets: dict[str, TargetServer]  # panel, srv-1, acme-survey, bita-poll
    sink: SMTPSink
    config_path: Path

    @property
    def database_path(self) -> Path:
        return self.directory / "sla-monitor.db"

    def describe(self, target_id: str) -> str:
        """Where a target listens, as a probe sees it."""
        server = self.targets[target_id]
        if target_id == "srv-1":
            return f"tcp://{server.host}:{server.port}"
        return server.url("/")


async def open_stage(
    stack: AsyncExitStack, directory: Path, pacing: Pacing, calendar: str, timezone: str
) -> Stage:
    """Start the targets and the sink (stopped when ``stack`` closes) and write the config."""
    targets = {}
    for target_id in ("panel", "srv-1", "acme-survey", "bita-poll"):
        targets[target_id] = await stack.enter_async_context(TargetServer())
    sink = await stack.enter_async_context(SMTPSink())
    config_path = directory / "config.yaml"
    stage = Stage(directory, targets, sink, config_path)
    config_path.write_text(config_text(stage, pacing, calendar, timezone), encoding="utf-8")
    return stage


def _q(value: str) -> str:
    """A YAML scalar that stays what it is, whatever it contains (JSON strings are YAML)."""
    return json.dumps(value)


def config_text(stage: Stage, pacing: Pacing, calendar: str, timezone: str) -> str:
    timing = (
        f"interval: {pacing.interval}s, timeout: {pacing.timeout}s, "
        f"fail_after: {pacing.fail_after}, recover_after: {pacing.recover_after}"
    )
    t = stage.targets
    paid_until = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    amount, currency = FEE
    written = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return f"""\
# Written by `sla-monitor demo` at {written}.
# The targets and the SMTP server below were local servers that existed only while the
# demo ran; the database and (with --keep) the received mail are in this directory.
# Explore:  sla-monitor -c {_q(str(stage.config_path))} incident list
provider:
  name: {PROVIDER}
  timezone: {timezone}
  calendar: {calendar}
  operators: [{", ".join(OPERATORS)}]

monitor:
  heartbeat_interval: 1s
  unknown_after: 5s

servers:
  - id: srv-1
    name: Shared host 1
    probe: {{type: tcp, host: 127.0.0.1, port: {t["srv-1"].port}, {timing}}}

services:
  - id: panel
    kind: web_panel
    name: Survey design panel
    probe: {{type: http, url: {_q(t["panel"].url("/"))}, {timing}}}
  - id: acme-survey
    kind: project
    name: ACME customer survey
    server: srv-1
    probe: {{type: http, url: {_q(t["acme-survey"].url("/"))}, {timing}}}
  - id: bita-poll
    kind: project
    name: Bita opinion poll
    server: srv-1
    probe: {{type: http, url: {_q(t["bita-poll"].url("/"))}, {timing}}}

customers:
  - id: acme
    name: ACME Research
    contacts:
      technical: {{name: Sara Ahmadi, email: tech@acme.example, phone: "+1 555 0101"}}
      executive: {{name: Reza Karimi, email: ceo@acme.example}}
    fee: {{amount: {amount}, currency: {currency}}}
    services: [acme-survey]
    sites:
      - {{domain: survey.acme.example, paid_until: {paid_until}}}
  - id: bita
    name: Bita Polls
    contacts:
      technical: {{email: it@bita.example}}
    fee: {{amount: {amount}, currency: {currency}}}
    services: [bita-poll]
    sites:
      - {{domain: poll.bita.example, paid_until: {paid_until}}}

smtp: {{host: 127.0.0.1, port: {stage.sink.port}, tls: none, sender: {SENDER}, timeout: 5s}}

storage:
  url: {_q("sqlite+aiosqlite:///" + str(stage.database_path))}

http:
  listen: "127.0.0.1:0"
"""
