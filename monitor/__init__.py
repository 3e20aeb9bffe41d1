"""sla-monitor: an uptime monitor that also knows what the SLA contract owes.

Data flows one way, and the subpackages follow it::

    config ─► probes ─► detector ─► store ─► sla (pure engine) ─► report / ledger
                           └─► notify (outbox) ─┘   (notification times are evidence)
    http: /metrics, API, status page — reads the store, calls the engine

* :mod:`monitor.config` turns YAML into validated objects (the only place).
* :mod:`monitor.sla` is pure: plain data in, plain data out; no I/O, no clock.
* :mod:`monitor.store` holds the SQLAlchemy models, engines and migrations.
* :mod:`monitor.cli` is the ``sla-monitor`` command.
* :mod:`monitor.errors` is the one error hierarchy.
"""

__version__ = "0.1.0"
