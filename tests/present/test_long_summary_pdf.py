"""The operators' summary at thousands of customers is typeset in parts and joined
(:func:`monitor.present.printed.typeset_long`): Typst holds a document's whole layout until it
writes the PDF, and the summary of 10,000 customers peaked at 2.2 GB. The joined document
must read as the one typeset at once: every customer and duty breach once, in order, the
opening once, the table's total once at its end, each page numbered "page N of" the whole,
the title and date kept."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.errors import RenderError
from monitor.present import printed
from monitor.present.statement import summary_pdf, summary_print
from tests.present.test_summary_state import _row, summary

pytestmark = pytest.mark.slow  # typesets PDFs

CUSTOMERS = 70
BREACHING = range(0, CUSTOMERS, 3)  # 24 customers with a missed notification (R-N1)


def long_summary():  # type: ignore[no-untyped-def]
    ended = dt.datetime(2026, 12, 22, 8, 0, tzinfo=dt.UTC)
    rows = []
    for number in range(CUSTOMERS):
        row = _row(number, below=number % 2 == 0)
        if number in BREACHING:
            row = dataclasses.replace(row, notification_breaches=(1000 + number,))
        rows.append(row)
    return dataclasses.replace(summary(ended), rows=tuple(rows))


def pdf_info(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                         text=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def pages_text(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


def test_a_long_summary_is_typeset_in_parts_that_read_as_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    m = long_summary()
    whole_path, parts_path = tmp_path / "whole.pdf", tmp_path / "parts.pdf"
    whole_path.write_bytes(summary_pdf(m))  # 70 + 24 rows: typeset at once
    monkeypatch.setattr(printed, "PART_ROWS", 20)  # 94 rows: five parts
    told: list[tuple[int, int]] = []
    parts_path.write_bytes(summary_pdf(m, lambda done, total: told.append((done, total))))
    assert told == [(done, 5) for done in range(6)]  # each part as it begins, then all done
    whole, joined = whole_path.read_bytes(), parts_path.read_bytes()
    # At once, no page is another document's; joined, each is a part's page (a form).
    form = re.compile(rb"/Subtype\s*/Form\b")
    assert not form.search(whole) and form.search(joined)

    info_whole, info_joined = pdf_info(whole_path), pdf_info(parts_path)
    for key in ("Title", "CreationDate", "Page size"):
        assert info_joined[key] == info_whole[key], key
    total = int(info_joined["Pages"])
    # Each part ends its last page: at least as many pages as at once, at most one more a part.
    assert int(info_whole["Pages"]) <= total <= int(info_whole["Pages"]) + 4

    pages = pages_text(parts_path)
    assert len(pages) == total
    for number, page in enumerate(pages, 1):  # the footer numbers the pages of the whole
        assert f"SLA summary 1405-09 • page {number} of {total}" in " ".join(page.split())

    text = "\n".join(pages)
    ids = re.findall(r"\(c(\d{5})\)", text)  # the customers' table: "Customer 7 (c00007)"
    assert ids == [f"{n:05d}" for n in range(CUSTOMERS)]
    breaches = re.findall(r"c(\d{5})\s+R-N1 notification\s+#(\d+)", text)
    assert breaches == [(f"{n:05d}", str(1000 + n)) for n in BREACHING]
    assert text.count("SLA summary for 1405-09") == 1 and "Totals" in pages[0]
    assert text.count("Customers") == 2  # its heading (once) and its total's row label
    assert text.count("Duty breaches") == 2  # the totals' row, the section's heading (once)
    # The table's total once, after its last customer and before the breaches' section.
    total_row = [found.start() for found in re.finditer(r"^\s*Total\s", text, re.M)]
    assert len(total_row) == 1
    assert text.index(f"(c{CUSTOMERS - 1:05d})") < total_row[0] < text.rindex("Duty breaches")

def test_every_part_holds_at_most_its_rows_and_says_what_it_holds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printed, "PART_ROWS", 20)
    data = summary_print(long_summary())
    widths = {"customers": [1.0] * 10, "breaches": [2.0] * 3}
    parts = printed._parts(data, ("customers", "breaches"), widths)
    held = [(len(p["customers"]["rows"]), len(p["breaches"]["rows"])) for p in parts]
    assert held == [(20, 0), (20, 0), (20, 0), (10, 10), (0, 14)]
    assert [p["part"]["opening"] for p in parts] == [True, False, False, False, False]
    assert [p["part"]["tables"] for p in parts] == [
        {"customers": {"begins": True, "ends": False}},
        {"customers": {"begins": False, "ends": False}},
        {"customers": {"begins": False, "ends": False}},
        {"customers": {"begins": False, "ends": True},
         "breaches": {"begins": True, "ends": False}},
        {"breaches": {"begins": False, "ends": True}},
    ]
    assert all(p["customers"]["widths"] == [1.0] * 10 and p["paper"]["footer"] is False
               for p in parts)
    rows = [row for p in parts for row in p["customers"]["rows"]]
    assert rows == data["customers"]["rows"]

    # A table without rows is shown (its "none" sentence) where the one before it ends.
    none = {**data, "breaches": {**data["breaches"], "rows": []}}
    parts = printed._parts(none, ("customers", "breaches"), widths)
    assert [p["part"]["tables"] for p in parts][-1] == {
        "customers": {"begins": False, "ends": True},
        "breaches": {"begins": True, "ends": True}}
    assert len(parts) == 4


def test_the_columns_are_as_wide_as_their_widest_cell_over_the_whole_table() -> None:
    data = summary_print(long_summary())
    longer = {**data, "breaches": {**data["breaches"], "rows": [
        *data["breaches"]["rows"], ["c99999", "R-N1 notification", "#1, #2, #3"]]}}
    short = printed._widths(data, ("customers", "breaches"))
    wide = printed._widths(longer, ("customers", "breaches"))
    assert len(short["customers"]) == 10 and len(short["breaches"]) == 3
    assert all(width > 9 for width in short["customers"])  # at least the cells' insets
    assert wide["customers"] == short["customers"]
    assert wide["breaches"][0] == short["breaches"][0]
    assert wide["breaches"][2] > short["breaches"][2]  # its one longer cell widens it
    assert Decimal(str(wide["breaches"][1])) == Decimal(str(short["breaches"][1]))


def test_no_temporary_directory_for_the_parts_is_said_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(printed, "PART_ROWS", 20)
    gone = tmp_path / "no-such-directory"
    monkeypatch.setattr(tempfile, "tempdir", str(gone))
    with pytest.raises(RenderError) as raised:
        summary_pdf(long_summary())
    said = str(raised.value)
    assert said.startswith("cannot render summary.typ in parts: ")
    assert str(gone) in said and "set TMPDIR to a writable directory" in said
    assert "\n" not in said and raised.value.exit_code == 2
    assert not gone.exists()
