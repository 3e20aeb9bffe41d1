"""The operator's and customer's actions on contract records: one set of functions that
the CLI and the HTTP API both call. Typed arguments in, typed results out; errors name
the field (``end``), and each edge says it in its own words (``--end``, ``/end``).

Every action takes the database (:class:`monitor.store.Database`) and, when it needs
the configuration, the :class:`monitor.config.Settings`; writes also take the
``actor`` (for the audit log) and ``now``.

Incidents (:mod:`.incidents`)::

    add_incident(db, settings, *, service, start, end, cause="provider", note=None, actor, now)
        -> IncidentRecord
    change_cause(db, *, incident_id, cause, reason, actor, now) -> CauseChanged
    log_notification(db, settings, *, incident_id, at, channel, customers=(), note=None,
                     actor, now) -> NotificationsLogged
    list_incidents(db, *, since=None, until=None, service=None, open_only=False)
        -> list[IncidentRecord]

Maintenance (:mod:`.maintenance`)::

    add_maintenance(db, settings, *, services, start, end, reason, notified_at=None, actor, now)
        -> MaintenanceAdded
    list_maintenance(db, *, since=None, until=None) -> list[MaintenanceListed]

Reports (:mod:`.reports`)::

    month_inputs(db, settings, period, now) -> MonthInputs
    month_report(db, settings, *, month, customer=None, now) -> MonthReport
    close_month(db, settings, *, month, now) -> Closing

The database itself (:mod:`.storage`)::

    database_stats(db, settings, *, now) -> DatabaseStats

Claims, tickets and the ledger (later) live here too, in modules of their own.
"""

from monitor.actions.incidents import (
    CauseChanged,
    IncidentRecord,
    NotificationsLogged,
    add_incident,
    change_cause,
    list_incidents,
    log_notification,
)
from monitor.actions.maintenance import (
    MaintenanceAdded,
    MaintenanceListed,
    WindowRecord,
    add_maintenance,
    list_maintenance,
)
from monitor.actions.reports import Closing, MonthInputs, close_month, month_inputs, month_report
from monitor.actions.storage import DatabaseStats, TableStats, database_stats

__all__ = [
    "CauseChanged",
    "Closing",
    "DatabaseStats",
    "IncidentRecord",
    "MaintenanceAdded",
    "MaintenanceListed",
    "MonthInputs",
    "NotificationsLogged",
    "TableStats",
    "WindowRecord",
    "add_incident",
    "add_maintenance",
    "change_cause",
    "close_month",
    "database_stats",
    "list_incidents",
    "list_maintenance",
    "log_notification",
    "month_inputs",
    "month_report",
]
