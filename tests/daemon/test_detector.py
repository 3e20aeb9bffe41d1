"""R-M1 thresholds, bounds and flapping, on plain data (the detector is pure)."""

from __future__ import annotations

import datetime as dt

from monitor.daemon.detector import Closed, Detector, Opened, Reopened

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
INTERVAL = dt.timedelta(seconds=30)


def feed(detector: Detector, states: str, start: dt.datetime = T0) -> list[tuple[int, object]]:
    """Feed 'u'/'d'/'?' results one interval apart; return (index, event) pairs."""
    names = {"u": "up", "d": "down", "?": "unknown"}
    events = []
    for index, code in enumerate(states):
        at = start + index * INTERVAL
        for event in detector.observe(names[code], at, at + dt.timedelta(seconds=1)):  # type: ignore[arg-type]
            events.append((index, event))
    return events


def at(index: int) -> dt.datetime:
    return T0 + index * INTERVAL


def test_opens_after_fail_after_with_first_failure_as_start() -> None:
    # R-M1: fail_after=3; results 0,1 up then 2,3,4 down: opens at the 3rd failure (index 4),
    # start = first failure (index 2), start bound = last success (index 1).
    events = feed(Detector(fail_after=3, recover_after=2), "uuddd")
    assert events == [
        (4, Opened(start=at(2), start_bound=at(1), detected_at=at(4) + dt.timedelta(seconds=1)))
    ]


def test_closes_after_recover_after_with_first_success_as_end() -> None:
    # R-M1: recover_after=2; down at 1..3 (open at 3), up at 4,5 → closes at 5 with end = index 4,
    # end bound = last failure (index 3).
    events = feed(Detector(fail_after=3, recover_after=2), "udddu" + "u")
    assert events[-1] == (5, Closed(end=at(4), end_bound=at(3)))


def test_short_streaks_do_not_open() -> None:
    assert feed(Detector(fail_after=3, recover_after=2), "ddudduddu") == []


def test_unknown_breaks_a_streak_without_counting() -> None:
    # R-M2: blindness never opens an incident: 'dd?dd' has no 3 consecutive failures.
    assert feed(Detector(fail_after=3, recover_after=1), "dd?dd") == []


def test_unknown_does_not_close_an_open_incident() -> None:
    events = feed(Detector(fail_after=2, recover_after=2), "dd??????")
    assert [type(e) for _, e in events] == [Opened]


def test_flap_within_window_reopens_instead_of_a_new_incident() -> None:
    detector = Detector(fail_after=2, recover_after=1, flap_window=dt.timedelta(minutes=5))
    events = feed(detector, "dd" + "u" + "dd")
    assert [type(e) for _, e in events] == [Opened, Closed, Reopened]


def test_failure_after_the_flap_window_is_a_new_incident() -> None:
    detector = Detector(fail_after=2, recover_after=1, flap_window=dt.timedelta(seconds=30))
    events = feed(detector, "dd" + "uuuu" + "dd")
    assert [type(e) for _, e in events] == [Opened, Closed, Opened]


def test_would_open_predicts_the_threshold() -> None:
    detector = Detector(fail_after=2, recover_after=1)
    assert not detector.would_open("up")
    assert not detector.would_open("down")
    feed(detector, "d")
    assert detector.would_open("down")
