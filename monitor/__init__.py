"""sla-monitor: an uptime monitor that also knows what the SLA contract owes.

Data flows one way::

    config ─► probes ─► daemon (watch ─► detector) ─► store ─► sla engine ─► report / ledger
                             └─► notify (outbox) ──────┘   (notification times are evidence)

and the house has layers, each importing only those below it (a test checks the
import graph has no cycle, and that only the store imports SQLAlchemy)::

    edges     cli/ (argparse)   demo/   http/ (aiohttp: API, pages, feed, badges)
              daemon/ + app.py (the runtime, wired once)
    duties    notify/ (e-mail duties, outbox)     probes/ (HTTP, TCP, TLS checks)
    actions   actions/   operator and customer actions: incidents, maintenance, reports,
                         claims, tickets, the ledger, a customer's overview, the public
                         status, the configuration check, the running month; typed
                         arguments in, typed results out, errors naming fields; the CLI
                         and the HTTP API call these
    config    config/    YAML ─► validated Config ─► Settings (Topology, engine Policy),
                         built once per start or reload
    present   present/   one formatter of times, durations, money; tables, CSV, JSON values;
                         the one Jinja2 environment (pages, feed, badges, e-mails' HTML)
    store     store/     the only SQL: Database (one transaction idiom), models,
                         migrations, one query/write module per area
    sla       sla/       the pure engine: the contract as functions (no I/O, no clock);
                         every rule decided once (deadlines, eligibility, tiers, credits)
    ground    errors (one hierarchy), clock (one abstraction), logs, redact (secrets out of
              every text), early (SIGHUP before the imports), collector (the garbage
              collector paused for bulk work on a month's records)

:mod:`monitor.testing` ships the local target server and SMTP sink that the tests
and the demo use.
"""

__version__ = "0.1.0"
