"""The real daemon keeps the terms of the month that ended as it sees it end
(:func:`monitor.actions.keep_month_terms`, the ``month-terms`` job at start and every
minute), and the month is closed with them after the configuration changed.

The month is :mod:`tests.actions.statements_world`'s October 2026, worked by hand there:
acme 8 days of credit (tier 1w, 7 days, R-T1; a late notification, 1 day, R-N1) worth
8 x 3,650 / 365 = 80.00 EUR (R-T2). On 1 November the daemon runs (no ``statements.auto``);
then acme's fee doubles to 7,300 a year from November, and October is closed.
"""

from __future__ import annotations

from decimal import Decimal

from monitor import actions
from monitor.app import Daemon
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import MonthTermsRecord
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.actions.statements_world import NOW, at, record_october, yaml
from tests.support import MONITOR, eventually, rows


async def test_the_daemon_keeps_the_ended_months_terms_for_its_close(sqlite_url: str) -> None:
    async with TargetServer() as host, SMTPSink() as sink:
        text = "\n".join([
            yaml(tcp=f"{{type: tcp, host: 127.0.0.1, port: {host.port}}}"), MONITOR,
            f"smtp: {{host: {sink.host}, port: {sink.port}, tls: none, timeout: 5}}",
            f"storage: {{url: '{sqlite_url}'}}"])
        config = parse_config(text)
        engine = create_engine(sqlite_url)
        await upgrade(engine)
        db = Database(engine)
        try:
            await record_october(db, Settings.from_config(config))
            daemon = Daemon(config, clock=FakeClock(at(1, 0, 1, month=11)),
                            notifier_options={"poll_interval": 0.1})
            await daemon.start()
            try:
                [kept] = await eventually(lambda: rows(db, MonthTermsRecord))
            finally:
                await daemon.stop()
            assert (kept.calendar, kept.month) == ("gregorian", "2026-10")
            november = Settings.from_config(parse_config(text.replace(
                "fee: {amount: 3650, currency: EUR}\n    services: [acme-survey]",
                "fee: {amount: 7300, currency: EUR}\n    services: [acme-survey]")))
            closing = await actions.close_month(db, november, month="2026-10", now=NOW)
            assert closing.terms_differ == ["acme: fee_per_year 3650 -> 7300"]
            report = await actions.month_report(db, november, month="2026-10", now=NOW)
            assert report.customer("acme").credit_value == Decimal(8 * 3650) / 365
        finally:
            await engine.dispose()
