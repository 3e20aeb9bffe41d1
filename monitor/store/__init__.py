"""Storage: the only SQL of sla-monitor. Models, the database handle, migrations, and one
query/write module per area; every other package calls these functions and never imports
SQLAlchemy (:mod:`monitor.store.db` explains the one transaction idiom).

==============  ==========================================================  =====================
module          what it reads and writes                                    tables it alone writes
==============  ==========================================================  =====================
``incidents``   incidents, cause changes, notifications (R-M1, R-EX, R-N1)  incidents,
                                                                            cause_changes,
                                                                            notifications
``maintenance`` windows, their services, notices, operators' updates         maintenance_*
                (R-EX1, D-3)
``outbox``      queued e-mail, leases, outcomes, attachments, one-click     outbox,
                unsubscribe addresses (D-2, RFC 8058)                       outbox_recipients,
                                                                            outbox_attachments,
                                                                            outbox_list_unsubscribe
``history``     probe runs, failures, latency roll-ups (R-M7)               probe_runs,
                                                                            probe_failures,
                                                                            latency_rollups
``retention``   old history pruned in batches, hours merged into days       latency_rollups_daily
                (R-M7); deletes from the history tables too
``stats``       rows and bytes per table, history growth (read-only)        (none)
``unknown``     daemon sessions and unknown intervals (R-M2, R-M3)          daemon_sessions,
                                                                            unknown_intervals
``reports``     frozen report revisions (R-C3)                              report_revisions
``claims``      credit claims, decisions, reviews (R-C1, D-4, R-C3)         claims
``tickets``     tickets and their history (R-P*, L-4, L-5, D-5)             tickets,
                                                                            ticket_events
``ledger``      per-site entries: days, charge, refunds, renewals (L-*);    ledger_entries
                append-only, in the database too
``statements``  monthly statements sent, claim reminders, automatic runs     statements,
                                                                 claim_reminders,
                                                                            statement_runs
``subscribers`` the status page's e-mail subscribers (double opt-in)         subscribers
``audit``       the operators' audit log                                    audit_events
==============  ==========================================================  =====================
"""

from monitor.store.db import (
    Database,
    SessionLimits,
    Tx,
    create_engine,
    default_url,
    error_line,
    guarded,
    resolve_url,
    session_factory,
    state_directory,
    unavailable_error,
)

__all__ = [
    "Database",
    "SessionLimits",
    "Tx",
    "create_engine",
    "default_url",
    "error_line",
    "guarded",
    "resolve_url",
    "session_factory",
    "state_directory",
    "unavailable_error",
]
