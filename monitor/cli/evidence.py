"""``sla-monitor evidence check``: walk the evidence chain and name its first broken link
(exit 1 when broken)."""

from __future__ import annotations

import argparse

from monitor.actions.evidence import check_chain
from monitor.cli.commands import summary
from monitor.cli.common import Run, add_format, command, print_json


@command
async def _check(run: Run) -> int:
    found = await run.act(check_chain)
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
