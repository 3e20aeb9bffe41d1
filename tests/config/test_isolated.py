"""The daemon reads its configuration through a child process (monitor.config.isolated):
the very same Config, and the very same ConfigError, as reading it in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.config.isolated import CHUNK, load_config_async, load_config_isolated
from monitor.errors import ConfigError


def test_the_example_comes_back_the_same(example_config_path: Path) -> None:
    assert load_config_isolated(example_config_path) == load_config(example_config_path)


@pytest.mark.slow
async def test_many_targets_come_back_the_same_in_chunks(tmp_path: Path) -> None:
    # More services than one chunk, with what the schema turns into other types on the
    # way (durations, Decimal fees, dates, aliases like probe.json).
    count = 2 * CHUNK + 7
    lines = [
        "provider: {holidays: [2026-03-21]}",
        "servers: [{id: srv-1, probe: {type: tcp, host: 10.0.0.1, port: 22, interval: 1m}}]",
        "services:",
    ]
    lines += [
        f'  - {{id: s{i:05d}, kind: project, server: srv-1, probe: {{type: http, '
        f'url: "https://s{i}.example/", interval: 45s, timeout: 5s, '
        f'json: {{path: status, equals: ok}}, headers: {{X-Probe: "{i}"}}}}}}'
        for i in range(count)
    ]
    lines += [
        "customers:",
        "  - {id: acme, name: ACME, contacts: {technical: {email: it@acme.example}},",
        "     fee: {amount: 365.25, currency: EUR}, services: [s00001],",
        "     sites: [{domain: acme.example, paid_until: 2027-01-31}]}",
    ]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    expected = load_config(path)
    assert len(expected.services) == count
    assert load_config_isolated(path) == expected
    assert await load_config_async(path) == expected


@pytest.mark.slow
async def test_a_broken_file_gives_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "services:\n"
        "  - {id: shop, kind: project, server: srv-9, probe: {type: tcp, host: h, port: 0}}\n"
    )
    with pytest.raises(ConfigError) as in_process:
        load_config(path)
    with pytest.raises(ConfigError) as child:
        load_config_isolated(path)
    with pytest.raises(ConfigError) as reloaded:
        await load_config_async(path)
    assert str(child.value) == str(in_process.value) == str(reloaded.value)
    assert [(i.path, i.line) for i in child.value.issues] == [
        (i.path, i.line) for i in in_process.value.issues
    ]


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_isolated(tmp_path / "missing.yaml")


def test_equal_parts_of_the_services_are_shared_and_nothing_changes() -> None:
    # The daemon's memory per target (benchmarks/HISTORY.md): equal sets, defaults, numbers
    # and literal strings of the services validated from JSON become one object each.
    from monitor.config import parse_config
    from monitor.config.isolated import share_equal_parts

    text = "services:\n" + "".join(
        f'  - {{id: s{i}, kind: mobile_api, probe: {{type: http, url: "http://10.0.0.{i}/", '
        f"interval: 30s, timeout: 5s}}}}\n"
        for i in range(3)
    )
    config = parse_config(text)
    before = [s.model_dump(mode="json", exclude_unset=True) for s in config.services]
    again = parse_config(text)
    one, two = again.services[:2]
    assert one.probe.__pydantic_fields_set__ is not two.probe.__pydantic_fields_set__
    share_equal_parts(again.services)
    assert one.probe.__pydantic_fields_set__ is two.probe.__pydantic_fields_set__
    assert one.__pydantic_fields_set__ is two.__pydantic_fields_set__
    assert one.probe.expected_status is two.probe.expected_status
    assert one.probe.headers is two.probe.headers
    assert one.kind is two.kind and one.probe.interval is two.probe.interval
    assert one.probe.url is not two.probe.url  # values seen once stay as they were
    assert again == config
    assert [s.model_dump(mode="json", exclude_unset=True) for s in again.services] == before
