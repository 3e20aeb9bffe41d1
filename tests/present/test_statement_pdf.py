"""A statement's PDF, and the operators' summary's, hold every fact their HTML shows:
the statements' month of :mod:`tests.actions.statements_world` (an English reader, a
Persian one, a correction with the evidence chain's head and a claim link, a month of 60
incidents over several pages), each fact formatted by the one formatter (the template
filters the HTML uses) and found in the text ``pdftotext`` extracts."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor import actions
from monitor.config import Settings, parse_config
from monitor.errors import RenderError
from monitor.present.html import environment
from monitor.present.printed import check_fonts
from monitor.present.statement import (
    Statement,
    Summary,
    check_pdf,
    statement_pdf,
    summary_pdf,
)
from monitor.store import Database, create_engine
from tests.actions.statements_world import BITA, NOW, at, record_october, yaml

pytestmark = pytest.mark.slow  # renders PDFs

# Letters and digits only: pdftotext orders a line's runs of both directions its own way
# (a Persian date before its time, "#۳" as "۳#", parentheses mirrored), joins a word broken
# at a line's end, and extracts lam-alef, a ligature, in either order.
def flat(text: str) -> str:
    return re.sub(r"[\W_]", "", text).replace("لا", "ال")


def pdf_text(document: bytes, path: Path) -> str:
    assert document.startswith(b"%PDF-")
    path.write_bytes(document)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def missing(facts: list[str], document: bytes, path: Path) -> list[str]:
    """The words of ``facts`` not in the document's text. Word by word: pdftotext orders a
    line's runs of both directions its own way (a Persian date before its time)."""
    text = flat(pdf_text(document, path))
    return [word for fact in facts for word in fact.split() if flat(word) not in text]


async def _world(directory: Path, migrated: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for code in ("en", "fa"):
        text = yaml()
        if code == "fa":
            text = text.replace("calendar: gregorian,", "calendar: gregorian, language: fa,")
        settings = Settings.from_config(parse_config(text))
        path = directory / f"{code}.db"
        await migrated.sqlite_copy(path)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        db = Database(engine)
        await record_october(db, settings)
        for k in range(60):  # bita-poll: 60 outages of 1 h 12 min 5 s
            await actions.add_incident(db, settings, service="bita-poll",
                                       start=at(1 + k // 3, k % 3 * 6, 5),
                                       end=at(1 + k // 3, k % 3 * 6 + 1, 17) + dt.timedelta(seconds=5),
                                       actor="ops", now=at(25))
        await actions.close_month(db, settings, month="2026-10", now=NOW)
        for customer in ("acme", "bita"):
            found[f"{code}-{customer}"] = await actions.statement(
                db, settings, month="2026-10", customer=customer, now=NOW)
        found[f"{code}-summary"] = await actions.month_summary(db, settings, month="2026-10",
                                                               now=NOW)
        await engine.dispose()
        acme: Statement = found[f"{code}-acme"]
        found[f"{code}-acme"] = dataclasses.replace(  # a correction, signed, with its link
            acme, corrects=1, changes=("Incident 3 ended later.",), evidence_seq=12,
            evidence_hash="ab12" * 16, evidence_key_id="k2026-1",
            claim_link="https://rabit.example/claim/acme/2026-10?signature=" + "Zx9" * 20,
            claim_link_expires=at(15, month=11), generated_at=NOW)
    return found


@pytest.fixture(scope="module")
def world(migrated: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield asyncio.run(_world(tmp_path_factory.mktemp("statement-pdf"), migrated))


def shown(s: Statement, expression: str, **values: object) -> str:
    """``expression`` through the HTML's own filters, in the statement's language."""
    return environment().from_string("{{ " + expression + " }}").render(
        language=s.language, tz=s.timezone, cal=s.calendar, **values)


def statement_facts(s: Statement) -> list[str]:
    """Every fact of ``s`` its HTML shows, as the HTML shows it."""
    facts = [s.provider, s.customer_name, s.customer, s.filename, s.inputs_hash,
             shown(s, "m|month(cal)", m=s.month), shown(s, "r|number", r=s.revision),
             shown(s, "p|percent(true)", p=s.availability_percent),
             shown(s, "t|number", t=s.target_percent),
             *(shown(s, "x|when(tz, cal)", x=x) for x in (s.period_start, s.period_end,
                                                          s.closed_at, s.claim_deadline)),
             *(shown(s, "x|duration", x=x) for x in (
                 s.period_seconds, s.downtime_seconds, s.excluded_seconds, s.unknown_seconds)),
             shown(s, "x|money(c)", x=s.credit_value, c=s.currency),
             shown(s, "x|money(c)", x=s.fee_per_year, c=s.currency),
             shown(s, "x|days", x=s.credit_days_total),
             shown(s, "x|days", x=s.tier_credit_days),
             *s.how_to_claim, *s.changes, "R-M1", "R-EX1", "R-C3"]
    if s.claim:
        facts.append(s.claim)
    if s.generated_at:
        facts.append(shown(s, "x|when(tz, cal)", x=s.generated_at))
    if s.evidence_hash:
        facts += [s.evidence_hash, str(s.evidence_key_id),
                  shown(s, "x|number", x=s.evidence_seq)]
    if s.corrects is not None:
        facts.append(shown(s, "x|number", x=s.corrects))
    for i in s.incidents:
        facts += [shown(s, "x|number", x=i.id), i.service,
                  shown(s, "x|when(tz, cal, true, true)", x=i.start),
                  shown(s, "x|duration", x=i.counted_seconds)]
        if i.end:
            facts.append(shown(s, "x|when(tz, cal, true, true)", x=i.end))
        if i.notified_at:
            facts.append(shown(s, "x|when(tz, cal, true, true)", x=i.notified_at))
    for w in s.maintenance:
        facts += [shown(s, "x|number", x=w.id), w.reason, *w.services,
                  *(shown(s, "x|when(tz, cal, false, true)", x=x) for x in (
                      w.start, w.end, w.notice_due))]
    for line in s.credit_lines:
        facts += [line.rule, line.what, line.evidence]
        if line.days is not None:
            facts.append(shown(s, "x|day_count|number", x=line.days))
    return facts


@pytest.mark.parametrize("name", ["en-acme", "fa-acme", "en-bita", "fa-bita"])
def test_a_statements_pdf_holds_every_fact_of_its_html(
    world: dict[str, Any], name: str, tmp_path: Path
) -> None:
    s: Statement = world[name]
    assert len(s.incidents) == (3 if name.endswith("acme") else 60)
    assert name.endswith("acme") or s.customer_name == BITA
    assert missing(statement_facts(s), statement_pdf(s), tmp_path / "s.pdf") == []


def summary_facts(m: Summary) -> list[str]:
    facts = [m.provider, m.month, m.inputs_hash or "", "R-T0"]
    for row in m.rows:
        facts += [row.customer, row.name, row.statement, row.claim,
                  shown_en("x|percent", x=row.availability_percent),
                  shown_en("x|duration", x=row.downtime_seconds),
                  shown_en("x|money(c)", x=row.credit_value, c=row.currency)]
        if row.ineligible_rule:
            facts.append(row.ineligible_rule)
    for customer, _duty, ids in m.breaches:
        facts += [customer, *(f"#{i}" for i in ids)]
    return facts


def shown_en(expression: str, **values: object) -> str:
    return environment().from_string("{{ " + expression + " }}").render(**values)


@pytest.mark.parametrize("name", ["en-summary", "fa-summary"])
def test_the_summarys_pdf_holds_every_fact_of_its_html(
    world: dict[str, Any], name: str, tmp_path: Path
) -> None:
    m: Summary = world[name]
    assert missing(summary_facts(m), summary_pdf(m),
                   tmp_path / "m.pdf") == []


BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
WILD = '#eval("x") *bold* [x] $y$ \\ `c` <b>@ref</b> = _i_ // #set page(width: 1cm)'
LONG = "VeryLongCustomerNameWithoutAnySpaceOrBreakWhateverHappens" * 3


def words_boxes(document: bytes, path: Path) -> tuple[float, list[tuple[float, float, str]]]:
    """The page's width and each word's horizontal extent (pdftotext -bbox)."""
    path.write_bytes(document)
    found = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True,
                           capture_output=True, text=True).stdout
    width = float(re.search(r'<page width="([\d.]+)"', found).group(1))  # type: ignore[union-attr]
    return width, [(float(a), float(b), html_text) for a, b, html_text in re.findall(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>',
        found)]


@pytest.mark.parametrize("code", ["en", "fa"])
def test_names_print_as_written_and_long_ones_stay_on_the_page(
    world: dict[str, Any], code: str, tmp_path: Path
) -> None:
    """A name is data, never Typst markup (a customer named like code prints as typed and
    changes nothing else); a word too long for its line or cell breaks instead of leaving
    the page, and reads back whole."""
    s: Statement = world[f"{code}-acme"]
    wild = dataclasses.replace(s, customer_name=WILD, provider=LONG,
                               maintenance=tuple(dataclasses.replace(w, reason=LONG + " " + WILD)
                                                 for w in s.maintenance))
    document = statement_pdf(wild)
    assert missing(statement_facts(wild), document, tmp_path / "s.pdf") == []
    if code == "en":  # (pdftotext reorders the punctuation of a line in a Persian page)
        text = " ".join(pdf_text(document, tmp_path / "s.pdf").split())
        assert f"For {WILD} (customer acme)" in BIDI_MARKS.sub("", text)
    width, words = words_boxes(document, tmp_path / "s.pdf")
    assert width > 500  # A4: the name's "#set page" changed nothing
    assert words and all(0 <= left and right <= width for left, right, _ in words)
    assert flat(LONG) in flat(pdf_text(document, tmp_path / "s.pdf"))


@pytest.mark.parametrize("name", ["en-bita", "fa-bita"])
def test_the_incidents_tables_header_repeats_on_every_page(
    world: dict[str, Any], name: str, tmp_path: Path
) -> None:
    s: Statement = world[name]
    document = statement_pdf(s)
    path = tmp_path / "s.pdf"
    path.write_bytes(document)
    heading = flat(s.language.gettext("You were notified"))
    pages = []
    for page in range(1, 10):
        result = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
                                capture_output=True, text=True, check=False)
        if result.returncode:
            break
        pages.append(flat(result.stdout))
    with_incidents = [page for page in pages if flat(s.incidents[-1].service) in page]
    assert len(with_incidents) >= 2
    assert all(heading in page for page in with_incidents)


def page_words(path: Path) -> list[list[str]]:
    """Each page's words in the order the PDF draws them (pdftotext -raw): a table's cells
    row after row, each row's cells in their order."""
    pages = []
    for page in range(1, 20):
        result = subprocess.run(["pdftotext", "-raw", "-f", str(page), "-l", str(page),
                                 str(path), "-"], capture_output=True, text=True, check=False)
        if result.returncode:
            break
        pages.append(result.stdout.split())
    return pages


@pytest.mark.parametrize("name", ["en-bita", "fa-bita"])
def test_no_incident_row_is_split_between_two_pages(
    world: dict[str, Any], name: str, tmp_path: Path
) -> None:
    """A row of the incidents table that does not fit at a page's end starts the next
    page whole (its height measured first: monitor/present/templates/_print.typ), instead of
    leaving the end of a cell's text under the next page's header: after the header every
    page's first word is an incident's number."""
    s: Statement = world[name]
    # Rows of many lines (a long service name): most page ends fall inside a row.
    far = "bita poll of the second data centre, in the north of the old city, behind the river"
    s = dataclasses.replace(s, incidents=tuple(
        dataclasses.replace(i, service=f"{far}, number {k}") for k, i in enumerate(s.incidents)))
    path = tmp_path / "s.pdf"
    path.write_bytes(statement_pdf(s))
    header = sorted(flat(word) for word in s.language.gettext("You were notified").split())
    numbers = {flat(shown(s, "x|number", x=i.id)) for i in s.incidents}
    continued = []
    for number, words in enumerate(page_words(path), start=1):
        flats = [flat(word) for word in words]
        ends = [k + len(header) for k in range(len(flats))
                if sorted(flats[k:k + len(header)]) == header]  # (Persian: right to left)
        if number > 1 and ends:
            assert ends[0] < len(flats)
            continued.append(flats[ends[0]])
    assert len(continued) >= 2  # the table runs over three pages or more
    assert all(word in numbers for word in continued), continued


def test_a_row_taller_than_a_page_breaks_across_pages_and_loses_no_word(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """A row too tall to be measured whole (a maintenance window's reason of a few thousand
    words) keeps its automatic height and goes on over the next pages: every word prints."""
    s: Statement = world["en-acme"]
    words = [f"w{k}x" for k in range(900)]
    s = dataclasses.replace(s, maintenance=s.maintenance[:1] and (dataclasses.replace(
        s.maintenance[0], reason=" ".join(words)),))
    assert s.maintenance
    text = flat(pdf_text(statement_pdf(s), tmp_path / "s.pdf"))
    assert [word for word in words if word not in text] == []


def test_a_missing_font_is_named_with_its_package() -> None:
    """The daemon's start check (check_pdf): the statements' fonts are found here; a font
    that is not is named, with the Debian package that installs it."""
    check_pdf()
    with pytest.raises(RenderError) as raised:
        check_fonts({"DejaVu Sans": "fonts-dejavu-core", "Nowhere Sans": "fonts-nowhere"})
    assert "Nowhere Sans" in str(raised.value) and "apt-get install fonts-nowhere" in str(
        raised.value)
    assert "DejaVu Sans," not in str(raised.value)
