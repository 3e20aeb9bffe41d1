"""``statements.auto``: the daemon closes the month and sends its statements once,
at the configured time after the month ends (a fake clock), resumes a run stopped in the
middle after a restart, and reminds only the customers owed credit that have not claimed.

The month is :mod:`tests.actions.statements_world`'s October 2026 (acme: 8 days of credit),
plus bita's project down 10-07 00:00-03:00 (3 h: tier 1w, 7 days) and bita's claim; gone
(lapsed) had an outage too, and gets neither a statement nor a reminder (R-EX5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from monitor import actions
from monitor.app import Daemon
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.notify.contract import ContractMailer
from monitor.present.statement import Statement
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import (
    ClaimReminder,
    OutboxMessage,
    ReportRevision,
    StatementRun,
    StatementSent,
)
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.actions.statements_world import at, record_october, yaml
from tests.support import MONITOR, eventually, report_reads, rows

AUTO = "statements: {auto: true, delay: 1d, reminder_before: 3d}"
DUE = at(2, month=11)  # October ends 11-01 00:00 UTC; statements a day later
REMINDER = at(12, month=11)  # claims close 11-15 00:00 (R-C1); reminders 3 days before


class StopAfterFirst:
    """The e-mails of the daemon's run, with a stop request (SIGTERM) right after the first
    statement is queued: the run stops between customers, as ``Daemon.stop`` makes it."""

    def __init__(self, mail: ContractMailer) -> None:
        self.mail = mail
        self.queued = 0

    def stopping(self) -> bool:
        return self.queued >= 1

    async def statement(self, tx, statement: Statement, files):  # type: ignore[no-untyped-def]
        self.queued += 1
        return await self.mail.statement(tx, statement, files)

    async def statements(self, tx, batch):  # type: ignore[no-untyped-def]
        self.queued += len(batch)
        return await self.mail.statements(tx, batch)

    async def claim_reminder(self, tx, statement: Statement):  # type: ignore[no-untyped-def]
        return await self.mail.claim_reminder(tx, statement)


@pytest.mark.slow
async def test_automatic_close_runs_once_survives_a_restart_and_reminds_the_unclaimed(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with TargetServer() as host, SMTPSink() as sink:
        text = "\n".join([
            yaml(tcp=f"{{type: tcp, host: 127.0.0.1, port: {host.port}}}"), MONITOR, AUTO,
            f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}",
            f"storage: {{url: '{sqlite_url}'}}"])
        config = parse_config(text)
        settings = Settings.from_config(config)
        engine = create_engine(sqlite_url)
        await upgrade(engine)
        db = Database(engine)
        try:
            await record_october(db, settings)
            for service in ("bita-poll", "gone-site"):
                await actions.add_incident(db, settings, service=service, start=at(7),
                                           end=at(7, 3), actor="ops", now=at(25))
            clock = FakeClock(DUE - dt.timedelta(minutes=1))
            await actions.submit_claim(db, settings, customer="bita", month="2026-10",
                                       mail=ContractMailer(settings, clock.now()), actor="ops",
                                       now=clock.now())

            # A minute before it is due: nothing is closed, nothing sent.
            early = await actions.auto_statements(
                db, settings, mail=ContractMailer(settings, clock.now()), now=clock.now())
            assert early.sent == [] and await rows(db, ReportRevision) == []

            # Due: the run closes October and is stopped after its first statement.
            clock.advance(60)
            mail = StopAfterFirst(ContractMailer(settings, clock.now()))
            stopped = await actions.auto_statements(db, settings, mail=mail, now=clock.now(),
                                                    stopping=mail.stopping)
            assert [s.revision for s in stopped.sent] == [1]
            assert len(await rows(db, StatementSent)) == 1
            [run] = await rows(db, StatementRun)
            assert (run.month, run.revision, run.finished_at) == ("2026-10", 1, None)

            # The restarted daemon's check at start resumes the run: each customer once.
            clock.advance(30)
            daemon = Daemon(config, clock=clock, notifier_options={"poll_interval": 0.1})
            await daemon.start()
            try:
                finished = await eventually(lambda: _finished(db))
                assert finished.revision == 1
                statements = await rows(db, StatementSent)
                assert sorted(s.customer_id for s in statements) == ["acme", "bita"]
                assert len(await rows(db, ReportRevision)) == 1  # closed once
                await sink.wait_for(3)  # bita's claim receipt, then the two statements
                subjects = sorted(m.parsed()["Subject"] for m in sink.messages)
                assert sum("SLA statement 2026-10 (revision 1)" in s for s in subjects) == 2

                # Later checks do nothing more, and until the reminders are due (weeks,
                # every minute) they do not read the frozen report either: at 10,000
                # customers that was 86 MB read and parsed a minute on the daemon's loop.
                outbox = len(await rows(db, OutboxMessage))
                clock.advance(3600)
                with report_reads() as reads:
                    await daemon.check_statements()
                assert len(await rows(db, OutboxMessage)) == outbox
                assert reads == []

                # Reminders: acme is owed 8 days and has not claimed; bita claimed; gone is
                # lapsed (R-EX5: no credit); dorna a clone (R-EX6).
                clock.advance((REMINDER - clock.now()).total_seconds() - 1)
                assert (await daemon.check_statements()).reminded == {}  # type: ignore[union-attr]
                clock.advance(1)
                done = await daemon.check_statements()
                assert done is not None and done.reminded == {"2026-10": ["acme"]}
                reminder = (await sink.wait_for(4))[-1].parsed()
                assert reminder["To"] == "tech@acme.example, ceo@acme.example"
                assert reminder["Subject"].startswith(
                    "[Rabit Hosting] Reminder: claim your SLA credit for 2026-10 by "
                    "2026-11-15 00:00 UTC")
                clock.advance(60)
                again = await daemon.check_statements()
                assert again is not None and again.reminded == {}
                assert [r.customer_id for r in await rows(db, ClaimReminder)] == ["acme"]
            finally:
                await daemon.stop()
        finally:
            await engine.dispose()


async def _finished(db: Database) -> StatementRun | None:
    found = await rows(db, StatementRun)
    return found[0] if found and found[0].finished_at is not None else None


def test_statements_auto_is_off_by_default() -> None:
    settings = Settings.from_config(parse_config(yaml()))
    assert not settings.statements.auto
    assert dataclasses.is_dataclass(settings)
    assert (settings.statements.delay, settings.statements.reminder_before) == (86400, 3 * 86400)
