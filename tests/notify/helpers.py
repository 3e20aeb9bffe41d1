"""The e-mail duty tests' scenario: the configuration, incidents and windows written as the
daemon and the CLI would, the outbox, and time (shared helpers: ``tests/support.py``).

The topology: server ``srv-1`` hosts four customers' projects.

* ``acme``: technical + executive contacts, paid: gets outage e-mail.
* ``bita``: a Persian name, paid: gets outage e-mail.
* ``lapsed``: its only site's period ended (R-EX5): no customer e-mail.
* ``dorna``: runs a clone (R-EX6): no customer e-mail.

Every customer depends on the shared ``panel`` too. Operators: ``noc@rabit.example``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.config.schema import Config
from monitor.notify import Backoff
from monitor.store.models import Incident, MaintenanceService, MaintenanceWindow, OutboxMessage
from monitor.testing.smtp import SMTPSink

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
OPERATORS = ["noc@rabit.example"]
BACKOFF = Backoff(initial=60.0, maximum=600.0, jitter=0.0)  # in FakeClock seconds
TCP = {"type": "tcp", "host": "127.0.0.1", "port": 9}


def _customer(cid: str, name: str, project: str, **extra: Any) -> dict[str, Any]:
    paid_until = extra.pop("paid_until", "2099-12-31")
    contacts = extra.pop("contacts", {"technical": {"email": f"tech@{cid}.example"}})
    return {
        "id": cid,
        "name": name,
        "contacts": contacts,
        "fee": {"amount": 1000, "currency": "IRR"},
        "services": [project],
        "sites": [{"domain": f"{cid}.example", "paid_until": paid_until}],
        **extra,
    }


def make_config(smtp: dict[str, Any] | None = None, **overrides: Any) -> Config:
    acme_contacts = {
        "technical": {"email": "tech@acme.example", "phone": "+98 21 5555 0101", "name": "Sara"},
        "executive": {"email": "ceo@acme.example", "name": "Reza"},
    }
    data: dict[str, Any] = {
        "provider": {"name": "Rabit Hosting", "operators": OPERATORS},
        "servers": [{"id": "srv-1", "name": "Tehran host 1", "probe": TCP}],
        "services": [
            {"id": "panel", "kind": "web_panel", "name": "Design panel", "probe": TCP},
            *(
                {"id": p, "kind": "project", "server": "srv-1", "probe": TCP}
                for p in ("acme-survey", "bita-poll", "lapsed-poll", "dorna-census")
            ),
        ],
        "customers": [
            _customer("acme", "ACME Research", "acme-survey", contacts=acme_contacts),
            _customer("bita", "شرکت بیتا نظرسنجی", "bita-poll"),
            _customer("lapsed", "Lapsed Ltd", "lapsed-poll", paid_until="2026-01-01"),
            _customer("dorna", "Dorna Statistics", "dorna-census", clone=True),
        ],
        "smtp": smtp,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Config.model_validate(data)


def sink_smtp(sink: SMTPSink, **extra: Any) -> dict[str, Any]:
    return {
        "host": sink.host,
        "port": sink.port,
        "tls": "none",
        "sender": "sla@rabit.example",
        "timeout": 5,
        **extra,
    }


async def add_incident(
    sessions: async_sessionmaker[AsyncSession],
    target: str = "srv-1",
    start: dt.datetime = T0,
    end: dt.datetime | None = None,
) -> int:
    async with sessions() as session, session.begin():
        incident = Incident(
            service_id=target,
            start=start,
            detected_at=start + dt.timedelta(minutes=2),
            end=end,
            source="probe",
            cause="provider",
            created_at=start,
        )
        session.add(incident)
        await session.flush()
        return incident.id


async def add_window(
    sessions: async_sessionmaker[AsyncSession],
    start: dt.datetime,
    hours: float = 2,
    services: tuple[str, ...] = ("srv-1",),
    created_at: dt.datetime = T0,
) -> int:
    async with sessions() as session, session.begin():
        window = MaintenanceWindow(
            start=start,
            end=start + dt.timedelta(hours=hours),
            reason="Kernel upgrade",
            created_at=created_at,
        )
        window.services = [MaintenanceService(service_id=s) for s in services]
        session.add(window)
        await session.flush()
        return window.id


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
