"""``sla-monitor ledger show|deposit|renew``: each site's days, support charge and refunds
(L-1..L-6, R-C3, R-P4)."""

from __future__ import annotations

import argparse
from decimal import Decimal

from monitor import actions
from monitor.actions import SiteAccount
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_format,
    command,
    local_day,
    local_time,
    parse_day,
    parse_decimal,
)
from monitor.config import Settings
from monitor.present import format_days, format_money, text_table


def _account(settings: Settings, site: SiteAccount) -> list[str]:

    def money(amount: Decimal) -> str:
        return format_money(amount, site.currency)

    status = "LAPSED (no credit, no support until renewed)" if site.lapsed else "active"
    lines = [
        f"site {site.site} (customer {site.customer}): {status}",
        "  paid until      "
        + (local_day(settings, site.paid_until) if site.paid_until else "never lapses"),
        f"  credit days     {format_days(site.credit_days)} in effect"
        + (f", {format_days(site.credit_days_pending)} approved, not yet in effect"
           if site.credit_days_pending else "")
        + (f"; service until {local_day(settings, site.service_until)}" if site.service_until and site.credit_days
           else ""),
        f"  support balance {money(site.charge)}"
        + (f" (of which {money(site.expiry_unrecorded)} expired and not yet written)"
           if site.expiry_unrecorded else ""),
        f"  refunds granted {money(site.refunds)} (R-P2)",
    ]
    if site.entries:
        lines.append(text_table(
            ["entry", "effective", "kind", "days", "amount", "rule", "reason"],
            [[e.id, local_time(settings, e.effective_at), e.kind,
              "-" if e.days is None else format_days(e.days),
              "-" if e.amount is None else format_money(e.amount, e.currency or site.currency),
              e.rule, e.reason + (f" (until {local_day(settings, e.paid_until)})" if e.paid_until
                          else "")]
             for e in site.entries]))
    return lines


@command
async def _show(run: Run) -> int:
    args, settings = run.args, run.settings
    accounts = await run.act(actions.ledger_show, settings, customer=args.customer,
                             site=args.site, now=run.now)
    return run.show(accounts, lambda: "\n\n".join(
        "\n".join(_account(settings, site)) for site in accounts) or "no sites")


@command
async def _deposit(run: Run) -> int:
    args = run.args
    amount = parse_decimal(args.amount, "amount", args=args)
    done = await run.act(actions.deposit, run.settings, site=args.site, amount=amount,
                         reference=args.reference, actor=actor(), now=run.now)
    return run.show(done, lambda: (
        f"entry {done.entry.id}: {format_money(amount, done.account.currency)} paid into "
        f"{args.site} (reference {args.reference}); support balance "
        f"{format_money(done.account.charge, done.account.currency)}"))


@command
async def _renew(run: Run) -> int:
    args, settings = run.args, run.settings
    until = parse_day(args, "until", settings)
    done = await run.act(actions.renew, run.settings, site=args.site, until=until,
                         actor=actor(), now=run.now)
    return run.show(done, lambda: (
        f"entry {done.entry.id}: {args.site} paid until {local_day(settings, until)} (was "
        f"{local_day(settings, done.previous_paid_until)})" + ("; re-activated (L-2)" if done.reactivated else "")))


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "ledger", help=summary("ledger"),
        description="The per-site ledger: days of service credited, the support balance "
        "(priced tickets, top-ups), refunds (R-P2), renewals. Entries are never edited or "
        "deleted; balances are never moved between domains (L-1) nor paid out (L-3).")
    sub = parser.add_subparsers(dest="ledger_command", metavar="COMMAND", required=True)

    show = sub.add_parser("show", help="balances and entries per site",
                          description="Each site's balances as of now, and its entries.")
    show.add_argument("--customer", help="only this customer's sites")
    show.add_argument("--site", help="only this domain")
    add_format(show)
    show.set_defaults(handler=_show)

    deposit = sub.add_parser(
        "deposit", help="record a payment of support charge",
        description="A payment of support charge into one site's balance (a top-up; what is "
        "left of it at the end of the yearly period expires, L-6).")
    deposit.add_argument("--site", required=True, help="the domain")
    deposit.add_argument("--amount", required=True, help="in the site's currency, above 0")
    deposit.add_argument("--reference", required=True, help="the payment's reference")
    add_format(deposit)
    deposit.set_defaults(handler=_deposit)

    renew = sub.add_parser(
        "renew", help="record a yearly renewal (re-activates a lapsed site)",
        description="A yearly renewal: the site is paid until --until and, if it had lapsed, "
        "is active again (L-2). The ended period's left-over support charge expires (L-6).")
    renew.add_argument("--site", required=True, help="the domain")
    renew.add_argument("--until", required=True, help="the new end of the paid period: a day YYYY-MM-DD of the configured calendar "
                       "(provider.calendar), as --month is a month of it")
    add_format(renew)
    renew.set_defaults(handler=_renew)
