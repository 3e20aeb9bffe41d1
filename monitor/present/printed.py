"""Documents on paper: a customer's statement and the operators' summary as PDF, typeset by
Typst from a template kept in the package (``templates/statement.typ``,
``templates/summary.typ``) and data built here.

*Decision (design):* the Typst templates are layout only: page, fonts, headings, tables,
boxes. Every word and figure they print comes from here as data (JSON in the document's
text: :func:`_source`), translated by the same gettext catalog as the HTML (the HTML
template's message ids, so that a translation serves both) and written by the same formatters
(:class:`~monitor.present.language.Language`), so that the PDF shows what the HTML shows.
The data holds texts as *runs*: a string with a few marks (``b`` bold, ``bad`` a verdict
against us, ``ok``, ``mono``, ``link``, ``any``: a long word that may break anywhere); a
template inserts a run's string as text, never as markup, so a customer's name such as
``#eval("x")`` or ``*bold* $y$`` prints as written. A name keeps its own direction inside
a sentence of the other (isolated by FSI ... PDI, U+2068/U+2069, as the HTML's ``<bdi>``);
an id, a command or a hash in a Persian sentence keeps its left-to-right order (LRI ...
PDI).

*Decision (why Typst):* a statement's PDF through WeasyPrint cost 0.36 CPU-s after every
saving its configuration allowed (fonts kept, stylesheet parsed once, fixed table layout),
most of a month-end's rendering. Typst (a Rust typesetter in a wheel: HarfBuzz-class
shaping through rustybuzz, the Unicode bidi algorithm, tables whose headers repeat on
every page) needs no system library besides the fonts (no Pango), renders under the
daemon's seccomp filters, and typesets the same statements for 0.043-0.049 CPU-s instead
of 0.33-0.37 (-87 %; 40 statements of bench_statements.py's world, 20 in English and the
same in Persian, the old code and the new alternated in pairs of processes, four pairs in
two runs, the rest of the machine busy at 61-141 % of one CPU, steal at most 0.12 s). Of
that, building the data is 1.5 ms; the rest is Typst's layout (writing SVG instead of PDF
costs the same).

*Decision (what statements share, laid out once):* a thread keeps a ``typst.Compiler`` with
the system's fonts found (30 ms to build), and Typst memoizes layout across compilations
(what the last ten did not use is forgotten). What every statement of a language shares
(the headings and labels, the maintenance windows every customer is told of: 18 of the
44 ms) is laid out once for the next statements when nothing around it differs: the data
is in the document's text (:func:`_source`), not in ``sys.inputs``, which Typst's layout
depends on whole; no rule that styles the text holds a document's own data (the footer's
file name is the document's metadata, the PDF's title is set after the text); the tables'
columns do not depend on a statement's content (ids: as wide as the longest, not
``auto``). Besides, the font of the document's own script comes first (Typst shapes a
text again with the next font for what the first does not cover) and a text without
marks is a plain string. 0.047-0.061 -> 0.036-0.039 CPU-s a statement (compare_pdf.py
against the templates before, in the same runs, the rest of the machine busy at 106-158 %
of one CPU; the pages alike to the pixel at 60 dpi, the id columns aside).

*Decision (rows measured first):* a row of the statement's incidents and maintenance tables
is measured before the table is laid out, in a region as wide as its cells and of no set
height, and the table is given each row's height (``_print.typ``'s ``rows-table``). Typst
keeps a layout for the next document only for the same content in the same region; an
``auto`` row is laid out in what is left of its page, a region of its own in every
statement, whereas a measured row is the same region wherever it stands: the rows that
statements share (an outage of the web panel or of the mobile service, about half of a
statement's incidents at 10,000 customers) are laid out once for the next statements. The
heights are those ``auto`` rows get; a row that does not fit at a page's end now starts
the next page whole instead of leaving the end of a cell under the next page's header; a
row taller than a quarter of the page keeps ``auto`` and may still break. 0.0262-0.0278 ->
0.0222-0.0244 CPU-s a statement (compare_pdf.py, three pairs, others 102-109 %); on 100
statements of the 10,000-customer world (four pages each) 51-57 -> 43-47 ms in English,
74-76 -> 64 ms in Persian; 89 of 100 PDFs byte for byte the same, the others differing where
a row split at a page's end.

Untagged, as WeasyPrint's were: the structure tags of a tagged PDF (for screen readers)
made a statement 88 KB instead of 50 KB on average (WeasyPrint's: 25 KB), stored in the
outbox and mailed to every customer, for no difference in CPU; the text extracts in
reading order without them.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import tempfile
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.collector import give_back
from monitor.errors import RenderError
from monitor.present.text import has_arabic_script

__all__ = ["FONTS", "PART_ROWS", "Runs", "check_fonts", "page_count", "typeset",
           "typeset_long"]

#: One text: runs of a string and its marks.
Runs = list[dict[str, Any]]

#: The fonts the templates name, and the Debian packages that install them.
FONTS = {"DejaVu Sans": "fonts-dejavu-core", "DejaVu Sans Mono": "fonts-dejavu-core",
         "Noto Sans Arabic": "fonts-noto-core"}

FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"
#: A word this long (in characters) may break anywhere: a hash, a signed link, a long name
#: without spaces would otherwise run off the page.
LONG_WORD = 24


def run(text: str, **marks: object) -> Runs:
    return [{"t": text, **{mark: value for mark, value in marks.items() if value}}]


def isolated(text: str, **marks: object) -> Runs:
    """A name in its own direction inside any sentence (the HTML's ``<bdi>``)."""
    return run(FSI + text + PDI, **marks)


def ltr(text: str, **marks: object) -> Runs:
    """An id, a command or a hash, left to right inside any sentence (``<bdi dir="ltr">``)."""
    return run(LRI + text + PDI, **marks)


_MARKUP = re.compile(r"(<[^>]+>)")
_FIELD = re.compile(r"%\((\w+)\)s")
_STYLES = {"strong": "b", "b": "b", "code": "mono"}


def message(translated: str, **values: str | Runs) -> Runs:
    """A translated message of the HTML templates (whose markup is ours: ``<strong>``,
    ``<span class="verdict-bad">``, entities) as runs, its ``%(name)s`` fields filled with
    ``values`` (strings or runs: data, never read as markup)."""
    runs: Runs = []
    marks: list[str] = []
    for piece in _MARKUP.split(translated):
        if piece.startswith("<"):
            tag = piece.strip("</>").split()[0] if piece.strip("</>") else ""
            if piece.startswith("</"):
                if marks:
                    marks.pop()
            elif not piece.endswith("/>"):
                marks.append("bad" if "verdict-bad" in piece else
                             "ok" if "verdict-ok" in piece else _STYLES.get(tag, ""))
            continue
        style = {mark: True for mark in marks if mark}
        for number, part in enumerate(_FIELD.split(piece)):
            if number % 2:
                value = values[part]
                runs += run(value, **style) if isinstance(value, str) else [
                    {**style, **r} for r in value]
            elif part:
                runs += run(html.unescape(part).replace("%%", "%"), **style)
    return runs


def join(*texts: str | Runs) -> Runs:
    """Texts one after the other."""
    joined: Runs = []
    for text in texts:
        joined += run(text) if isinstance(text, str) else text
    return joined


_WORD = re.compile(r"(\S+)")


def _breakable(runs: Runs, rtl: bool) -> Runs:
    """``runs`` with each word longer than :data:`LONG_WORD` (not in Arabic script, whose
    letters join) a run of its own that may break anywhere (``any``: ``rtl`` in a right to
    left document, where it is laid out left to right all the same)."""
    out: Runs = []
    for r in runs:
        text = r["t"]
        if len(text) <= LONG_WORD or not any(len(w) > LONG_WORD for w in text.split()):
            out.append(r)
            continue
        for number, part in enumerate(_WORD.split(text)):
            if part:
                long = number % 2 and len(part) > LONG_WORD and not has_arabic_script(part)
                out.append({**r, "t": part, "any": "rtl" if rtl else "ltr"} if long
                           else {**r, "t": part})
    return out


def _prepared(data: Any, rtl: bool) -> Any:
    """Every text of ``data`` (lists of runs) with its long words breakable; a text without
    marks as a plain string (the template inserts it as it is, no run to style: 1-2 ms less a
    statement)."""
    if isinstance(data, list):
        if data and all(isinstance(r, dict) and "t" in r for r in data):
            runs = _breakable(data, rtl)
            if all(len(r) == 1 for r in runs):
                return "".join(r["t"] for r in runs)
            return runs
        return [_prepared(item, rtl) for item in data]
    if isinstance(data, dict):
        return {key: _prepared(value, rtl) for key, value in data.items()}
    return data


_TEMPLATES = Path(str(resources.files("monitor.present").joinpath("templates")))
_kept = threading.local()


def _compiler() -> Any:
    """This thread's Typst compiler: the system's fonts found and loaded once."""
    compiler = getattr(_kept, "compiler", None)
    if compiler is None:
        try:
            import typst
        except ImportError as exc:
            raise RenderError(f"cannot render PDF: Typst could not load ({exc}); "
                              "install sla-monitor's dependencies (pip: typst)") from None
        compiler = _kept.compiler = typst.Compiler(root=str(_TEMPLATES))
    return compiler


_sources: dict[str, str] = {}


def _source(template: str, data: str) -> bytes:
    """The document to compile: ``data`` (JSON) as ``data`` before the text of
    ``template``, which imports the other templates (from the compiler's root).

    *Decision:* the data is in the document's text, not in ``sys.inputs``: Typst's memoized
    layout depends on its standard library, ``sys.inputs`` included, so data there made
    every document lay out every cell anew; in the text, what documents share (the
    maintenance windows every customer is told of, the headings, the labels) is laid out
    once for the next documents (the module's figures)."""
    body = _sources.get(template)
    if body is None:
        body = _sources[template] = (_TEMPLATES / template).read_text(encoding="utf-8")
    literal = data.replace("\\", "\\\\").replace('"', '\\"')
    return f'#let data = json(bytes("{literal}"))\n{body}'.encode()


def typeset(template: str, data: dict[str, Any], at: dt.datetime) -> bytes:
    """The PDF of ``template`` (a ``.typ`` file of the package's templates) with ``data``,
    dated ``at`` (its creation date: the same document is the same bytes).

    Synchronous and CPU-bound (milliseconds a statement once this thread's compiler is
    built, tens of milliseconds the first time): the daemon calls it on a worker thread."""
    return _compiled(_compiler(), template, _source(template, _text(data)), _stamp(at))


#: Rows of its tables a part of a long document holds at most (:func:`typeset_long`).
PART_ROWS = 1500


def typeset_long(template: str, data: dict[str, Any], at: dt.datetime,
                 tables: tuple[str, ...],
                 progress: Callable[[int, int], None] | None = None) -> bytes:
    """:func:`typeset`, for a document whose ``tables`` (keys of ``data``, each with its
    ``head`` and ``rows``, in the order the document shows them) may hold thousands of rows:
    the operators' summary at 10,000 customers.

    *Decision (memory bounded):* Typst holds a document's whole layout until it has written
    the PDF, about 0.1 MB a row of the summary's tables (1.9 GB for 10,000 customers and
    6,719 duty breaches, measured; peak RSS 2.2 GB for ``report --format pdf``). A document
    with more than :data:`PART_ROWS` rows is typeset in parts of at most that many, each let
    go before the next, and the parts are then joined: each of their pages is a page of the
    whole (``joined.typ``), whose footer numbers the pages of the whole ("page 7 of 754"),
    as the document typeset at once does. The template is told what each part holds
    (``part``: its opening, each table it has rows of, whether with its heading, whether
    with its end), and every part gives a table's ``auto`` columns the same widths,
    measured once over all its rows (``widths.typ``). What differs from the document typeset
    at once: a part ends where its rows end, so the page before the next part may be
    partly empty (once every :data:`PART_ROWS` rows). The text is the same, in the same
    order (``pdftotext``); the pages are the same size and the words the same fonts.
    A document of at most :data:`PART_ROWS` rows is typeset at once, as before.
    ``progress`` is told the parts typeset and their number (seconds each at 10,000
    customers)."""
    if sum(len(data[name]["rows"]) for name in tables) <= PART_ROWS:
        return typeset(template, data, at)
    stamp = _stamp(at)
    widths = _widths(data, tables)
    try:
        return _joined(template, data, stamp, tables, widths, progress or _untold)
    except OSError as exc:  # no temporary directory to write the parts in
        raise RenderError(f"cannot render {template} in parts: {exc.strerror or exc} "
                          f"({exc.filename or tempfile.gettempdir()}); set TMPDIR to a "
                          "writable directory") from None


def _untold(done: int, total: int) -> None:
    """No progress to tell."""


def _joined(template: str, data: dict[str, Any], stamp: dt.datetime, tables: tuple[str, ...],
            widths: dict[str, list[float]], progress: Callable[[int, int], None]) -> bytes:
    """The parts of ``data`` typeset one after the other, in a temporary directory, and
    joined (:func:`typeset_long`)."""
    import typst

    pages = []
    with tempfile.TemporaryDirectory(prefix="sla-monitor-typeset-") as folder:
        root = Path(folder)
        (root / "_print.typ").write_bytes((_TEMPLATES / "_print.typ").read_bytes())
        parts = _parts(data, tables, widths)
        for index, part in enumerate(parts):
            progress(index, len(parts))
            pdf = _compiled(_compiler(), template, _source(template, _text(part)), stamp)
            pages.append(page_count(pdf))
            (root / f"part-{index}.pdf").write_bytes(pdf)
            del pdf
            _forget()
        progress(len(parts), len(parts))
        joined = {"paper": data["paper"], "footer": data["footer"],
                  "document": data["document"], "parts": pages}
        return _compiled(typst.Compiler(root=folder), "joined.typ",
                         _source("joined.typ", _text(joined)), stamp)


def _forget() -> None:
    """Let go of the layout Typst memoized for the part just typeset: Typst forgets after
    each compilation what the last :data:`_MEMORY` compilations did not use, so that many
    empty documents age it out, and glibc's ``malloc_trim`` gives the freed pages back (a
    part's layout is about 150 MB; without this the parts together held as much as the
    document typeset at once)."""
    compiler = _compiler()
    for _ in range(_MEMORY):
        compiler.compile(input=b"", sys_inputs={}, timestamp=0)
    give_back()


#: How many compilations Typst keeps a memoized layout for when it is not used again.
_MEMORY = 10


def _parts(data: dict[str, Any], tables: tuple[str, ...],
           widths: dict[str, list[float]]) -> list[dict[str, Any]]:
    """``data`` cut into parts of at most :data:`PART_ROWS` rows of ``tables``
    (:func:`typeset_long`): each a copy of ``data`` with its own rows of each table and
    ``part`` saying what it holds. A table without rows is shown where the one before it
    ends."""
    parts: list[dict[str, Any]] = []
    room = 0
    for name in tables:
        rows = data[name]["rows"]
        start = 0
        while start < len(rows) or (start == 0 and not rows):
            if not parts or (room == 0 and rows):
                parts.append({"opening": not parts, "tables": {}, "rows": {}})
                room = PART_ROWS
            taken = rows[start:start + room]
            parts[-1]["tables"][name] = {"begins": start == 0,
                                         "ends": start + len(taken) == len(rows)}
            parts[-1]["rows"][name] = taken
            start += len(taken) or 1
            room -= len(taken)
    documents = []
    for part in parts:
        document = {**data, "paper": {**data["paper"], "footer": False},
                    "part": {"opening": part["opening"], "tables": part["tables"]}}
        for name in tables:
            document[name] = {**data[name], "rows": part["rows"].get(name, []),
                              "widths": widths[name]}
        documents.append(document)
    return documents


def _widths(data: dict[str, Any], tables: tuple[str, ...]) -> dict[str, list[float]]:
    """The width (points) each column of each of ``tables`` needs: its widest cell, the
    header's and its total's among them, each distinct cell measured once (``widths.typ``)."""
    import typst

    measured = []
    for name in tables:
        table = data[name]
        rows = table["rows"] + ([table["total"]] if table.get("total") else [])
        columns = []
        for index in range(len(table["head"])):
            distinct = {json.dumps(row[index], sort_keys=True): row[index] for row in rows}
            columns.append(list(distinct.values()))
        measured.append({"head": table["head"], "columns": columns})
    source = _source("widths.typ", _text({"paper": data["paper"], "tables": measured}))
    try:
        found = typst.Compiler(source, root=str(_TEMPLATES)).query("<widths>", field="value",
                                                                   one=True)
    except typst.TypstError as exc:
        raise RenderError(f"cannot render widths.typ: {exc.message}") from None
    # A hair more than measured: a column exactly as wide as its widest text could wrap it.
    return {name: [width + 0.5 for width in widths]
            for name, widths in zip(tables, json.loads(found), strict=True)}


#: The page tree's count of pages in a PDF as Typst writes it (no object streams).
_PAGE_COUNT = re.compile(rb"<<[^>]*?/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|"
                         rb"<<[^>]*?/Count\s+(\d+)[^>]*?/Type\s*/Pages\b")


def page_count(pdf: bytes) -> int:
    """How many pages ``pdf`` (Typst's) has: its page tree's count."""
    found = _PAGE_COUNT.search(pdf)
    if found is None:
        raise RenderError("cannot join a long document's parts: a part's page count was "
                          "not found in its PDF")
    return int(found.group(1) or found.group(2))


def _text(data: dict[str, Any]) -> str:
    """``data`` as the JSON a document is given (:func:`_source`), its texts prepared."""
    return json.dumps(_prepared(data, bool(data.get("rtl"))), ensure_ascii=False,
                      separators=(",", ":"))


def _stamp(at: dt.datetime) -> dt.datetime:
    """``at`` as Typst takes a document's date: whole seconds, UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).replace(
        microsecond=0)


def _compiled(compiler: Any, template: str, source: bytes, stamp: dt.datetime) -> bytes:
    import typst

    try:
        document = compiler.compile(input=source, sys_inputs={}, timestamp=stamp,
                                    pdf_tags=False)
    except typst.TypstError as exc:
        raise RenderError(f"cannot render {template}: {exc.message}") from None
    assert isinstance(document, bytes)
    return document


def check_fonts(fonts: dict[str, str] = FONTS) -> None:
    """:class:`RenderError` unless Typst loads and finds every font of ``fonts`` (the
    templates', each with its Debian package), naming the packages to install; this
    thread's compiler is built meanwhile."""
    import typst

    compiler = _compiler()
    sample = "".join(f'#text(font: "{font}", fallback: false)[sla-monitor ۱۲]\n'
                     for font in fonts)
    try:
        _, warnings = compiler.compile_with_warnings(input=sample.encode(), sys_inputs={},
                                                     timestamp=0)
    except typst.TypstError as exc:
        raise RenderError(f"cannot render PDF: Typst failed ({exc.message})") from None
    said = " ".join(warning.message.lower() for warning in warnings)
    missing = [font for font in fonts if f"unknown font family: {font.lower()}" in said]
    if missing:
        raise RenderError(
            f"cannot render PDF: the fonts {', '.join(missing)} are not installed; on "
            f"Debian/Ubuntu, apt-get install {' '.join(sorted({fonts[f] for f in missing}))}")
