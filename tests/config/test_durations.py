from __future__ import annotations

import pytest

from monitor.config.durations import parse_duration
from monitor.present import format_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        (15, 15.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("1w", 604800.0),
        ("90", 90.0),
    ],
)
def test_parse(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


# Persian and Arabic-Indic digits (\d matched them: "۲s" was 2 s), and a superscript.
@pytest.mark.parametrize("bad", ["", "5 minutes", "m5", -1, True, None, "1h-5m",
                                 "\u06f2s", "\u06f2", "\u0661\u0662h", "1.\u06f5h", "2\u00b2s"])
def test_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400, "1 h 30 min"), (0, "0 s"), (0.5, "0.5 s"), (86400 + 61, "1 d 1 min 1 s")],
)
def test_format(seconds: float, text: str) -> None:
    # One duration format for people (monitor.present), which the configuration reads back.
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
