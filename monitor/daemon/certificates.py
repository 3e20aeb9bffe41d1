"""Certificates read at their own, slower cadence (``tls.cert_check_interval``): days left,
even for an expired or invalid certificate, and a warning when that changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from monitor.config.topology import Target
from monitor.daemon.metrics import DaemonMetrics
from monitor.probes import CertificateCheck

__all__ = ["Certificates"]

log = logging.getLogger(__name__)


class Certificates:
    def __init__(self, metrics: DaemonMetrics, probed_here: Callable[[str], bool]) -> None:
        self.metrics = metrics
        self.probed_here = probed_here  # in a cluster: the node probing it reads it too
        self.checks: dict[str, CertificateCheck] = {}
        self._problem: dict[str, bool] = {}

    def apply(self, removed: set[str], checks: dict[str, CertificateCheck | None]) -> None:
        for target_id in removed:
            self.checks.pop(target_id, None)
        for target_id, check in checks.items():
            if check is not None:
                self.checks[target_id] = check
            elif self.checks.pop(target_id, None) is not None:  # no longer HTTPS: no certificate
                self.metrics.certificate_expiry.remove(target_id)
                self.metrics.certificate_warning.remove(target_id)
                self.metrics.certificate_valid.remove(target_id)

    def targets(self, targets: dict[str, Target]) -> list[tuple[str, float]]:
        """(id, cadence) of the HTTPS targets whose certificate is read on its own schedule."""
        return [
            (target_id, targets[target_id].probe.tls.cert_check_interval)  # type: ignore[union-attr]
            for target_id in self.checks
        ]

    async def run(self, target_id: str) -> None:
        """Days left even for an expired or invalid certificate; warns on a change."""
        check = self.checks.get(target_id)
        if check is None or not self.probed_here(target_id):
            return
        result = await check.check()
        if self.checks.get(target_id) is not check or not self.probed_here(target_id):
            return  # removed, changed or taken over meanwhile: its series are not ours to set
        if result.not_after is not None:
            self.metrics.certificate_expiry.labels(target_id).set(result.not_after.timestamp())
            # Beside it, the probe's own tls.cert_expiry_warning, which the alert compares with.
            self.metrics.certificate_warning.labels(target_id).set(check.warning_seconds)
        if result.verify_ok is not None:
            self.metrics.certificate_valid.labels(target_id).set(1 if result.verify_ok else 0)
        elif result.failure_class is None:  # read unverified (tls.verify: false): no verdict
            self.metrics.certificate_valid.remove(target_id)
        problem = bool(result.expiring or result.verify_ok is False)
        if problem != self._problem.get(target_id, False):
            self._problem[target_id] = problem
            log.warning(
                "certificate needs attention" if problem else "certificate fine again",
                extra={
                    "target": target_id,
                    "days_left": result.days_left,
                    "verify_error": result.verify_error,
                    "not_after": result.not_after.isoformat() if result.not_after else None,
                },
            )
