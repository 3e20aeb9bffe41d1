"""The one place that turns a validated probe configuration into a probe object."""

from __future__ import annotations

from monitor.config.schema import AnyProbe, DNSProbe, HTTPProbe, PushProbe, TCPProbe
from monitor.probes.base import Probe
from monitor.probes.http import HTTPCheck
from monitor.probes.push import PushCheck
from monitor.probes.sessions import ProbeSessions
from monitor.probes.tcp import TCPCheck
from monitor.probes.tls import CertificateCheck


def build_probe(target_id: str, config: AnyProbe, sessions: ProbeSessions) -> Probe:
    """The probe for one target. Call it inside the running event loop, after entering
    ``sessions``; a ``tls.ca_file`` that cannot be loaded raises ``ConfigError``."""
    if isinstance(config, HTTPProbe):
        return HTTPCheck(target_id, config, sessions)
    if isinstance(config, DNSProbe):
        # Imported when a DNS probe is configured: dnspython is some 60 ms to import.
        from monitor.probes.dns import DNSCheck

        return DNSCheck(target_id, config, sessions)
    if isinstance(config, PushProbe):
        return PushCheck(target_id, config, sessions)
    return TCPCheck(target_id, config, sessions)


def build_certificate_check(
    target_id: str, config: AnyProbe, sessions: ProbeSessions
) -> CertificateCheck | None:
    """The certificate check of an ``https://`` target or of a TCP probe with ``tls`` (run
    every ``tls.cert_check_interval``), or None when the target has no certificate to
    check."""
    if isinstance(config, HTTPProbe) and config.url.lower().startswith("https://"):
        return CertificateCheck(target_id, config, sessions)
    if isinstance(config, TCPProbe) and config.tls is not None:
        return CertificateCheck(target_id, config, sessions)
    return None
