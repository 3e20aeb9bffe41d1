"""``sla-monitor claim submit|decide|list|show`` (R-C1, D-4, R-C3)."""

from __future__ import annotations

import argparse
from decimal import Decimal

from monitor import actions
from monitor.actions import ClaimView
from monitor.actions.claims import latest_decision
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_at,
    add_format,
    command,
    due_time,
    local_time,
    parse_decimal,
    whole_number,
)
from monitor.cli.progress import progress
from monitor.config import Settings
from monitor.notify.contract import ContractMailer
from monitor.present import format_days, format_money, text_table
from monitor.sla import CLAIM_CHANNELS


def _summary(settings: Settings, view: ClaimView) -> list[str]:
    claim, computed = view.claim, view.computed
    lines = [
        f"claim {claim.id}: {claim.customer_id} {claim.month} ({claim.calendar}), credited to "
        f"{claim.site_domain}; submitted {local_time(settings, claim.submitted_at)} by {claim.channel}",
        f"  receipt due   {due_time(settings, claim.receipt_due_at, view.receipt)}"
        + (f", sent {local_time(settings, claim.receipt_sent_at)}" if claim.receipt_sent_at else ""),
        f"  decision due  {due_time(settings, claim.decision_due_at, view.decision)}",
        f"  computed      {format_days(computed.credit_days_total)} of service worth "
        f"{format_money(computed.credit_value, computed.currency)}"
        + (f" and a refund of {format_money(computed.refund_amount, computed.currency)}"
           if computed.refund_amount else "")
        + (f" (tier {computed.tier})" if computed.tier else "")
        + (f"; no credit: {computed.ineligible_reason}" if computed.ineligible_reason else ""),
    ]
    if claim.decision is not None:
        lines.append(
            f"  decided       {claim.decision} at {local_time(settings, claim.decided_at)}: granted "
            f"{format_days(view.granted_days)}"
            + (f" and {format_money(view.granted_amount, computed.currency)}"
               if view.granted_amount else "")
            + (f", effective {local_time(settings, claim.credited_at)}" if claim.credited_at else "")
            + (f"; reason: {claim.decision_reason}" if claim.decision_reason else ""))
    for review in view.reviews:  # R-C3: the claim's record keeps its first decision
        lines.append(
            f"  reviewed      after revision {review.revision}: {review.decision} at "
            f"{local_time(settings, review.decided_at)}, adjusted by "
            f"{format_days(review.days)}"
            + (f" and {format_money(review.amount, computed.currency)}" if review.amount
               else "")
            + (f"; reason: {review.reason}" if review.reason else ""))
    if claim.review_revision is not None:
        lines.append(
            f"  REVIEW        revision {claim.review_revision} changed the credit by "
            f"{format_days(view.review_days or Decimal(0))}"
            + (f" and {format_money(view.review_amount, computed.currency)}"
               if view.review_amount else "")
            + f": decide again (sla-monitor claim decide {claim.id} ...)")
    return lines


def _evidence(view: ClaimView) -> str:
    rows = []
    for line in view.computed.credit_lines:
        found = [("incidents", line.incidents), ("maintenance", line.maintenance),
                 ("tickets", line.tickets)]
        evidence = "; ".join(f"{kind} {','.join(map(str, ids))}" for kind, ids in found if ids)
        rows.append([line.rule, "-" if line.days is None else format_days(line.days),
                     "-" if line.amount is None else format_money(line.amount, view.computed.currency),
                     evidence])
    return text_table(["rule", "days", "amount", "evidence"], rows)


@command
async def _submit(run: Run) -> int:
    args, settings = run.args, run.settings
    view = await run.act(
        actions.submit_claim, settings, customer=args.customer, month=args.month, site=args.site,
        channel=args.channel, note=args.note, at=run.at(), mail=ContractMailer(settings, run.now),
        actor=actor(), now=run.now)
    return run.show(view, lambda: "\n".join(
        [*_summary(settings, view), "the receipt is queued for the customer's technical contact"]))


@command
async def _decide(run: Run) -> int:
    args, settings = run.args, run.settings
    at = run.at()
    decision = "approved" if args.approve else "rejected" if args.reject else "partly"
    days = None if args.partly is None else parse_decimal(args.partly, "days", "3.5", args)
    view = await run.act(
        actions.decide_claim, settings, claim_id=args.id, decision=decision, days=days,
        reason=args.reason, at=at, mail=ContractMailer(settings, run.now), actor=actor(),
        now=run.now)
    return run.show(view, lambda: "\n".join(
        [*_summary(settings, view), "the decision is queued for the customer's technical contact"]))


def _row(settings: Settings, view: ClaimView) -> list[object]:
    claim, computed = view.claim, view.computed
    decided = latest_decision(claim, view.reviews)  # a review's (R-C3), else the first
    return [
        claim.id, claim.customer_id, claim.month, claim.site_domain,
        local_time(settings, claim.submitted_at),
        view.receipt, due_time(settings, claim.decision_due_at, view.decision),
        shown(computed), "-" if decided is None else decided.state,
        format_days(view.granted_days) if claim.decision else "-",
        # R-C3: a later revision changed the month's credit; the decision is up for review.
        "-" if claim.review_revision is None else f"revision {claim.review_revision}",
    ]


def shown(computed: actions.ComputedCredit) -> str:
    text = f"{format_days(computed.credit_days_total)} = {format_money(computed.credit_value, computed.currency)}"
    if computed.refund_amount:
        text += f" + refund {format_money(computed.refund_amount, computed.currency)}"
    return text


@command
async def _list(run: Run) -> int:
    args, settings = run.args, run.settings
    # Seconds at thousands of claims: each step on standard error (a bar on a terminal, log
    # lines elsewhere; nothing in the first 2 s), before the list on standard output.
    with progress("claim list") as told:  # its steps name the months
        views = await run.act(actions.list_claims, settings, month=args.month,
                              customer=args.customer, open_only=args.open,
                              overdue=args.overdue, now=run.now, progress=told)
    headers = ["id", "customer", "month", "site", "submitted", "receipt", "decision due",
               "computed credit", "decision", "granted", "review"]
    return run.show(views, lambda: text_table(headers, [_row(settings, view) for view in views]))


def _shown_claim(settings: Settings, view: ClaimView) -> str:
    lines = [*_summary(settings, view), "\nthe engine's credit for the month, line by line (R-C3):",
             _evidence(view)]
    if view.entries:
        lines.append("\nledger entries of this claim:")
        lines.append(text_table(["entry", "effective", "rule", "days", "amount", "reason"], [
            [e.id, local_time(settings, e.effective_at), e.rule,
             "-" if e.days is None else format_days(e.days),
             "-" if e.amount is None else format_money(e.amount, e.currency or ""), e.reason]
            for e in view.entries]))
    return "\n".join(lines)


@command
async def _show(run: Run) -> int:
    view = await run.act(actions.show_claim, run.settings, claim_id=run.args.id, now=run.now)
    return run.show(view, lambda: _shown_claim(run.settings, view))


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "claim", help=summary("claim"),
        description="Service credit claims (R-C1): one per customer and month, within the "
        "claim deadline after the month ends; receipts and decisions are e-mailed (D-4).")
    sub = parser.add_subparsers(dest="claim_command", metavar="COMMAND", required=True)

    submit = sub.add_parser(
        "submit", help="record a customer's claim for a month",
        description="Record a credit claim for an ended month; refused after the deadline "
        "(the month's end in the provider's zone plus policy.claim_deadline, inclusive) or "
        "when the customer already claimed that month. The receipt is e-mailed at once.")
    submit.add_argument("--customer", required=True, help="customer id")
    submit.add_argument("--month", required=True, help="YYYY-MM in the configured calendar")
    submit.add_argument("--site", help="the domain credited (default: the customer's only one)")
    submit.add_argument("--channel", default="email",
                        help="how the claim arrived: " + ", ".join(CLAIM_CHANNELS) + " (default: email)")
    submit.add_argument("--note", help="free text kept with the claim")
    add_at(submit, "the claim was submitted")
    add_format(submit)
    submit.set_defaults(handler=_submit)

    decide = sub.add_parser(
        "decide", help="approve, partly approve or reject a claim",
        description="Decide a claim once (again only when a new revision of its month marked "
        "it for review, R-C3). Approval adds the month's credit lines to the site's ledger, "
        "effective policy.credit_delay later; the decision is e-mailed.")
    decide.add_argument("id", metavar="ID", type=whole_number, help="claim id")
    how = decide.add_mutually_exclusive_group(required=True)
    how.add_argument("--approve", action="store_true", help="grant the computed credit")
    how.add_argument("--partly", metavar="DAYS", help="grant DAYS days of service (whole or .5)")
    how.add_argument("--reject", action="store_true", help="grant nothing (needs --reason)")
    decide.add_argument("--reason", help="why (e-mailed to the customer)")
    add_at(decide, "the claim was decided")
    add_format(decide)
    decide.set_defaults(handler=_decide)

    lst = sub.add_parser("list", help="list claims with their computed credit",
                         description="Claims with their deadlines (D-4) and the engine's "
                         "computed credit for each customer and month.")
    lst.add_argument("--month", help="only this month (configured calendar)")
    lst.add_argument("--customer", help="only this customer")
    lst.add_argument("--open", action="store_true", help="only undecided or awaiting review")
    lst.add_argument("--overdue", action="store_true",
                     help="only those whose receipt or decision is past due")
    add_format(lst)
    lst.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one claim, its computed credit and evidence",
                          description="One claim: deadlines, the engine's credit line by line "
                          "with its evidence, what was granted, and a pending review.")
    show.add_argument("id", metavar="ID", type=whole_number, help="claim id")
    add_format(show)
    show.set_defaults(handler=_show)
