"""Whatever another monitor's configuration holds, ``import`` makes a configuration that
``check-config`` accepts (exit 0) or says what is wrong (exit 2), never a traceback.

A Gatus file's endpoints and an Uptime Kuma database's monitors get values of any kind
where the import reads them, as a file edited by hand or a database written by another
tool may hold (SQLite keeps whatever is written). Before the fixes this test came with,
115 of 800 such Gatus files and 75 of 300 such Kuma databases ended in a traceback.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main
from tests.imports.test_kuma import kuma_database

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(["", "٣", "1h", "-5s", "0s", "http://", "https://a b/", "tcp://:x",
                     "[STATUS] == 200", "[BODY].a == x", "not json", "[1,2]", '{"a":1}',
                     "2026-13-45 99:99:99", "tcp", "http", "group", "port", "x" * 200]),
    st.lists(st.sampled_from(["a", 1]), max_size=2),
    st.dictionaries(st.sampled_from(["type", "a"]), st.sampled_from([1, "x"]), max_size=2),
)
GATUS_KEYS = ["name", "group", "url", "interval", "conditions", "method", "headers", "client",
              "alerts", "enabled", "maintenance-windows", "body", "dns"]


def answered(arguments: list[str]) -> tuple[int | str | None, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(arguments)
    said = err.getvalue()
    assert "Traceback" not in said and "unexpected error" not in said, said
    assert code in (0, 2), (code, said)
    return code, said


def imported(arguments: list[str], directory: Path) -> None:
    """The import answered clearly; a configuration it wrote passes ``check-config``."""
    out = directory / "out.yaml"
    code, said = answered([*arguments, "-o", str(out)])
    if code == 0:
        assert answered(["-c", str(out), "check-config"])[0] == 0, said


@st.composite
def gatus_endpoint(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(ANY_VALUE)  # not a mapping at all
    endpoint: dict[str, Any] = {"name": "web", "url": "https://acme.example/",
                                "conditions": ["[STATUS] == 200"]}
    for key in draw(st.lists(st.sampled_from(GATUS_KEYS), max_size=4, unique=True)):
        endpoint[key] = draw(st.one_of(
            ANY_VALUE,
            st.lists(st.dictionaries(
                st.sampled_from(["type", "failure-threshold", "success-threshold", "timeout",
                                 "insecure", "enabled"]), ANY_VALUE, max_size=3), max_size=2),
            st.dictionaries(st.sampled_from(["timeout", "insecure", "ignore-redirect"]),
                            ANY_VALUE, max_size=2)))
    return endpoint


# derandomize: the same sources in every run (test_any_configuration.py says why).
@settings(max_examples=120, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(endpoints=st.lists(gatus_endpoint(), min_size=1, max_size=3),
       alerting=st.one_of(st.none(), ANY_VALUE,
                          st.dictionaries(st.sampled_from(["email", "slack", "custom"]),
                                          ANY_VALUE, max_size=2)))
def test_any_gatus_file_is_imported_or_refused_clearly(endpoints: list[Any],
                                                       alerting: Any) -> None:
    document: dict[str, Any] = {"endpoints": endpoints}
    if alerting is not None:
        document["alerting"] = alerting
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "gatus.yaml"
        source.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        imported(["import", "gatus", str(source)], Path(directory))


KUMA_COLUMNS = ["name", "active", "interval", "url", "type", "hostname", "port", "keyword",
                "maxretries", "ignore_tls", "upside_down", "maxredirects",
                "accepted_statuscodes_json", "method", "headers", "parent", "timeout"]
KUMA_VALUE = st.one_of(ANY_VALUE.filter(lambda v: not isinstance(v, list | dict)),
                       st.floats(allow_nan=False))


@pytest.fixture(scope="module")
def kuma_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kuma_database(tmp_path_factory.mktemp("kuma") / "kuma.db")


@settings(max_examples=80, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(KUMA_COLUMNS), st.integers(1, 9),
                                  KUMA_VALUE), min_size=1, max_size=5),
       beat=st.tuples(KUMA_VALUE, KUMA_VALUE))
def test_any_kuma_database_is_imported_or_refused_clearly(
        kuma_db: Path, changes: list[tuple[str, int, Any]], beat: tuple[Any, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "kuma.db"
        shutil.copy(kuma_db, database)
        with contextlib.closing(sqlite3.connect(database)) as db:
            for column, monitor, value in changes:
                with contextlib.suppress(sqlite3.Error, OverflowError):
                    db.execute(f"UPDATE monitor SET `{column}` = ? WHERE id = ?",
                               (value, monitor))
            with contextlib.suppress(sqlite3.Error, OverflowError):
                db.execute("INSERT INTO heartbeat (monitor_id, status, time, msg) "
                           "VALUES (2, ?, ?, '')", beat)
            db.commit()
        imported(["import", "uptime-kuma", str(database)], Path(directory))
