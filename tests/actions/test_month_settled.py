"""A month is closed once its report no longer changes with time alone (R-N1, R-C3).

An incident that begins in a month's last hours owes its customers a notification within
2 h (R-N1), a deadline that passes after the month ends; until it passes, the month's
report cannot say whether the duty was missed (no notification yet is no breach yet). A
revision frozen meanwhile said "no breach", and since the records did not change when the
deadline passed, every later close found its inputs unchanged and kept it: the customer
never got the day of credit. A month can therefore be closed once the last of its
notification deadlines has passed: 2 h after it ends (``policy.notification_deadline``).

The month is ``statements_world``'s October 2026 (UTC) with one incident only: acme's
project down 10-31 23:30-23:50 (1,200 s < 1 h 30 min: no tier, R-T1), never notified. Its
notification was due by 11-01 01:30 (R-N1): missed, 1 day of credit, worth 3,650 / 365 =
10.00 EUR (R-T2).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from monitor import actions
from monitor.actions.statement_runs import auto_statements
from monitor.errors import InputError
from monitor.notify.contract import ContractMailer
from monitor.store import Database
from monitor.store.models import ReportRevision
from tests.actions import statements_world as world
from tests.support import rows

UTC = dt.UTC
ENDED = dt.datetime(2026, 11, 1, tzinfo=UTC)
SETTLED = ENDED + dt.timedelta(hours=2)  # R-N1's deadline of the month's last second


async def test_a_month_is_closed_once_its_last_notification_deadline_has_passed(
        db: Database) -> None:
    settings = world.settings()
    incident = await actions.add_incident(
        db, settings, service="acme-survey", start=dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        end=dt.datetime(2026, 10, 31, 23, 50, tzinfo=UTC), actor="ops", now=ENDED)
    for early in (ENDED + dt.timedelta(minutes=30), SETTLED - dt.timedelta(seconds=1)):
        with pytest.raises(InputError) as refused:
            await actions.close_month(db, settings, month="2026-10", now=early)
        assert refused.value.field == "month"
        assert "a month whose notification deadlines have passed" in refused.value.allowed
        assert "{@2026-11-01T02:00:00Z}" in refused.value.allowed, refused.value.allowed
        # statement send closes first: refused alike, its dry run too.
        for dry_run in (True, False):
            with pytest.raises(InputError):
                await actions.send_statements(db, settings, month="2026-10", dry_run=dry_run,
                                              mail=ContractMailer(settings, early),
                                              actor="ops", now=early)
    assert await rows(db, ReportRevision) == []
    closing = await actions.close_month(db, settings, month="2026-10", now=SETTLED)
    assert (closing.revision, closing.created) == (1, True)
    report = await actions.month_report(db, settings, month="2026-10", now=SETTLED)
    acme = report.customer("acme")
    assert acme.notification_breaches == (incident.id,)  # R-N1: due 01:30, never sent
    assert acme.credit_days_total == 1 and acme.credit_value == Decimal(3650) / 365


async def test_the_daemon_sends_statements_once_the_month_is_settled(db: Database) -> None:
    # statements.delay 0 s: due at the month's end, but not closable for 2 h more. The
    # daemon's check waits for it (it was refused every minute meanwhile).
    settings = world.settings("statements: {auto: true, delay: 0s}")
    await actions.add_incident(
        db, settings, service="acme-survey", start=dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        end=dt.datetime(2026, 10, 31, 23, 50, tzinfo=UTC), actor="ops", now=ENDED)
    early = ENDED + dt.timedelta(minutes=30)
    waited = await auto_statements(db, settings, mail=ContractMailer(settings, early), now=early)
    assert waited.sent == [] and await rows(db, ReportRevision) == []
    done = await auto_statements(db, settings, mail=ContractMailer(settings, SETTLED),
                                 now=SETTLED)
    assert [sent.month for sent in done.sent] == ["2026-10"]
