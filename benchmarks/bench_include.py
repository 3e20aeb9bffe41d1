"""A configuration in many files: 10,000 customers in 10,000 files, loaded and reloaded.

One command::

    python benchmarks/bench_include.py [--customers 10000] [--repeat 3] [--json FILE]

It writes a main file (the web panel, one server, ``include: [customers.d]``) and one
file per customer, each with its project, as a billing system would
(``customers.d/c00042.yaml``), in a scratch directory. Then it times, ``--repeat`` times
each:

* ``in process``: :func:`monitor.config.load_config` (what ``check-config`` does);
* ``isolated``: :func:`monitor.config.isolated.load_config_isolated`, the child process
  the daemon reads its configuration through at start and at each ``SIGHUP`` (the reload
  validates everything before it applies anything);
* the same after one customer's file changed (a reload after a billing update);
* ``one file, in process``: the same customers, services and sites in the main file
  itself (a billing system's single export), read by :func:`load_config`.

Target: under 5 s each. Reported with this process's CPU-seconds and the rest of the
machine's busy time (others) and steal over the same interval: the machine is shared.
Prints a table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import timed

from monitor.config import load_config
from monitor.config.isolated import load_config_isolated

MAIN = """\
provider: {timezone: UTC}
include: [customers.d]
servers:
  - {id: web1, probe: {type: tcp, host: 127.0.0.1, port: 9}}
services:
  - {id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9}}
"""

CUSTOMER = """\
# written by the billing system
services:
  - id: site-{n}
    kind: project
    server: web1
    probe: {{type: http, url: "https://c{n}.example/"}}
customers:
  - id: c{n}
    name: Customer {n}
    contacts: {{technical: {{email: tech@c{n}.example}}}}
    fee: {{amount: 2500000, currency: IRR}}
    services: [site-{n}]
    sites: [{{domain: c{n}.example, paid_until: 2099-06-30}}]
"""


def write(directory: Path, customers: int) -> Path:
    (directory / "customers.d").mkdir()
    for n in range(customers):
        (directory / "customers.d" / f"c{n:05d}.yaml").write_text(CUSTOMER.format(n=n))
    main = directory / "config.yaml"
    main.write_text(MAIN)
    return main


def write_one(directory: Path, customers: int) -> Path:
    """The same configuration in one file: the main file's sections, then every
    customer's services and customers in them."""
    services = [f"  - {{id: site-{n}, kind: project, server: web1, probe: {{type: http, "
                f"url: \"https://c{n}.example/\"}}}}\n" for n in range(customers)]
    people = [f"  - {{id: c{n}, name: Customer {n}, contacts: {{technical: {{email: "
              f"tech@c{n}.example}}}}, fee: {{amount: 2500000, currency: IRR}}, services: "
              f"[site-{n}], sites: [{{domain: c{n}.example, paid_until: 2099-06-30}}]}}\n"
              for n in range(customers)]
    main = directory / "one.yaml"
    main.write_text(MAIN.replace("include: [customers.d]\n", "") + "".join(services)
                    + "customers:\n" + "".join(people))
    return main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-include-") as scratch:
        main_file = write(Path(scratch), args.customers)
        config = load_config(main_file)
        assert len(config.customers) == args.customers, len(config.customers)
        rows["in process"] = timed(lambda: load_config(main_file), args.repeat, children=True)
        rows["isolated (start, SIGHUP)"] = timed(
            lambda: load_config_isolated(main_file), args.repeat, children=True)
        changed = Path(scratch) / "customers.d" / "c00000.yaml"
        changed.write_text(changed.read_text().replace("Customer 0", "Customer zero"))
        rows["isolated, one file changed"] = timed(
            lambda: load_config_isolated(main_file), args.repeat, children=True)
        one_file = write_one(Path(scratch), args.customers)
        assert len(load_config(one_file).customers) == args.customers
        rows["one file, in process"] = timed(lambda: load_config(one_file), args.repeat,
                                             children=True)
    print(f"{args.customers:,} customers in {args.customers:,} files "
          f"(+ the main file), median of {args.repeat}; target under 5 s")
    print(f"{'load':30} {'wall s':>8} {'max s':>8} {'cpu s':>8} {'others s':>9} {'steal s':>8}")
    for name, row in rows.items():
        print(f"{name:30} {row['wall_s']:8.2f} {row['max_wall_s']:8.2f} {row['cpu_s']:8.2f} "
              f"{row['others_cpu_s']:9.2f} {row['steal_s']:8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"customers": args.customers, "repeat": args.repeat,
                                         "cpus": os.cpu_count(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
