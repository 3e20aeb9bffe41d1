"""``sla-monitor demo``: the product on this machine, end to end, in about half a minute.

    stage.py     local targets (web panel, a server, two customers' projects), an SMTP
                 server, and the config.yaml describing them (monitor.testing's servers)
    scenario.py  the story against the real daemon: probes up, a project breaks, the
                 incident, the e-mails, the recovery, an operator's manual record, the report
    data.py      the only access to the records: the service functions the CLI uses

The command line and the output (text or JSON) are in :mod:`monitor.cli.demo`.
"""

from monitor.demo.scenario import (
    DemoInterrupted,
    DemoOptions,
    DemoResult,
    DemoStuck,
    run_demo,
)
from monitor.demo.stage import QUICK, Pacing

__all__ = [
    "QUICK",
    "DemoInterrupted",
    "DemoOptions",
    "DemoResult",
    "DemoStuck",
    "Pacing",
    "run_demo",
]
