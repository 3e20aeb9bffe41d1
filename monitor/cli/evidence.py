"""``sla-monitor evidence check``: walk the evidence chain and name its first broken link
(exit 1 when broken); ``evidence export``: one customer's month as an archive;
``evidence verify``: check an archive offline, recomputing its figures (exit 1 on the first
difference)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from monitor.actions.evidence import check_chain
from monitor.actions.evidence_archive import export_month, verify_archive
from monitor.cli.commands import summary
from monitor.cli.common import Run, add_format, command, print_json
from monitor.cli.progress import progress
from monitor.errors import InputError
from monitor.present import format_days, format_duration, format_money, format_percent


@command
async def _check(run: Run) -> int:
    with progress("evidence check") as told:  # minutes for millions of entries
        found = await run.act(check_chain, told)
    broken = found.broken
    if run.args.format == "json":
        print_json({
            "ok": found.ok,
            "entries": found.entries,
            "head": {"seq": found.head_seq, "hash": found.head_hash},
            "facts_compared": found.facts,
            "broken": None if broken is None else broken.as_dict(),
            "problems": len(found.problems),
        })
        return 0 if broken is None else 1
    if broken is None:
        print(f"evidence chain intact: {found.entries} entries, head {found.head_seq} "
              f"{found.head_hash}; {found.facts} chained facts match their rows")
        return 0
    where = (f"entry {broken.seq} ({broken.kind}, {broken.table} {broken.fact_id})"
             if broken.seq is not None else f"{broken.table} row {broken.fact_id}")
    print(f"evidence chain BROKEN at {where}: {broken.problem}")
    if len(found.problems) > 1:
        print(f"({len(found.problems) - 1} more problem(s) after it; --format json for counts)")
    return 1


@command
async def _export(run: Run) -> int:
    data = await run.act(export_month, run.settings, customer=run.args.customer,
                         month=run.args.month)
    target = Path(run.args.output)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError("output", run.args.output,
                         f"a writable file path ({exc.strerror or type(exc).__name__})") from None
    if run.args.format == "json":
        print_json({"file": str(target), "bytes": len(data), "customer": run.args.customer,
                    "month": run.args.month})
        return 0
    print(f"wrote {target} ({len(data):,} bytes): {run.args.customer}, {run.args.month}; "
          f"check it with: sla-monitor evidence verify {target} --key KEYS.json")
    return 0


def _read_input(field: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(field, path, f"a readable file ({exc.strerror or type(exc).__name__})"
                         ) from None


def _verify(args: argparse.Namespace) -> int:
    # Offline: no configuration, no database; the archive and the keys alone.
    data = _read_input("archive", args.file)
    keys: list[dict[str, Any]] | None = None
    if args.key is not None:
        try:
            document = json.loads(_read_input("key", args.key))
            keys = [dict(k) for k in document["keys"]]
        except (ValueError, KeyError, TypeError):
            raise InputError("key", args.key, "the JSON of /.well-known/sla-monitor-keys.json "
                             "(an object with a list 'keys')") from None
    found = verify_archive(data, keys)
    if args.format == "json":
        print_json({"ok": found.ok, "customer": found.customer, "month": found.month,
                    "revision": found.revision, "entries": found.entries, "head": found.head,
                    "key_id": found.key_id, "signed": found.signed,
                    "key_pinned": found.key_pinned, "figures": found.figures,
                    "steps": found.steps, "difference": found.difference})
        return 0 if found.ok else 1
    for step in found.steps:
        print(f"ok  {step}")
    if found.difference is not None:
        print(f"FAILED  {found.difference}")
        return 1
    print(f"verified: {found.customer}, {found.month}, revision {found.revision}: "
          f"{_figures(found.figures)}")
    if not found.signed or not found.key_pinned:
        print("note: " + ("the archive is not signed" if not found.signed else
                          "verified with the archive's own key copy; pass --key with the "
                          "published keys to be sure it is the provider's"), file=sys.stderr)
    return 0


def _figures(figures: dict[str, Any]) -> str:
    """The statement's figures that ``verify`` recomputed, in words as every figure is shown
    (its JSON keeps them as the statement's JSON has them)."""

    def number(name: str) -> Decimal:
        return Decimal(str(figures.get(name) or 0))

    currency = str(figures.get("currency") or "")
    shown = [
        f"availability {format_percent(number('availability_percent'))} %",
        f"counted downtime {format_duration(figures.get('downtime_seconds') or 0)}",
        f"excluded {format_duration(figures.get('excluded_seconds') or 0)}",
        f"unknown {format_duration(figures.get('unknown_seconds') or 0)}",
        f"tier {figures.get('tier') or 'none'}",
        f"credit {format_days(number('credit_days_total'))} worth "
        f"{format_money(number('credit_value'), currency)}",
    ]
    if number("refund_amount"):
        shown.append(f"refund {format_money(number('refund_amount'), currency)}")
    return ", ".join(shown)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "evidence", help=summary("evidence"),
        description="The append-only, hash-chained record of every fact the statements' "
        "figures derive from.")
    sub = parser.add_subparsers(dest="evidence_command", metavar="COMMAND", required=True)
    check = sub.add_parser(
        "check", help="walk the chain and name its first broken link",
        description="Recompute every entry's SHA-256 from its predecessor's, compare each "
        "chained fact with its row now, and look for rows the chain never recorded. Exit 0 "
        "when intact, 1 naming the first broken link (seq, kind, table, id, what differs). "
        "Read-only.")
    add_format(check, "text", "json")
    check.set_defaults(handler=_check)
    export = sub.add_parser(
        "export", help="one customer's month as an evidence archive",
        description="Write one ZIP archive with the customer's month: the chained facts its "
        "statement derives from (everyone else's entries by digest only), the engine's "
        "inputs, the statement of the month's latest revision and the signed checkpoint of "
        "the chain's head. Read-only.")
    export.add_argument("--customer", required=True, help="customer id")
    export.add_argument("--month", required=True, help="YYYY-MM in the configured calendar")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the archive")
    add_format(export, "text", "json")
    export.set_defaults(handler=_export)
    verify = sub.add_parser(
        "verify", help="check an archive offline and recompute its figures",
        description="Needs only the archive (no configuration, no database): recompute every "
        "link of the chain to the signed head, check the Ed25519 signature with the published "
        "key, check that the statement is the chained revision's and the inputs are the "
        "chained facts, then recompute the month with the engine. Exit 0 when everything "
        "agrees, 1 naming the first difference.")
    verify.add_argument("file", metavar="FILE", help="the archive (evidence export)")
    verify.add_argument("--key", metavar="KEYS.json",
                        help="the provider's published keys (/.well-known/sla-monitor-keys."
                        "json); without it the archive's own copy is used, and said")
    add_format(verify, "text", "json")
    verify.set_defaults(handler=_verify)
