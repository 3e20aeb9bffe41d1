"""A configuration in several files: ``include`` of files, globs and directories (one file
per customer, as a billing system writes them). Each problem names its file and its line
there; a reload takes every file or none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.app import Daemon
from monitor.config import load_config, parse_config
from monitor.config.isolated import load_config_isolated
from monitor.config.loader import ReadLimits
from monitor.errors import ConfigError
from monitor.testing.targets import TargetServer

MAIN = """\
provider: {{timezone: UTC}}
include: {include}
services:
  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    sites: [{{domain: acme.example}}]
"""


def customer(ident: str, *, domain: str | None = None, amount: str = "1000",
             services: str = "") -> str:
    return f"""\
# written by the billing system
customers:
  - id: {ident}
    name: Customer {ident}
    contacts: {{technical: {{email: tech@{ident}.example}}}}
    fee: {{amount: {amount}, currency: EUR}}
    sites: [{{domain: {domain or ident + '.example'}}}]
{services}"""


def tree(tmp_path: Path, include: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    main = tmp_path / "config.yaml"
    main.write_text(MAIN.format(include=include))
    return main


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(issue) for issue in caught.value.issues]


def test_a_directory_a_glob_and_a_file_add_their_items_in_order(tmp_path: Path) -> None:
    main = tree(tmp_path, "[customers.d, extra/*.yml, types.yaml]", {
        "customers.d/b.yaml": customer("bita"),
        "customers.d/a.yaml": customer("arta"),
        "customers.d/.hidden.yaml": "not: [read",  # editors' and tools' dot files
        "customers.d/notes.txt": "not YAML at all: [",  # only *.yaml and *.yml
        "extra/x.yml": "servers:\n  - {id: web1, probe: {type: tcp, host: 127.0.0.1, "
                       "port: 9}}\nservices:\n  - {id: site, kind: project, server: web1, "
                       "probe: {type: tcp, host: 127.0.0.1, port: 9}}\n",
        "types.yaml": "ticket_types:\n  - {id: receipt, name: A receipt, price: 5}\n",
    })
    config = load_config(main)
    # The main file's first, then each file as include names it, a directory's by name.
    assert [c.id for c in config.customers] == ["acme", "arta", "bita"]
    assert [s.id for s in config.services] == ["panel", "site"]
    assert [s.id for s in config.servers] == ["web1"]
    assert [t.id for t in config.ticket_types] == ["receipt"]
    assert config.include == ["customers.d", "extra/*.yml", "types.yaml"]
    # The daemon reads its configuration through a child process: the same result.
    assert load_config_isolated(main) == config


def test_an_empty_directory_or_glob_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "customers.d").mkdir()
    main = tree(tmp_path, "[customers.d, 'more/*.yaml']", {})
    assert [c.id for c in load_config(main).customers] == ["acme"]


def test_each_problem_names_its_file_and_its_line_there(tmp_path: Path) -> None:
    main = tree(tmp_path, "[customers.d]", {
        "customers.d/a.yaml": customer("arta", amount="-5"),
        "customers.d/b.yaml": customer("acme", domain="acme.example",
                                       services="    services: [nowhere]\n"),
    })
    assert problems(main) == [
        # The line in a.yaml; the index within a.yaml's own list.
        "customers.d/a.yaml, line 6: customers[0].fee.amount: -5 is not valid: input should "
        "be greater than or equal to 0",
        # The other item is named where it is written.
        "customers.d/b.yaml, line 3: customers[0].id: 'acme' is already used by customers[0] "
        "in config.yaml; ids must be unique",
        "customers.d/b.yaml, line 7: customers[0].sites[0].domain: 'acme.example' is already "
        "used by customers[0].sites[0] in config.yaml; a domain belongs to exactly one "
        "customer (L-1)",
        "customers.d/b.yaml, line 8: customers[0].services[0]: unknown service 'nowhere'; "
        "allowed: panel",
    ]


def test_duplicate_keys_and_bad_yaml_in_an_included_file_name_it(tmp_path: Path) -> None:
    main = tree(tmp_path, "[c.yaml]", {"c.yaml": customer("bita").replace(
        "    name: Customer bita\n", "    name: Customer bita\n    name: Twice\n")})
    assert problems(main) == [
        "c.yaml, line 5: customers[0].name: duplicate key 'name'; each key may appear once"]
    (tmp_path / "c.yaml").write_text("customers: [\n")
    assert problems(main)[0].startswith("c.yaml, line 2: (file): not valid YAML")
    (tmp_path / "c.yaml").write_bytes(b"customers: []\n# \xff\n")
    assert problems(main) == ["c.yaml, line 2: (file): not UTF-8: byte 0xff at offset 16; "
                              "allowed: a UTF-8 text file"]


@pytest.mark.parametrize(("text", "expected"), [
    ("include: [more.yaml]\n", "other.yaml, line 1: include: unknown key 'include'; allowed "
     "keys in an included file: servers, services, customers, ticket_types (only the main "
     "file includes)"),
    ("provider: {timezone: UTC}\n", "other.yaml, line 1: provider: unknown key 'provider'"),
    ("customers: {id: x}\n", "other.yaml, line 1: customers: {'id': 'x'} is not valid: "
     "expected a list"),
    ("- a\n- b\n", "other.yaml, line 1: (top level): expected a mapping of servers, services, "
     "customers, ticket_types"),
])
def test_an_included_file_holds_only_lists_of_items(tmp_path: Path, text: str,
                                                   expected: str) -> None:
    main = tree(tmp_path, "[other.yaml]", {"other.yaml": text})
    assert expected in problems(main)[0]


def test_what_include_names_must_be_there(tmp_path: Path) -> None:
    main = tree(tmp_path, "[customers.d, missing.yaml]", {"customers.d/a.yaml": customer("a")})
    assert problems(main) == ["line 2: include[1]: 'missing.yaml' is not valid: no such file "
                              "or directory; allowed: a file, a directory or a glob, relative "
                              "to this file"]
    main.write_text(MAIN.format(include="customers.d"))
    assert "include: 'customers.d' is not valid: expected a list" in problems(main)[0]


def test_text_checked_without_a_file_may_not_include() -> None:
    # POST /api/v1/config/check sends text: its includes would be read on the server.
    with pytest.raises(ConfigError) as caught:
        parse_config("include: [/etc/passwd]\n")
    assert [str(i) for i in caught.value.issues] == [
        "line 1: include: not allowed here; allowed: in a configuration file (included paths "
        "are relative to its directory)"]


def test_the_files_together_are_bounded(tmp_path: Path) -> None:
    main = tree(tmp_path, "[customers.d]", {
        f"customers.d/{n}.yaml": customer(f"c{n}") for n in range(4)})
    size = sum(len(p.read_bytes()) for p in tmp_path.rglob("*.yaml"))
    with pytest.raises(ConfigError) as caught:
        load_config(main, ReadLimits(max_bytes=size - 1))
    (issue,) = caught.value.issues
    assert issue.file == "customers.d/3.yaml"
    assert "is too large with the files before it" in str(issue)
    assert len(load_config(main, ReadLimits(max_bytes=size)).customers) == 5


@pytest.mark.slow
async def test_a_reload_takes_every_file_or_none(tmp_path: Path, sqlite_url: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    async with TargetServer() as panel:
        main = tree(tmp_path, "[customers.d]", {"customers.d/bita.yaml": customer("bita")})
        main.write_text(main.read_text().replace(
            "{type: tcp, host: 127.0.0.1, port: 9}", f'{{type: http, url: "{panel.url("/")}"}}')
            + f'storage: {{url: "{sqlite_url}"}}\nhttp: {{listen: "127.0.0.1:0"}}\n')
        registry = CollectorRegistry()
        daemon = Daemon(load_config(main), main, registry=registry)
        await daemon.start()
        try:
            assert [c.id for c in daemon.config.customers] == ["acme", "bita"]
            # The billing system writes two files; the second is wrong: neither is taken.
            (tmp_path / "customers.d" / "dara.yaml").write_text(customer("dara"))
            (tmp_path / "customers.d" / "ezra.yaml").write_text(customer("ezra", amount="x"))
            before = daemon.config
            assert await daemon.reload() is False
            assert daemon.config is before
            assert registry.get_sample_value(
                "sla_monitor_config_reloads_total", {"result": "rejected"}) == 1
            (refused,) = [r for r in caplog.records if r.getMessage().startswith(
                "configuration reload refused")]
            assert "customers.d/ezra.yaml, line 6: customers[0].fee.amount" in getattr(
                refused, "reason", "")
            os.remove(tmp_path / "customers.d" / "ezra.yaml")
            assert await daemon.reload() is True
            assert [c.id for c in daemon.config.customers] == ["acme", "bita", "dara"]
        finally:
            await daemon.stop()


@pytest.mark.slow
def test_many_files_parsed_by_several_processes_read_as_in_one(tmp_path: Path) -> None:
    """The daemon's reader child parses many included files in a process per core
    (monitor.config.loader._load_all): the same configuration as one process reads, and
    the same first problem, named in its file at its line."""
    from monitor.config.loader import PARALLEL_FROM

    count = PARALLEL_FROM + 50
    files = {f"customers.d/c{n:04d}.yaml": customer(f"c{n:04d}") for n in range(count)}
    main = tree(tmp_path, "[customers.d]", files)
    alone = load_config(main)
    together = load_config_isolated(main)
    assert together.model_dump() == alone.model_dump()
    assert [c.id for c in together.customers] == ["acme", *(f"c{n:04d}" for n in range(count))]
    # A problem late in the list, and another after it: the first is the one said.
    (tmp_path / f"customers.d/c{count - 40:04d}.yaml").write_text("customers: [\n")
    (tmp_path / f"customers.d/c{count - 10:04d}.yaml").write_text("customers: {a: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config_isolated(main)
    assert [str(i) for i in caught.value.issues] == problems(main)
    assert f"customers.d/c{count - 40:04d}.yaml" in str(caught.value.issues[0])
