"""E-mail duties: outage, recovery and maintenance notices, sent through a persistent outbox.

The flow, one way::

    detector / CLI ──► Notifier.on_incident_opened / _closed / on_maintenance_created
                          │  duties.py: who gets what (R-N1, D-3; none for R-EX5/R-EX6)
                          │  templates.py + layout.py: subject, text and HTML (zone, calendar, RTL)
                          ▼
                       outbox rows (dedupe_key: each duty queued once)      ◄── written first
                          │  outbox.py: OutboxWorker claims with a lease (rows: monitor.store.outbox)
                          ▼  sending.py (Courier) + messages.py: EmailMessage, safe headers
                       smtp.py: SMTP (aiosmtplib) or the local Maildir (no smtp configured)
                          │
                          ▼  committed at once: accepted_at, smtp_response, outbox_recipients,
                       notifications / maintenance_notices rows: the evidence the SLA engine reads

    Notifier.queue_subscriber_notices (at each incident change and duty check,
    subscribers.py): the status page's confirmed subscribers' notices of incidents,
    operators' updates and maintenance, each with its RFC 8058 one-click unsubscribe.

    Notifier.check_duties (periodic, tracking.py): D-2 at-risk alerts to operators 30 min
    before the 2 h deadline, breach counts, Prometheus metrics (metrics.py). Who is owed
    an e-mail and when a duty is met or missed is the engine's to say (monitor.sla:
    ineligible, duty_state); this package asks it.

The daemon uses only :class:`Notifier`. Retries back off exponentially with
jitter; permanent failures are alerted to ``provider.operators`` (never an
alert about an alert). After a crash nothing is lost, and nothing the SMTP
server acknowledged as accepted, with the acceptance committed, is sent again;
see :mod:`monitor.notify.outbox` for the one unavoidable window.
"""

from monitor.notify.notifier import Notifier, NotifierPlan, build_transport
from monitor.notify.sending import Backoff
from monitor.notify.smtp import MaildirTransport, SMTPTransport, Transport
from monitor.notify.tracking import DutyCheck, DutyStatus

__all__ = [
    "Backoff",
    "DutyCheck",
    "DutyStatus",
    "MaildirTransport",
    "Notifier",
    "NotifierPlan",
    "SMTPTransport",
    "Transport",
    "build_transport",
]
