"""The customer page's evidence: each closed month's signed chain head (entry, SHA-256, key
id) and a download of the month's evidence archive, the same archive as ``sla-monitor
evidence export``, which ``sla-monitor evidence verify`` checks offline with the published
keys. Only the customer (or an operator) gets it; another customer's is a 404, like a month
without a closed revision; the page's cache shows a month as soon as it is closed."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor import actions
from monitor.actions.evidence_archive import export_month
from monitor.actions.evidence_keys import SigningKey
from monitor.actions.links import LinkKeys
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.sla.report import CustomerReport
from monitor.store import evidence
from tests.http.site import LINK_KEY, Site, config_text
from tests.support import report_reads

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


def _signing(site: Site, **config: object) -> SigningKey:
    """The site's settings with an evidence signing key (``evidence.signing_key``)."""
    private = Ed25519PrivateKey.generate()
    pem = site.tmp / "evidence-key.pem"
    pem.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pem.chmod(0o600)
    site.web.settings = Settings.from_config(parse_config(
        config_text(site.tmp, **config) + f"evidence: {{signing_key: '{pem}'}}\n"))  # type: ignore[arg-type]
    site.web.clock = FakeClock(NOW)
    return SigningKey(private)


async def _open_link(site: Site, customer: str) -> None:
    query = LinkKeys((LINK_KEY.encode(),)).link_query(customer, NOW + dt.timedelta(days=1))
    opened = await site.get(f"/customer/{customer}?{query}")
    assert opened.status == 303, await opened.text()


async def _verify(tmp: Path, archive: bytes, keys: bytes,
                  capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp / "month.zip").write_bytes(archive)
    (tmp / "keys.json").write_bytes(keys)
    code = await asyncio.to_thread(main, ["evidence", "verify", str(tmp / "month.zip"),
                                          "--key", str(tmp / "keys.json")])
    out, _ = capsys.readouterr()
    return code, out


async def test_a_closed_month_shows_its_signed_head_and_its_archive_verifies(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _signing(site)
    added = await site.post("/api/v1/incidents", "write", json={
        "service": "acme-shop", "start": "2026-02-10T08:00:00Z", "end": "2026-02-10T09:30:00Z"})
    assert added.status == 201, await added.text()
    await _open_link(site, "acme")
    before = await (await site.get("/customer/acme")).text()
    assert 'id="evidence"' not in before  # nothing closed yet
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    async with site.db.reading() as tx:
        revision_id = await evidence.revision_id(tx, "gregorian", "2026-02", 1)
        signed = await evidence.checkpoints(tx, revision_id=revision_id)
    assert len(signed) == 1 and signed[0].key_id == key.id

    page = await site.get("/customer/acme")  # the cached page, rendered again on the close
    text = await page.text()
    assert page.status == 200, text[:2000]
    row = text[text.index('id="evidence-2026-02"'):].split("</tr>")[0]
    assert signed[0].hash in row and f"<code>{key.id}</code>" in row
    assert f"entry {signed[0].seq}, SHA-256" in row
    link = re.search(r'href="(/customer/acme/evidence/2026-02\.zip)"', row)
    assert link is not None

    download = await site.get(link[1])
    archive = await download.read()
    assert download.status == 200, archive[:500]
    assert download.headers["Content-Type"] == "application/zip"
    assert download.headers["Cache-Control"] == "no-store"
    assert "acme-2026-02-evidence.zip" in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        manifest = json.loads(opened.read("manifest.json"))
    assert manifest["customer"] == "acme" and manifest["month"] == "2026-02"
    assert manifest["checkpoint"]["hash"] == signed[0].hash

    # The same archive as the command line's export (one action), and it verifies offline
    # with the keys the site publishes.
    exported = await export_month(site.db, site.settings, customer="acme", month="2026-02")
    with zipfile.ZipFile(io.BytesIO(exported)) as ours, \
            zipfile.ZipFile(io.BytesIO(archive)) as theirs:
        assert ours.namelist() == theirs.namelist()
        assert all(ours.read(name) == theirs.read(name) for name in ours.namelist())
    keys = await (await site.get("/.well-known/sla-monitor-keys.json")).read()
    code, out = await _verify(tmp_path, archive, keys, capsys)
    assert code == 0, out
    assert "verified: acme, 2026-02, revision 1" in out

    # An edited archive does not.
    edited = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, \
            zipfile.ZipFile(edited, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            if name == "statement.json":
                statement = json.loads(body)
                statement["downtime_seconds"] = 0
                body = json.dumps(statement).encode()
            target.writestr(name, body)
    code, out = await _verify(tmp_path, edited.getvalue(), keys, capsys)
    assert code == 1 and "FAILED" in out


async def test_only_the_customer_gets_its_archive_and_only_for_a_closed_month(
        site: Site) -> None:
    _signing(site)
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    path = "/customer/bita/evidence/2026-02.zip"
    assert (await site.get(path, "bita")).status == 200
    assert (await site.get(path, "write")).status == 200  # an operator's token
    anonymous = await site.get(path)
    assert anonymous.status == 401 and "Please open your link" in await anonymous.text()
    other = await site.get(path, "acme")  # another customer's: as if it did not exist
    assert other.status == 404 and "PK" not in await other.text()
    await _open_link(site, "acme")  # acme's session does not open bita's either (as its page)
    assert (await site.get(path)).status == 401
    assert (await site.get("/customer/bita")).status == 401
    for month in ("2026-01", "2026-03", "2026-13", "latest", "..%2F..%2Fetc"):
        missing = await site.get(f"/customer/acme/evidence/{month}.zip")
        assert missing.status == 404, month
        assert "No evidence for this month" in await missing.text()
    assert (await site.get("/customer/acme/evidence/2026-02.zip")).status == 200
    assert (await site.get("/customer/nobody/evidence/2026-02.zip", "write")).status == 404


@pytest.mark.slow
async def test_a_persian_page_shows_the_evidence_in_persian(site: Site) -> None:
    key = _signing(site, customer_languages={"bita": "fa"})
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    page = await site.get("/customer/bita", "bita")
    text = await page.text()
    assert page.status == 200, text[:2000]
    section = text[text.index('<section id="evidence">'):].split("</section>")[0]
    assert "Download the archive" not in section and "Signed chain head" not in section
    assert "بایگانی" in section  # "archive"
    assert f"<code>{key.id}</code>" in section
    assert 'href="/customer/bita/evidence/2026-02.zip"' in section


async def test_the_evidence_of_a_closed_month_types_no_other_customers_report(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which closed months hold the customer is read with the stored report's index of its
    customers' ids; no other customer's report is typed (at 10,000 customers: seconds a
    month listed, at every view of the page)."""
    _signing(site)
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    typed: list[str] = []
    whole = CustomerReport.from_json.__func__  # type: ignore[attr-defined]

    def counted(cls: type[CustomerReport], document: dict[str, object],
                where: str = "customer") -> CustomerReport:
        typed.append(str(document["customer"]))
        return whole(cls, document, where)  # type: ignore[no-any-return]

    monkeypatch.setattr(CustomerReport, "from_json", classmethod(counted))
    with report_reads() as reads:  # nor read: the revision's terms name its customers
        overview = await actions.customer_overview(site.db, site.settings, customer="acme",
                                                   now=NOW)
    assert [e.month for e in overview.evidence] == ["2026-02"]
    assert set(typed) <= {"acme"}
    assert reads == []


async def test_a_month_whose_records_changed_since_its_revision_is_being_corrected(
        site: Site) -> None:
    # Its archive would pair today's records with the revision's statement and chain, and
    # `evidence verify` would say FAILED of an honest provider: none is given until the
    # month is closed again, and the page says why (not "no evidence for this month").
    _signing(site)
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    path = "/customer/bita/evidence/2026-02.zip"
    assert (await site.get(path, "bita")).status == 200
    added = await site.post("/api/v1/incidents", "write", json={
        "service": "bita-survey", "start": "2026-02-11T08:00:00Z",
        "end": "2026-02-11T09:00:00Z"})
    assert added.status == 201, await added.text()
    changed = await site.get(path, "bita")
    text = await changed.text()
    assert changed.status == 409 and "PK" not in text, text[:500]
    assert "This month is being corrected" in text and "No evidence" not in text
    await actions.close_month(site.db, site.settings, month="2026-02", now=NOW)
    again = await site.get(path, "bita")
    assert again.status == 200
    with zipfile.ZipFile(io.BytesIO(await again.read())) as opened:
        assert json.loads(opened.read("manifest.json"))["revision"]["number"] == 2
