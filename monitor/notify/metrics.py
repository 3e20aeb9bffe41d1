"""Prometheus metrics of the e-mail duties, on a registry the daemon passes in (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["DUTIES", "FAILURE_CLASSES", "NotifyMetrics"]

FAILURE_CLASSES = ("transient", "permanent", "partial")
#: D-2, D-3, and the contract's claim (D-4) and ticket (D-5) deadlines.
DUTIES = ("notification", "maintenance_notice", "claim_receipt", "claim_decision",
          "ticket_diagnosis", "ticket_fix")

# D-2: latency from incident start to notification, up to and past the 2 h deadline.
LATENCY_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 5400, 7200, 10800, 21600, 86400)


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.outbox_depth = Gauge(
            "sla_monitor_outbox_depth",
            "Messages in the outbox not yet accepted nor given up (pending or being sent).",
            registry=registry,
        )
        self.send_attempts = Counter(
            "sla_monitor_email_send_attempts",
            "Attempts to hand a message to the SMTP server or the Maildir.",
            registry=registry,
        )
        self.send_failures = Counter(
            "sla_monitor_email_send_failures",
            "Failed attempts by class: transient (retried), permanent (given up), "
            "partial (some recipients refused).",
            ["class"],
            registry=registry,
        )
        self.notification_latency = Histogram(
            "sla_monitor_notification_latency_seconds",
            "Time from incident start to the customer's notification (SMTP acceptance or a "
            "logged call), per incident and customer (R-N1, D-2).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.duties_at_risk = Gauge(
            "sla_monitor_duties_at_risk",
            "Duties (per incident or window and customer) whose deadline is near and not yet met.",
            ["duty"],
            registry=registry,
        )
        self.duties_overdue = Gauge(
            "sla_monitor_duties_overdue",
            "Duties whose deadline has passed and that are still not done (e.g. a claim "
            "undecided after 14 days, a ticket unfixed past its fix deadline).",
            ["duty"],
            registry=registry,
        )
        self.duties_breached = Counter(
            "sla_monitor_duties_breached",
            "Duties whose deadline passed unmet, counted when this process saw the deadline pass.",
            ["duty"],
            registry=registry,
        )
        self.outbox_oldest_waiting = Gauge(
            "sla_monitor_outbox_oldest_waiting_seconds",
            "How long the longest-waiting outbox message has waited (0: none): since it was "
            "written if it was attempted, since it was due if not. Notices scheduled for "
            "later do not count.",
            registry=registry,
        )
        self.smtp_up = Gauge(
            "sla_monitor_smtp_up",
            "1 while the SMTP server (or the Maildir) takes messages, 0 after a send could not "
            "reach it, until a probe of it succeeds (D-2).",
            registry=registry,
        )
        self.smtp_up.set(1)
        self.leases_lost = Counter(
            "sla_monitor_outbox_leases_lost",
            "Claimed messages whose lease ran out before they were sent; another worker took "
            "them (each is still sent once).",
            registry=registry,
        )
        self.released = Counter(
            "sla_monitor_outbox_released",
            "Messages waiting out a retry delay that were made due at once because the SMTP "
            "server answered again.",
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "sla_monitor_webhook_deliveries",
            "Operator alerts POSTed to the webhook: ok (2xx) or failed (tried again).",
            ["result"],
            registry=registry,
        )
        for result in ("ok", "failed"):
            self.webhook_deliveries.labels(result)
        self.operator_channel_deliveries = Counter(
            "sla_monitor_operator_channel_deliveries",
            "Operator alerts handed to an operators' channel (operators.notify, through "
            "Apprise), by the channel's service: ok, or failed (tried again).",
            ["service", "result"],
            registry=registry,
        )
        for failure_class in FAILURE_CLASSES:
            self.send_failures.labels(failure_class)
        for duty in DUTIES:
            self.duties_at_risk.labels(duty)
            self.duties_overdue.labels(duty)
            self.duties_breached.labels(duty)

    def forget_duties(self) -> None:
        """This node no longer checks the duties (a cluster's former leader): its figures go
        to 0 rather than stand stale beside the new leader's (rules take ``max by (duty)``)."""
        for duty in DUTIES:
            self.duties_at_risk.labels(duty).set(0)
            self.duties_overdue.labels(duty).set(0)
