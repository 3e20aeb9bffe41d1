"""A month's statements rendered in worker processes, and a run stopped half-way resumed:
the next run sends only what is missing, once per customer and revision (on SQLite; the
statements' bookkeeping is the same on PostgreSQL, covered by test_statements.py)."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from monitor import actions
from monitor.actions.mail import StatementFiles
from monitor.actions.statement_workers import render_files
from monitor.notify.contract import ContractMailer
from monitor.present.language import language
from monitor.present.statement import Statement
from monitor.store import Database, Tx, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import OutboxAttachment, OutboxMessage, StatementSent
from tests.support import rows

from .statements_world import NOW, record_october, settings

SETTINGS = settings()
MONTH = "2026-10"


class StopAfter:
    """The e-mails of a run asked to stop once ``count`` statements are queued (the daemon
    stopping, or an operator's Ctrl-C): what is left is the next run's."""

    def __init__(self, count: int) -> None:
        self.mail = ContractMailer(SETTINGS, NOW)
        self.count = count
        self.queued = 0

    def stopping(self) -> bool:
        return self.queued >= self.count

    async def statement(self, tx: Tx, statement: Statement, files: StatementFiles) -> str:
        self.queued += 1
        return await self.mail.statement(tx, statement, files)

    async def statements(
        self, tx: Tx, batch: Sequence[tuple[Statement, StatementFiles]]
    ) -> list[str]:
        self.queued += len(batch)
        return await self.mail.statements(tx, batch)

    async def claim_reminder(self, tx: Tx, statement: Statement) -> str:
        return await self.mail.claim_reminder(tx, statement)


def test_a_language_goes_to_a_worker_process_as_its_code() -> None:
    """A Persian reader's statement is pickled to a worker: its catalog (whose plural rule is
    a function made at load) is the worker's own, found again by the language's code."""
    persian = language("fa")
    copy = pickle.loads(pickle.dumps(persian))
    assert (copy.code, copy.digits, copy.direction) == ("fa", "persian", "rtl")
    assert copy.gettext("availability") == persian.gettext("availability") != "availability"
    assert copy.number(1405) == persian.number(1405) == "۱٬۴۰۵"


@pytest.mark.slow
async def test_a_stopped_run_is_resumed_by_worker_processes_sending_only_what_is_missing(
    sqlite_url: str, tmp_path: Path,
) -> None:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    db = Database(engine)
    try:
        await record_october(db, SETTINGS)
        before = len(await rows(db, OutboxMessage))

        # Stopped after its first statement (rendered on a thread: a single one at a time).
        mail = StopAfter(1)
        first = await actions.send_statements(db, SETTINGS, month=MONTH, mail=mail,
                                              actor="ops", now=NOW, stopping=mail.stopping,
                                              workers=0)
        assert [item.customer for item in first.queued] == ["acme"]
        assert "bita" not in {item.customer for item in first.items}
        assert len(await rows(db, OutboxMessage)) == before + 1
        assert [s.customer_id for s in await rows(db, StatementSent)] == ["acme"]

        # The next run, in two worker processes, sends bita's only.
        told: list[tuple[int, int]] = []
        second = await actions.send_statements(
            db, SETTINGS, month=MONTH, mail=ContractMailer(SETTINGS, NOW), actor="ops",
            now=NOW, workers=2, progress=lambda done, total: told.append((done, total)))
        assert {item.customer: item.status for item in second.items} == {
            "acme": "already_queued", "bita": "queued", "gone": "withheld",
            "dorna": "withheld"}
        assert told == [(0, 1), (1, 1)]
        assert len(await rows(db, OutboxMessage)) == before + 2
        sent = await rows(db, StatementSent)
        assert sorted((s.customer_id, s.revision) for s in sent) == [("acme", 1), ("bita", 1)]

        # What the worker rendered is what the one rendering gives here (the CSV exactly;
        # the PDF is a PDF, from the same template).
        [message] = await rows(db, OutboxMessage, OutboxMessage.customer_id == "bita",
                               OutboxMessage.kind == "statement")
        files = {a.filename: a.content for a in await rows(
            db, OutboxAttachment, OutboxAttachment.outbox_id == message.id)}
        view = await actions.statement(db, SETTINGS, month=MONTH, customer="bita", now=NOW)
        here = render_files(view)
        assert files["statement-bita-2026-10-r1.csv"] == here.csv.encode("utf-8")
        assert files["statement-bita-2026-10-r1.pdf"].startswith(b"%PDF-")
        assert message.body_html == here.html

        # A third run has nothing left to send.
        third = await actions.send_statements(db, SETTINGS, month=MONTH,
                                              mail=ContractMailer(SETTINGS, NOW),
                                              actor="ops", now=NOW, workers=2)
        assert third.queued == [] and len(await rows(db, OutboxMessage)) == before + 2
    finally:
        await engine.dispose()
