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
    get_incident(db, *, incident_id) -> IncidentRecord

Maintenance (:mod:`.maintenance`)::

    add_maintenance(db, settings, *, services, start, end, reason, notified_at=None, actor, now)
        -> MaintenanceAdded
    list_maintenance(db, *, since=None, until=None) -> list[MaintenanceListed]

Reports (:mod:`.reports`)::

    month_inputs(db, settings, period, now) -> MonthInputs
    month_report(db, settings, *, month, customer=None, now) -> MonthReport
    close_month(db, settings, *, month, now) -> Closing

Customers, the status page and the configuration (:mod:`.customers`, :mod:`.status`,
:mod:`.config_check`)::

    customer_overview(db, settings, *, customer, now) -> CustomerOverview
    public_status(db, settings, *, now) -> PublicStatus
    public_history(db, settings, *, now, days=90) -> (incidents, windows)
    check_config(config) -> ConfigCheck;  check_config_text(text) -> ConfigCheck

The running month for the daemon's metrics is :class:`.standing.RunningMonth`.
Claims, tickets and the ledger (later) live here too, in modules of their own.
"""

from monitor.actions.config_check import (
    ConfigCheck,
    ProbeWorstCase,
    check_config,
    check_config_text,
)
from monitor.actions.customers import CustomerOverview, customer_overview
from monitor.actions.incidents import (
    CauseChanged,
    IncidentRecord,
    NotificationsLogged,
    add_incident,
    change_cause,
    get_incident,
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
from monitor.actions.status import PublicStatus, public_history, public_status

__all__ = [
    "CauseChanged",
    "Closing",
    "ConfigCheck",
    "CustomerOverview",
    "IncidentRecord",
    "MaintenanceAdded",
    "MaintenanceListed",
    "MonthInputs",
    "NotificationsLogged",
    "ProbeWorstCase",
    "PublicStatus",
    "WindowRecord",
    "add_incident",
    "add_maintenance",
    "change_cause",
    "check_config",
    "check_config_text",
    "close_month",
    "customer_overview",
    "get_incident",
    "list_incidents",
    "list_maintenance",
    "log_notification",
    "month_inputs",
    "month_report",
    "public_history",
    "public_status",
]
