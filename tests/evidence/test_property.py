"""verify(export(history)) recomputes exactly the frozen report's figures, for generated
histories: manual incidents on every kind of service, notified late, in time or never, and
changes of cause; every customer's archive verifies and its statement is the revision's."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.actions import incidents
from monitor.actions.evidence_archive import export_month, verify_archive
from monitor.actions.evidence_keys import SigningKey
from monitor.actions.reports import close_month
from monitor.config import Settings, parse_config
from monitor.sla.inputs import CAUSES
from monitor.store import Database, create_engine, reports
from monitor.store.evidence_archive import statement_of
from monitor.store.migrate import upgrade
from tests.actions.contract import yaml

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SERVICES = ("panel", "mobile-api", "acme-survey", "srv-1")

incident = st.tuples(
    st.sampled_from(SERVICES),
    st.integers(min_value=0, max_value=23),  # hour of its day
    st.integers(min_value=1, max_value=900),  # minutes
    st.one_of(st.none(), st.integers(min_value=0, max_value=300)),  # notified after (min)
    st.sampled_from(CAUSES),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, list[dict[str, str]]]:
    directory = tmp_path_factory.mktemp("property")
    private = Ed25519PrivateKey.generate()
    key_file = directory / "key.pem"
    key_file.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    template = directory / "head.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{template}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    configured = Settings.from_config(parse_config(
        yaml() + f"evidence: {{signing_key: '{key_file}'}}\n"))
    key = SigningKey(private)
    return template, configured, [{"key_id": key.id, "public_key": key.public_b64}]


async def _history(db: Database, configured: Settings,
                   drawn: list[tuple[str, int, int, int | None, str]]) -> None:
    for number, (service, hour, minutes, notified, cause) in enumerate(drawn):
        day = 1 + 2 * number  # two days apart: manual incidents of a service never overlap
        start = dt.datetime(2026, 10, day, hour, tzinfo=UTC)
        added = await incidents.add_incident(
            db, configured, service=service, start=start,
            end=start + dt.timedelta(minutes=minutes), actor="ops", now=NOW)
        if notified is not None:
            await incidents.log_notification(
                db, configured, incident_id=added.id, channel="phone", actor="ops", now=NOW,
                at=start + dt.timedelta(minutes=notified))
        if cause != "provider":
            await incidents.change_cause(db, incident_id=added.id, cause=cause,
                                         reason="generated", actor="ops", now=NOW)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(incident, min_size=0, max_size=5))
def test_verify_of_export_recomputes_the_revision_s_figures(
        world: tuple[Path, Settings, list[dict[str, str]]], tmp_path: Path,
        drawn: list[tuple[str, int, int, int | None, str]]) -> None:
    template, configured, keys = world
    path = tmp_path / "sla-monitor.db"
    shutil.copyfile(template, path)

    async def scenario() -> None:
        db = Database.open(f"sqlite+aiosqlite:///{path}")
        try:
            await _history(db, configured, drawn)
            await close_month(db, configured, month="2026-10", now=NOW)
            async with db.reading() as tx:
                revision = await reports.latest_revision(tx, "gregorian", "2026-10")
            assert revision is not None
            for customer in configured.topology.customers:
                data = await export_month(db, configured, customer=customer, month="2026-10")
                found = verify_archive(data, keys)
                assert found.ok, (customer, found.difference)
                assert found.signed and found.key_pinned
                stated = statement_of(revision.report, customer)
                assert stated is not None
                assert found.figures == {k: stated[k] for k in found.figures}
        finally:
            await db.dispose()

    asyncio.run(scenario())
