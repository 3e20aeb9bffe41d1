"""A month in the life: a provider runs through days on a fake clock, across a month
boundary (Gregorian in UTC, Europe/Berlin over a DST change, the Jalali calendar in
Asia/Tehran) and a claim deadline (R-C1), with a history hypothesis draws (outages
reported and detected, causes changed, notifications logged, maintenance announced,
tickets opened, diagnosed and fixed, claims by e-mail and through the form, decisions,
report revisions, R-C3). At each look (every day, each month boundary, each claim
deadline and the second after it) every face is rendered for every customer and checked
(:mod:`tests.life.simulate`): status page, customer page by link and by token, the claim
form and each of its refusals, receipts, the feed, summary.json, badges, e-mails,
statements in HTML and CSV. No 5xx, everything parses, the figures keep their invariants.

The fast lane runs the known history and one derandomized example over a few days around
a month boundary; the deep lane (``slow``) whole months, more examples, and each month's
statement PDF.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.sla import month_containing
from tests.life.simulate import Event, Schemas, Seen, apply, fetch, moments, show_everything
from tests.life.world import PLACES, Place, living

KINDS = ("outage", "probe_down", "probe_up", "cause", "phoned", "maintenance", "ticket",
         "diagnose", "fix", "claim", "claim_form", "decide", "close")
#: What people type, awkward on purpose (markup, quotes, Persian, bidi marks, emoji), and
#: generated printable text; within the 2,000-character limit on free text.
AWKWARD = ("<script>alert(1)</script> & \"quotes\" 'too'", "خرابی پنل طراحی",
           "‏right-to-left mark‏ and ‪embedding‬", "line one\nline two", "🙂 ok", "]]> --> <!--")
TEXT = st.one_of(st.sampled_from(AWKWARD), st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=60,
).filter(lambda text: text.strip() != ""))


def events(span_minutes: int, least: int, most: int) -> st.SearchStrategy[list[Event]]:
    return st.lists(st.builds(
        Event,
        minute=st.integers(0, span_minutes - 1),
        kind=st.sampled_from(KINDS),
        pick=st.integers(0, 20),
        minutes=st.integers(1, 600),
        flag=st.booleans(),
        text=TEXT,
    ), min_size=least, max_size=most)


Case = tuple[Place, str, dt.datetime, int, int, list[Event]]


@st.composite
def lives(draw: st.DrawFn, before: tuple[int, int], after: tuple[int, int],
          deadlines: tuple[str, ...], least: int, most: int,
          places: tuple[Place, ...] = PLACES) -> Case:
    """A place (of ``places``), its claim deadline (R-C1), a start ``before`` days (and some minutes)
    before its month boundary, how many days to live (to ``after`` days past the
    boundary), the local hour of the daily look, and what happens."""
    place = draw(st.sampled_from(places))
    deadline = draw(st.sampled_from(deadlines))
    start = place.boundary - dt.timedelta(days=draw(st.integers(*before)),
                                          minutes=draw(st.integers(60, 1439)))
    days = draw(st.integers(*after)) + (place.boundary - start).days + 1
    hour = draw(st.integers(0, 23))
    return place, deadline, start, days, hour, draw(events(days * 1440, least, most))


async def live(place: Place, deadline: str, start: dt.datetime, days: int, hour: int,
               history: list[Event], *, deep: bool) -> Seen:
    """The provider at ``place`` lives ``days`` days from ``start``: the history happens,
    and every face is checked at every look."""
    seen = Seen()
    with tempfile.TemporaryDirectory() as folder:
        async with living(place, deadline, start, Path(folder)) as life:
            boundary = month_containing(place.boundary, place.calendar, place.timezone)  # type: ignore[arg-type]
            assert boundary.start == place.boundary, (place, boundary)
            _, document, _ = await fetch(life, seen, "GET", "/api/v1/openapi.json", 200)
            schemas = Schemas(json.loads(document))
            timeline: list[tuple[dt.datetime, int, Event | None]] = [
                (start + dt.timedelta(minutes=e.minute), 0, e) for e in history]
            timeline += [(at, 1, None) for at in moments(life, start, days, hour)]
            for at, _, event in sorted(timeline, key=lambda item: (item[0], item[1])):
                life.move_to(at)
                if event is not None:
                    await apply(life, event, seen, send_statements=deep)
                else:
                    await show_everything(life, seen, schemas, pdf=deep)
    assert not seen.errors
    return seen


def run(case: Case, deep: bool) -> Seen:
    place, deadline, start, days, hour, history = case
    return asyncio.run(live(place, deadline, start, days, hour, history, deep=deep))


#: A history that meets both ways the customer page once failed: a ticket on the page,
#: and no month open for a claim (claimed through the form the day after the boundary,
#: then the claim deadline passing), in Berlin over the autumn DST change.
KNOWN = (PLACES[2], "1d", PLACES[2].boundary - dt.timedelta(days=1), 2, 9, [
    Event(30, "ticket", 0, 1, True, "Panel <b>export</b> fails: «خطا»"),
    Event(90, "outage", 3, 45, False, "ACME's shop down, phoned in"),
    Event(1440 + 120, "claim_form", 0, 1, False, "please credit us"),
])


@settings(max_examples=1, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lives(before=(0, 0), after=(1, 1), deadlines=("1d",), least=3, most=10))
@example(KNOWN)
def test_a_few_days_around_a_month_boundary(case: Case) -> None:
    seen = run(case, deep=False)
    assert seen.faces > 50  # every look checked every face
    if case is KNOWN:
        assert len(seen.claims) == 1 and seen.tickets  # the form took the claim


@pytest.mark.slow
@pytest.mark.parametrize("place", PLACES, ids=[place.why for place in PLACES])
def test_whole_months(place: Place) -> None:
    """One whole month at each place (each its own test, so that they run in parallel)."""

    @settings(max_examples=1, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(lives(before=(31, 33), after=(1, 15), deadlines=("1d", "2d", "14d"), least=10,
                 most=60, places=(place,)))
    def lived(case: Case) -> None:
        whole_month(case)

    lived()


def whole_month(case: Case) -> None:
    seen = run(case, deep=True)
    assert seen.faces > 500
    assert seen.pdfs == seen.closed  # each closed month's statement PDF was made once
