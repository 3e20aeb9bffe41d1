"""How values look to people: one formatter of times, durations and money, and the
renderers (text tables, CSV) built on it. The CLI, the e-mails and (later) the HTML
pages show values through this package; JSON keeps the engine's machine forms.

* :mod:`.formats`: times in the configured zone and calendar, durations, money,
  percentages; and parsing the times operators type;
* :mod:`.tables`: aligned text tables;
* :mod:`.report`: a month's SLA report (the engine's typed ``MonthReport``) as a
  table or CSV;
* :mod:`.jsonable`: typed results as JSON values (``--format json``, the API).
"""

from monitor.present.formats import (
    ISO_HINT,
    format_bytes,
    format_day,
    format_days,
    format_duration,
    format_elapsed,
    format_money,
    format_percent,
    format_time,
    parse_time,
)
from monitor.present.jsonable import as_json, json_text, report_json_text
from monitor.present.report import report_csv, report_table
from monitor.present.tables import text_table

__all__ = [
    "ISO_HINT",
    "as_json",
    "format_bytes",
    "format_day",
    "format_days",
    "format_duration",
    "format_elapsed",
    "format_money",
    "format_percent",
    "format_time",
    "json_text",
    "parse_time",
    "report_csv",
    "report_json_text",
    "report_table",
    "text_table",
]
