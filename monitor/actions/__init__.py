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
    list_incidents(db, settings, *, since=None, until=None, service=None,
                   open_only=False) -> list[IncidentRecord]  (an unknown service is
                   refused)
    get_incident(db, *, incident_id) -> IncidentRecord
    post_update(db, *, incident_id, status, message, actor, now) -> UpdatePosted

Maintenance (:mod:`.maintenance`)::

    add_maintenance(db, settings, *, services, start, end, reason, notified_at=None, actor, now)
        -> MaintenanceAdded
    list_maintenance(db, *, since=None, until=None) -> list[MaintenanceListed]
    cancel_maintenance(db, *, window_id, actor, now) -> MaintenanceCancelled
    record_recurring(db, settings, *, now) -> list[WindowRecord]
    post_maintenance_update(db, *, window_id, status, message, actor, now)
        -> MaintenanceUpdatePosted

The status page's subscribers (:mod:`.subscriptions`; double opt-in, signed links)::

    subscribe(db, settings, *, keys, email, services, language, client, limits, mail, now)
        -> SubscriptionRequested
    confirm_subscription(db, *, keys, token, expires, key, sig, now) -> Subscription
    requested_subscription(db, *, keys, token, expires, key, sig, now)
        -> SubscriptionRequested  (the form's answer, after its redirect)
    unsubscribe(db, *, keys, token, key, sig) -> Subscription | None
    forget_expired_requests(db, settings, *, now) -> int
    list_subscribers(db) -> list[SubscriberView]
    remove_subscriber(db, *, email, actor, now) -> SubscriberView

Push targets' calls (:mod:`.pushes`; what a push means: :mod:`monitor.probes.push`)::

    record_push(book, settings, *, target, status="up", message=None, now) -> PushReceived
    push_targets(settings) -> frozenset[str]
    share_pushes(db, book, *, now) -> int   (this node's written, the others' read)

A cluster's nodes (:mod:`.cluster`)::

    list_nodes(db, settings) -> list[NodeRow]
    retire_node(db, settings, *, node, actor, now) -> NodeRow   (a lost node only)

The outbox as operators see it (:mod:`.outbox`; D-2)::

    list_messages(db, *, status=None, limit=100) -> list[MessageLine]
    retry_messages(db, settings, *, ids=(), all_failed=False, actor, now) -> list[MessageLine]

Reports (:mod:`.reports`)::

    month_inputs(db, settings, period, now, customers=None) -> MonthInputs
    month_report(db, settings, *, month, customer=None, now) -> MonthReport
    close_month(db, settings, *, month, now, configured_terms=False) -> Closing   (R-C3: marks
        claims for review; a closed month keeps its terms)

Claims (:mod:`.claims`; R-C1, D-4, R-C3)::

    submit_claim(db, settings, *, customer, month, site=None, channel="email", note=None,
                 at=None, mail, actor, now) -> ClaimView
    decide_claim(db, settings, *, claim_id, decision, days=None, reason=None, at=None,
                 mail, actor, now) -> ClaimView
    find_claim(db, settings, *, customer, month, now) -> ClaimView | None
    list_claims(db, settings, *, month=None, customer=None, open_only=False, overdue=False,
                now) -> list[ClaimView]
    show_claim(db, settings, *, claim_id, now, customer=None) -> ClaimView

Tickets (:mod:`.tickets`; R-P1..R-P4, L-4, L-5, D-5), each change with ``at=None``
(default ``now``), ``actor`` and ``now``::

    open_ticket(db, settings, *, customer, service, channel, summary, site=None, type=None,
                mail, ...) -> TicketView
    diagnose_ticket(..., ticket_id, provider_fault, finding=None)    fix_ticket(..., ticket_id)
    follow_up_ticket(..., ticket_id, channel, note=None)             reopen_ticket(..., ticket_id)
    ask_ticket / answer_ticket / escalate_ticket / return_ticket(..., ticket_id, note=None)
    defer_ticket(..., ticket_id, reason, note)
    reprice_ticket(..., ticket_id, price, mail)   approve_price(..., ticket_id, declined=False)
    list_tickets(db, settings, *, queue=None, overdue=False, customer=None, now)
    show_ticket(db, settings, *, ticket_id, now, customer=None) -> TicketView

The ledger (:mod:`.ledger`; L-1..L-6) and what time decides (:mod:`.settlement`)::

    ledger_show(db, settings, *, customer=None, site=None, now) -> list[SiteAccount]
    deposit(db, settings, *, site, amount, reference, actor, now) -> Deposited
    renew(db, settings, *, site, until, actor, now) -> Renewed
    settle(db, settings, *, now, actor="sla-monitor") -> Settled

Statements (:mod:`.statements`, :mod:`.statement_runs`, R-C3, R-C1)::

    statement(db, settings, *, month, customer, revision=None, now) -> Statement
    statement_files(statement) -> StatementFiles                  (HTML, PDF, CSV)
    send_statements(db, settings, *, month, customer=None, dry_run=False, mail, actor, now)
        -> StatementsSent
    auto_statements(db, settings, *, mail, now, stopping=None) -> AutoStatements
    keep_month_terms(db, settings, *, now) -> str | None   (the month that ended: its terms)
    remind(db, settings, *, month, mail, now) -> list[str]
    month_summary(db, settings, *, month, now) -> Summary         (the operators' view)

Actions that owe the customer an e-mail take ``mail`` (:class:`.mail.ContractMail`) and
queue it in their own transaction. Actions a customer may take (the claim form, the
customer API) take ``customer=``: the record must be that customer's.

The database itself (:mod:`.storage`)::

    database_stats(db, settings, *, now) -> DatabaseStats
    backup_database(db, *, backup_path, keep=None, now) -> BackupMade

Customers, the status page and the configuration (:mod:`.customers`, :mod:`.status`,
:mod:`.config_check`)::

    customer_overview(db, settings, *, customer, now) -> CustomerOverview
    public_status(db, settings, *, now) -> PublicStatus
    pages_version(db, settings, *, customer=None) -> object  (changes with what they show)
    public_history(db, settings, *, now, days=90) -> (incidents, windows)
    public_incident(db, settings, *, incident_id, now) -> PublicIncident (public only)
    check_config(config, source=None) -> ConfigCheck;  check_config_text(text) -> ConfigCheck
    check_config_isolated(text) -> str  (the check's JSON, computed in a child process)

The running month for the daemon's per-customer metrics is :class:`.standing.RunningMonth`.

Signed links to a customer's page (:mod:`.links`; the one maker: ``customer link``, the
statements' and reminders' link to the claim form; the HTTP edge checks them)::

    page_link(settings, keys, customer, *, now, valid=None, until=None, fragment="")
        -> PageLink
    claim_form_link(settings, keys, customer, *, deadline, now) -> PageLink | None

Each name is imported from its module when first used (PEP 562): ``from monitor.actions
import list_incidents`` loads monitor/actions/incidents.py and what it needs, not every
action (the claims', the statements' PDF, the e-mail duties'). A command that needs one
action imports only that one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.actions.claims import (
        ClaimRecord,
        ClaimView,
        ComputedCredit,
        NotACustomerThen,
        decide_claim,
        find_claim,
        list_claims,
        show_claim,
        submit_claim,
    )
    from monitor.actions.cluster import NodeRow, list_nodes, retire_node
    from monitor.actions.config_check import (
        ConfigCheck,
        ProbeCheck,
        check_config,
        check_config_isolated,
        check_config_text,
    )
    from monitor.actions.customers import CustomerOverview, customer_overview
    from monitor.actions.incidents import (
        CauseChanged,
        IncidentRecord,
        NotificationsLogged,
        UpdatePosted,
        add_incident,
        change_cause,
        get_incident,
        list_incidents,
        log_notification,
        post_update,
    )
    from monitor.actions.inputs import MonthInputs, month_inputs
    from monitor.actions.ledger import (
        Deposited,
        EntryRecord,
        Renewed,
        SiteAccount,
        deposit,
        ledger_show,
        renew,
    )
    from monitor.actions.mail import ContractMail, StatementFiles, StatementMail
    from monitor.actions.maintenance import (
        MaintenanceAdded,
        MaintenanceCancelled,
        MaintenanceListed,
        MaintenanceUpdatePosted,
        WindowRecord,
        add_maintenance,
        cancel_maintenance,
        list_maintenance,
        post_maintenance_update,
        record_recurring,
    )
    from monitor.actions.outbox import MessageLine, list_messages, retry_messages
    from monitor.actions.pushes import PushReceived, push_targets, record_push, share_pushes
    from monitor.actions.reports import (
        Closing,
        ReviewNoted,
        close_month,
        month_report,
    )
    from monitor.actions.settlement import Settled, settle
    from monitor.actions.statement_runs import (
        AutoStatements,
        auto_statements,
        keep_month_terms,
        remind,
    )
    from monitor.actions.statements import (
        StatementItem,
        StatementsSent,
        send_statements,
        statement,
        statement_files,
    )
    from monitor.actions.status import (
        PublicIncident,
        PublicStatus,
        pages_version,
        public_history,
        public_incident,
        public_status,
    )
    from monitor.actions.storage import (
        BackupMade,
        DatabaseStats,
        TableStats,
        backup_database,
        database_stats,
    )
    from monitor.actions.subscriptions import (
        RateLimits,
        SubscriberRecord,
        SubscriberView,
        Subscription,
        SubscriptionRequested,
        confirm_subscription,
        forget_expired_requests,
        list_subscribers,
        remove_subscriber,
        requested_subscription,
        subscribe,
        unsubscribe,
    )
    from monitor.actions.summary import month_summary
    from monitor.actions.tickets import (
        EventRecord,
        TicketRecord,
        TicketView,
        answer_ticket,
        approve_price,
        ask_ticket,
        defer_ticket,
        diagnose_ticket,
        escalate_ticket,
        fix_ticket,
        follow_up_ticket,
        list_tickets,
        open_ticket,
        reopen_ticket,
        reprice_ticket,
        return_ticket,
        show_ticket,
    )

# Each name of __all__ -> its module under monitor.actions.
_MODULE_OF = {
    "AutoStatements": "statement_runs",
    "CauseChanged": "incidents",
    "ClaimRecord": "claims",
    "ClaimView": "claims",
    "Closing": "reports",
    "ComputedCredit": "claims",
    "ConfigCheck": "config_check",
    "ContractMail": "mail",
    "CustomerOverview": "customers",
    "BackupMade": "storage",
    "DatabaseStats": "storage",
    "Deposited": "ledger",
    "EntryRecord": "ledger",
    "EventRecord": "tickets",
    "IncidentRecord": "incidents",
    "MaintenanceAdded": "maintenance",
    "MaintenanceCancelled": "maintenance",
    "MaintenanceListed": "maintenance",
    "MaintenanceUpdatePosted": "maintenance",
    "cancel_maintenance": "maintenance",
    "record_recurring": "maintenance",
    "post_maintenance_update": "maintenance",
    "SubscriberRecord": "subscriptions",
    "SubscriberView": "subscriptions",
    "Subscription": "subscriptions",
    "SubscriptionRequested": "subscriptions",
    "RateLimits": "subscriptions",
    "confirm_subscription": "subscriptions",
    "forget_expired_requests": "subscriptions",
    "list_subscribers": "subscriptions",
    "NodeRow": "cluster",
    "list_nodes": "cluster",
    "retire_node": "cluster",
    "list_messages": "outbox",
    "retry_messages": "outbox",
    "MessageLine": "outbox",
    "remove_subscriber": "subscriptions",
    "requested_subscription": "subscriptions",
    "subscribe": "subscriptions",
    "unsubscribe": "subscriptions",
    "MonthInputs": "inputs",
    "NotACustomerThen": "claims",
    "NotificationsLogged": "incidents",
    "UpdatePosted": "incidents",
    "post_update": "incidents",
    "public_incident": "status",
    "PublicIncident": "status",
    "ProbeCheck": "config_check",
    "PublicStatus": "status",
    "Renewed": "ledger",
    "ReviewNoted": "reports",
    "Settled": "settlement",
    "SiteAccount": "ledger",
    "StatementFiles": "mail",
    "StatementItem": "statements",
    "StatementMail": "mail",
    "StatementsSent": "statements",
    "TableStats": "storage",
    "TicketRecord": "tickets",
    "PushReceived": "pushes",
    "push_targets": "pushes",
    "record_push": "pushes",
    "share_pushes": "pushes",
    "TicketView": "tickets",
    "WindowRecord": "maintenance",
    "add_incident": "incidents",
    "add_maintenance": "maintenance",
    "answer_ticket": "tickets",
    "approve_price": "tickets",
    "ask_ticket": "tickets",
    "auto_statements": "statement_runs",
    "change_cause": "incidents",
    "check_config": "config_check",
    "check_config_isolated": "config_check",
    "check_config_text": "config_check",
    "close_month": "reports",
    "keep_month_terms": "statement_runs",
    "customer_overview": "customers",
    "backup_database": "storage",
    "database_stats": "storage",
    "decide_claim": "claims",
    "defer_ticket": "tickets",
    "deposit": "ledger",
    "diagnose_ticket": "tickets",
    "escalate_ticket": "tickets",
    "find_claim": "claims",
    "fix_ticket": "tickets",
    "follow_up_ticket": "tickets",
    "get_incident": "incidents",
    "ledger_show": "ledger",
    "list_claims": "claims",
    "list_incidents": "incidents",
    "list_maintenance": "maintenance",
    "list_tickets": "tickets",
    "log_notification": "incidents",
    "month_inputs": "inputs",
    "month_report": "reports",
    "month_summary": "summary",
    "open_ticket": "tickets",
    "pages_version": "status",
    "public_history": "status",
    "public_status": "status",
    "remind": "statement_runs",
    "renew": "ledger",
    "reopen_ticket": "tickets",
    "reprice_ticket": "tickets",
    "return_ticket": "tickets",
    "send_statements": "statements",
    "settle": "settlement",
    "show_claim": "claims",
    "show_ticket": "tickets",
    "statement": "statements",
    "statement_files": "statements",
    "submit_claim": "claims",
}


__getattr__ = lazy.exports(__name__, {name: f"{__name__}.{module}"
                                        for name, module in _MODULE_OF.items()})


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_all() -> None:
    """Import every action now: the daemon (``run``, ``demo``) calls this before its event
    loop starts, so that no first request or task imports one on the loop, blocking the
    probes."""
    for name in __all__:
        __getattr__(name)


__all__ = [
    "AutoStatements",
    "BackupMade",
    "CauseChanged",
    "ClaimRecord",
    "ClaimView",
    "Closing",
    "ComputedCredit",
    "ConfigCheck",
    "ContractMail",
    "CustomerOverview",
    "DatabaseStats",
    "Deposited",
    "EntryRecord",
    "EventRecord",
    "IncidentRecord",
    "MaintenanceAdded",
    "MaintenanceCancelled",
    "MaintenanceListed",
    "MaintenanceUpdatePosted",
    "MessageLine",
    "MonthInputs",
    "NodeRow",
    "NotACustomerThen",
    "NotificationsLogged",
    "ProbeCheck",
    "PublicIncident",
    "PublicStatus",
    "PushReceived",
    "RateLimits",
    "Renewed",
    "ReviewNoted",
    "Settled",
    "SiteAccount",
    "StatementFiles",
    "StatementItem",
    "StatementMail",
    "StatementsSent",
    "SubscriberRecord",
    "SubscriberView",
    "Subscription",
    "SubscriptionRequested",
    "TableStats",
    "TicketRecord",
    "TicketView",
    "UpdatePosted",
    "WindowRecord",
    "add_incident",
    "add_maintenance",
    "answer_ticket",
    "approve_price",
    "ask_ticket",
    "auto_statements",
    "backup_database",
    "cancel_maintenance",
    "change_cause",
    "check_config",
    "check_config_isolated",
    "check_config_text",
    "close_month",
    "confirm_subscription",
    "customer_overview",
    "database_stats",
    "decide_claim",
    "defer_ticket",
    "deposit",
    "diagnose_ticket",
    "escalate_ticket",
    "find_claim",
    "fix_ticket",
    "follow_up_ticket",
    "forget_expired_requests",
    "get_incident",
    "keep_month_terms",
    "ledger_show",
    "list_claims",
    "list_incidents",
    "list_maintenance",
    "list_messages",
    "list_nodes",
    "list_subscribers",
    "list_tickets",
    "log_notification",
    "month_inputs",
    "month_report",
    "month_summary",
    "open_ticket",
    "pages_version",
    "post_maintenance_update",
    "post_update",
    "public_history",
    "public_incident",
    "public_status",
    "push_targets",
    "record_push",
    "record_recurring",
    "remind",
    "remove_subscriber",
    "renew",
    "reopen_ticket",
    "reprice_ticket",
    "requested_subscription",
    "retire_node",
    "retry_messages",
    "return_ticket",
    "send_statements",
    "settle",
    "share_pushes",
    "show_claim",
    "show_ticket",
    "statement",
    "statement_files",
    "submit_claim",
    "subscribe",
    "unsubscribe",
]
