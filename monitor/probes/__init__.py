"""Probes: is each target up right now? (config ─► **probes** ─► detector)

Every probe has one method, ``async def check() -> ProbeResult``, which never
raises for a target's failure: it classifies it (``dns``, ``connect_refused``,
``timeout``, ``http_status``, ``too_large``…) with a short detail and per-phase
timings, bounding time and bytes against hostile targets (SPEC section 8). A
probe says ``up`` or ``down``, or ``unknown`` when this process noticed its
deadline late (stalled itself, :func:`.base.late_enough`); blindness is decided
later (R-M2).

* :mod:`.base`: ``ProbeResult``, the ``Probe`` protocol, failure classification;
* :mod:`.sessions`: ``ProbeSessions``, what probes share (HTTP sessions, TLS
  contexts, the concurrency bound, the clock);
* :mod:`.http`, :mod:`.tcp`: the two probe kinds; :mod:`.tls`: the slower
  certificate-expiry check; :mod:`.factory`: config → probe.

>>> async with ProbeSessions(config.monitor.max_concurrency) as sessions:  # doctest: +SKIP
...     probes = [build_probe(t.id, t.probe, sessions) for t in topology.targets()]
...     results = await asyncio.gather(*(p.check() for p in probes))
"""

from monitor.probes.base import (
    FAILURE_CLASSES,
    FailureClass,
    Probe,
    ProbeResult,
    ProbeVerdict,
)
from monitor.probes.factory import build_certificate_check, build_probe
from monitor.probes.http import HTTPCheck
from monitor.probes.sessions import ProbeSessions
from monitor.probes.tcp import TCPCheck
from monitor.probes.tls import CertificateCheck, CertificateResult

__all__ = [
    "FAILURE_CLASSES",
    "CertificateCheck",
    "CertificateResult",
    "FailureClass",
    "HTTPCheck",
    "Probe",
    "ProbeResult",
    "ProbeSessions",
    "ProbeVerdict",
    "TCPCheck",
    "build_certificate_check",
    "build_probe",
]
