"""``sla-monitor evidence export`` then ``evidence verify`` on another machine's view: the
archive alone (and the published key) gives the statement's figures back, recomputed by the
pure engine; an archive edited anywhere names the first difference."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.actions.evidence import published_keys
from monitor.actions.evidence_archive import verify_archive
from monitor.actions.evidence_keys import SigningKey
from monitor.cli import main
from monitor.sla.archive import ArchivedInputs
from monitor.store import Database, unknown
from tests.actions.contract import yaml


class Run:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.capsys = config, capsys

    async def __call__(self, *args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["-c", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err


def _key_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


SCENARIO = (
    ("incident", "add", "--service", "panel", "--start", "2026-10-10T08:00Z",
     "--end", "2026-10-10T11:00Z"),
    ("incident", "add", "--service", "acme-survey", "--start", "2026-10-20T08:00Z",
     "--end", "2026-10-20T08:40Z"),
    ("incident", "notified", "2", "--at", "2026-10-20T09:00Z", "--channel", "phone",
     "--customer", "acme"),
    ("report", "close", "--month", "2026-10"),
)


def _made_on_sqlite(directory: Path, *, monitor_down: bool = True) -> tuple[bytes, Path]:
    """The scenario's month closed on SQLite in ``directory`` and acme's archive exported
    by the command line: the archive and the published keys' file."""
    import contextlib

    private = Ed25519PrivateKey.generate()
    (directory / "key.pem").write_bytes(_key_pem(private))
    config = directory / "config.yaml"
    config.write_text(yaml() + f"storage: {{url: 'sqlite+aiosqlite:///{directory / 'db'}'}}\n"
                      f"maildir: {directory / 'Maildir'}\n"
                      f"evidence: {{signing_key: '{directory / 'key.pem'}'}}\n")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-c", str(config), "db", "upgrade"]) == 0
        if monitor_down:
            asyncio.run(_monitor_down(f"sqlite+aiosqlite:///{directory / 'db'}"))
        for args in (*SCENARIO,
                     ("evidence", "export", "--customer", "acme", "--month", "2026-10", "-o",
                      str(directory / "acme.zip"))):
            assert main(["-c", str(config), *args]) == 0, args
    key = SigningKey(private)
    keys = directory / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key_id": key.id, "public_key": key.public_b64}]}))
    return (directory / "acme.zip").read_bytes(), keys


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """One archive and its keys file, made once for the module on SQLite (the edits below
    need no database: verification is offline)."""
    return _made_on_sqlite(tmp_path_factory.mktemp("archive"))


@pytest.fixture
async def exported(tmp_path: Path, db_url: str, db: Database,
                   capsys: pytest.CaptureFixture[str]) -> tuple[Run, Path, Path]:
    private = Ed25519PrivateKey.generate()
    key_file = tmp_path / "evidence-key.pem"
    key_file.write_bytes(_key_pem(private))
    config = tmp_path / "config.yaml"
    config.write_text(yaml() + f"storage: {{url: '{db_url}'}}\nmaildir: {tmp_path / 'Maildir'}\n"
                      f"evidence: {{signing_key: '{key_file}'}}\n")
    run = Run(config, capsys)
    for args in SCENARIO:
        code, _, err = await run(*args)
        assert code == 0, (args, err)
    archive = tmp_path / "acme-2026-10.zip"
    code, out, err = await run("evidence", "export", "--customer", "acme", "--month",
                               "2026-10", "-o", str(archive))
    assert code == 0, err
    assert out.startswith(f"wrote {archive}")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(await published_keys(db, SigningKey(private))))
    return run, archive, keys


@pytest.mark.slow
async def test_the_archive_alone_gives_the_statement_s_figures_back(
        exported: tuple[Run, Path, Path], tmp_path: Path) -> None:
    run, archive, keys = exported
    code, out, err = await run("evidence", "verify", str(archive), "--key", str(keys))
    assert code == 0, out + err
    assert "ok  signature: valid, key " in out and "recomputed from the archive alone" in out
    assert out.splitlines()[-1].startswith("verified: acme, 2026-10, revision 1: ")
    # In words, as every figure is shown (it said "tier None, credit_value 0.0"): 3 h 40 min
    # of October's 31 days, 99.507 % (R-M6, down), tier 1w (R-T1) and R-N1's day, 8 days.
    figures = out.splitlines()[-1].split(": ", 2)[2]
    assert figures.startswith("availability 99.507 %, counted downtime 3 h 40 min, excluded "
                              "0 s, unknown "), figures
    assert ", tier 1w, credit 8 days worth " in figures and "None" not in figures, figures
    code, out, _ = await run("evidence", "verify", str(archive), "--key", str(keys),
                             "--format", "json")
    found = json.loads(out)
    assert code == 0 and found["ok"] and found["signed"] and found["key_pinned"]
    # 3 h of the panel, unnotified (R-N1), and 40 min of the project, notified in time.
    assert found["figures"]["downtime_seconds"] == 3 * 3600 + 40 * 60
    with zipfile.ZipFile(archive) as opened:
        statement = json.loads(opened.read("statement.json"))
        chain = [json.loads(line) for line in opened.read("chain.jsonl").decode().splitlines()]
    assert statement["downtime_seconds"] == found["figures"]["downtime_seconds"]
    # The customer's own: its statement is bound by the revision's chained statements; the
    # revision itself (every customer's figures) is there only by its digest, and nothing
    # of the other customers (bita, gone) is in the archive.
    assert [line["id"] for line in chain if line.get("kind") == "report.statements"] == [
        str(json.loads(zipfile.ZipFile(archive).read("manifest.json"))["revision"]["id"])]
    assert not any(line.get("kind") == "report.revision" for line in chain)
    with zipfile.ZipFile(archive) as opened:
        shown = b"".join(opened.read(name) for name in opened.namelist())
    for other in ("bita", "Gone Ltd", "بیتا".encode("unicode_escape").decode()):
        assert other.encode() not in shown, other
    # On the same export (one setup per backend): the statement names the signed head, and
    # export says what it wrote.
    await _statement_names_the_signed_head_and_how_to_verify(exported)
    await _export_says_what_it_wrote_in_json_and_refuses_an_unknown_customer(exported, tmp_path)
    await _a_record_changed_since_the_revision_is_exported_once_the_month_is_closed_again(
        exported, tmp_path)  # last: it changes the month


def _edited(archive: bytes, name: str, change: Callable[[Any], Any], jsonl: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            data = source.read(item).decode()
            if item == name:
                if jsonl:
                    lines = [json.loads(line) for line in data.splitlines()]
                    data = "\n".join(json.dumps(line) for line in change(lines)) + "\n"
                else:
                    data = json.dumps(change(json.loads(data)))
            target.writestr(item, data)
    return out.getvalue()


async def _monitor_down(url: str) -> None:
    """A spell the monitor did not run, recorded (and chained) as the daemon records one."""
    db = Database.open(url)
    try:
        async with db.transaction() as tx:
            await unknown.add_unknown(
                tx, start=dt.datetime(2026, 10, 5, 3, 0, tzinfo=dt.UTC),
                end=dt.datetime(2026, 10, 5, 4, 30, tzinfo=dt.UTC), reason="daemon_down",
                detail="no heartbeat for 5400 s")
    finally:
        await db.dispose()


def _no_unknown(document: dict[str, Any]) -> dict[str, Any]:
    document["unknown"] = []  # a month with no unknown time: the chained spell left out
    return document


@pytest.mark.slow
def test_a_revision_frozen_before_its_statements_were_chained_is_shown_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision an earlier version froze has no chained statements: its archive shows the
    whole revision, as archives did then, and verifies."""

    from monitor.store import evidence

    async def earlier(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(evidence, "record_statements", earlier)
    archive, keys = _made_on_sqlite(tmp_path, monitor_down=False)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        chain = [json.loads(line) for line in opened.read("chain.jsonl").decode().splitlines()]
    assert any(line.get("kind") == "report.revision" for line in chain)
    assert not any(line.get("kind") == "report.statements" for line in chain)
    assert verify_archive(archive, json.loads(keys.read_text())["keys"]).ok


def _later_end(document: dict[str, Any]) -> dict[str, Any]:
    document["incidents"][0]["end"] = "2026-10-10T12:00:00.000000+00:00"
    return document


def _statement(document: dict[str, Any]) -> dict[str, Any]:
    document["credit_days_total"] = 0
    return document


def _drop_line(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return lines[:2] + lines[3:]


def _edit_fact(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for line in lines:
        if line.get("kind") == "incident.manual":
            line["canonical"] = line["canonical"].replace("11:00:00", "10:00:00")
            break
    return lines


def _no_notifications(document: dict[str, Any]) -> dict[str, Any]:
    document["notifications"] = {}
    return document


def _notifications_a_list(document: dict[str, Any]) -> dict[str, Any]:
    document["notifications"] = []
    return document


def _forged_signature(document: dict[str, Any]) -> dict[str, Any]:
    document["checkpoint"]["hash"] = "f" * 64
    return document


EDITS = [
    # Named as a person reads it (it was two tuples of Python reprs).
    ("inputs.json", _later_end, False,
     "its end is 2026-10-10T12:00:00Z in the inputs, 2026-10-10T11:00:00Z in the chain"),
    ("inputs.json", _no_unknown, False,
     "unknown interval 1 (the monitor's, daemon_down): 5400 s of it are not unknown time"),
    # A chained notification left out of the inputs is named at the inputs' step (it was
    # found only by the figures' recomputation, as a different credit).
    ("inputs.json", _no_notifications, False,
     "the notification of incident 2 to acme: the inputs say none, the chain "
     "2026-10-20T09:00:00Z"),
    # A field of another shape: FAILED, not a traceback (exit 1 with "a bug").
    ("inputs.json", _notifications_a_list, False,
     "not a well-formed evidence archive (after the steps above): AttributeError"),
    ("statement.json", _statement, False, "statement.json is not the chained revision's"),
    ("chain.jsonl", _drop_line, True, "chain entry 3 is missing"),
    ("chain.jsonl", _edit_fact, True, "its hash does not match its content"),
    ("manifest.json", _forged_signature, False, "the signed checkpoint is not the chain's head"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "change", "jsonl", "named"), EDITS,
                         ids=[f"{e[0]}:{e[1].__name__}" for e in EDITS])
def test_an_edited_archive_names_the_first_difference(
        built: tuple[bytes, Path], name: str, change: Callable[[Any], Any], jsonl: bool,
        named: str) -> None:
    archive, keys = built
    trusted = json.loads(keys.read_text())["keys"]
    assert verify_archive(archive, trusted).ok
    found = verify_archive(_edited(archive, name, change, jsonl), trusted)
    assert not found.ok and found.difference is not None
    assert named in found.difference, found.difference


def test_another_key_does_not_verify(built: tuple[bytes, Path]) -> None:
    archive, _ = built
    other = SigningKey(Ed25519PrivateKey.generate())
    found = verify_archive(archive, [{"key_id": other.id, "public_key": other.public_b64}])
    assert found.difference is not None
    assert found.difference.startswith("the head is signed by key ")
    assert verify_archive(archive, None).ok  # the archive's own copy: verified, and said
    assert not verify_archive(archive, None).key_pinned


def test_the_inputs_round_trip_exactly(built: tuple[bytes, Path]) -> None:
    archive, _ = built
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        document = json.loads(opened.read("inputs.json"))
    assert ArchivedInputs.from_json(document).to_json() == document


async def _statement_names_the_signed_head_and_how_to_verify(
        exported: tuple[Run, Path, Path]) -> None:
    run, archive, _ = exported
    with zipfile.ZipFile(archive) as opened:
        checkpoint = json.loads(opened.read("manifest.json"))["checkpoint"]
    code, html, err = await run("statement", "show", "--month", "2026-10", "--customer", "acme")
    assert code == 0, err
    assert (f"Evidence: chain entry {checkpoint['seq']}, SHA-256 <span class=\"hash\">"
            f"{checkpoint['hash']}</span>, signed by key <code>{checkpoint['key_id']}</code>"
            in html)
    assert "sla-monitor evidence verify ARCHIVE --key sla-monitor-keys.json" in html
    code, out, err = await run("statement", "show", "--month", "2026-10", "--customer", "acme",
                               "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["evidence_seq"], shown["evidence_hash"], shown["evidence_key_id"]) == (
        checkpoint["seq"], checkpoint["hash"], checkpoint["key_id"])


async def _export_says_what_it_wrote_in_json_and_refuses_an_unknown_customer(
        exported: tuple[Run, Path, Path], tmp_path: Path) -> None:
    run, _, _ = exported
    target = tmp_path / "again.zip"
    code, out, err = await run("evidence", "export", "--customer", "acme", "--month",
                               "2026-10", "-o", str(target), "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert found == {"file": str(target), "bytes": target.stat().st_size, "customer": "acme",
                     "month": "2026-10"}
    code, out, err = await run("evidence", "export", "--customer", "nobody", "--month",
                               "2026-10", "-o", str(tmp_path / "none.zip"))
    assert code == 2 and out == "" and "--customer: 'nobody'" in err
    assert not (tmp_path / "none.zip").exists()


def test_an_archive_is_the_same_bytes_whenever_and_wherever_it_is_exported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file of the archive is dated when its revision was frozen (UTC), not when and
    where it was exported: two exports of one month differed in their ZIP times (to two
    seconds, in the exporting machine's zone), and so did their digests (CI once failed on
    an export that crossed a two-second boundary)."""
    import contextlib
    import time

    archive, _ = _made_on_sqlite(tmp_path)
    again = tmp_path / "again.zip"
    monkeypatch.setenv("TZ", "Asia/Tehran")  # another machine's zone, and a later time
    time.tzset()
    try:
        time.sleep(2.1)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["-c", str(tmp_path / "config.yaml"), "evidence", "export",
                         "--customer", "acme", "--month", "2026-10", "-o", str(again)]) == 0
    finally:
        monkeypatch.undo()
        time.tzset()
    assert again.read_bytes() == archive
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        closed = dt.datetime.fromisoformat(manifest["revision"]["closed_at"].replace("Z", "+00:00"))
        stamp = (*closed.astimezone(dt.UTC).timetuple()[:5], closed.second // 2 * 2)
        assert {info.date_time for info in opened.infolist()} == {stamp}


def test_one_customers_archive_parses_no_whole_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The month's report (every customer's figures, about 86 MB at 10,000 customers) is
    read as its text and only the customer's part decoded; the chain's revision entry (the
    report again) is decided by its id, never parsed: one archive held about 880 MB there."""
    import contextlib
    import sqlite3

    from monitor.store import evidence_archive as archive_store
    from monitor.store import reports

    parsed: list[int] = []

    class Recording:
        dumps = staticmethod(json.dumps)

        @staticmethod
        def loads(text: str | bytes, **options: Any) -> Any:
            parsed.append(len(text))
            return json.loads(text, **options)

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the revision was read parsed whole")

    archive, _ = _made_on_sqlite(tmp_path)
    monkeypatch.setattr(archive_store, "json", Recording)
    monkeypatch.setattr(reports, "latest_revision", whole)
    again = tmp_path / "again.zip"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-c", str(tmp_path / "config.yaml"), "evidence", "export", "--customer",
                     "acme", "--month", "2026-10", "-o", str(again)]) == 0
    assert again.read_bytes() == archive  # the same archive
    with sqlite3.connect(tmp_path / "db") as db:
        revision = db.execute("SELECT length(canonical) FROM evidence_chain"
                              " WHERE fact_table = 'report_revisions'").fetchall()
    assert len(revision) == 1 and parsed  # the other entries' facts were read
    assert revision[0][0] not in parsed


async def _a_record_changed_since_the_revision_is_exported_once_the_month_is_closed_again(
        exported: tuple[Run, Path, Path], tmp_path: Path) -> None:
    # A call made before the one logged (08:50, the scenario's was 09:00), logged after the
    # close: the archive of revision 1 had today's inputs (08:50) beside revision 1's
    # statement and chain (09:00), and `evidence verify` said FAILED, as if tampered with.
    run, _, keys = exported
    code, _, err = await run("incident", "notified", "2", "--at", "2026-10-20T08:50Z",
                             "--channel", "phone", "--customer", "acme")
    assert code == 0, err
    stale = tmp_path / "stale.zip"
    code, out, err = await run("evidence", "export", "--customer", "acme", "--month",
                               "2026-10", "-o", str(stale))
    assert code == 2 and out == "" and not stale.exists(), (code, out, err)
    assert ("--month: '2026-10' is not valid; allowed: a month whose records are as its "
            "latest revision (1) froze them; they have changed since: closing the month "
            "again freezes revision 2, whose archive this then is") in err, err
    code, _, err = await run("report", "close", "--month", "2026-10")
    assert code == 0, err
    fresh = tmp_path / "fresh.zip"
    code, _, err = await run("evidence", "export", "--customer", "acme", "--month", "2026-10",
                             "-o", str(fresh))
    assert code == 0, err
    code, out, err = await run("evidence", "verify", str(fresh), "--key", str(keys))
    assert code == 0, out + err
    assert out.splitlines()[-1].startswith("verified: acme, 2026-10, revision 2: "), out


def _leaves(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document: each member and item, nested ones too."""
    places: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(document, dict):
        for key, value in document.items():
            places += _leaves(value, (*path, key))
    elif isinstance(document, list):
        for number, value in enumerate(document):
            places += _leaves(value, (*path, number))
    return places


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    document = json.loads(json.dumps(document))
    inner = document
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = value
    return document


@pytest.mark.slow
def test_an_archive_of_any_shape_fails_and_never_raises(built: tuple[bytes, Path]) -> None:
    # An archive is anyone's file: each place of its manifest, inputs, statement and chain set to
    # a value of another shape (a list, a text, a number, null) gives FAILED or verified,
    # never an exception (which the command line shows as a bug's traceback).
    archive, keys = built
    trusted = json.loads(keys.read_text())["keys"]
    tried = 0
    for name in ("manifest.json", "inputs.json", "statement.json", "chain.jsonl"):
        jsonl = name.endswith(".jsonl")
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            text = opened.read(name).decode()
        document = ([json.loads(line) for line in text.splitlines()] if jsonl
                    else json.loads(text))
        for path in _leaves(document):
            for value in ([], "x", -1, None):
                edited = _edited(archive, name, lambda d, p=path, v=value: _set(d, p, v),
                                 jsonl)
                found = verify_archive(edited, trusted)
                assert found.ok or found.difference, (name, path, value)
                tried += 1
    assert tried > 400, tried
