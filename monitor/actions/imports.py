"""Coming from another monitor: its configuration as an sla-monitor configuration
(``sla-monitor import gatus``, ``sla-monitor import uptime-kuma``), checked by the same
loader as ``check-config``, with a report of what could not be mapped and why
(:mod:`monitor.config.gatus` and :mod:`monitor.config.kuma` decide the mapping)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from monitor.actions.maintenance import add_maintenance, list_maintenance
from monitor.config import Settings, kuma, parse_config
from monitor.config.gatus import convert
from monitor.config.imported import Converted, Unmapped
from monitor.config.loader import read_yaml
from monitor.errors import ConfigError, ConfigIssue
from monitor.logs import Progress, no_progress
from monitor.present.formats import format_time
from monitor.redact import redact
from monitor.sla.coverage import unprobed
from monitor.sla.intervals import Interval
from monitor.store import audit, incidents, unknown

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["HistoryImported", "Imported", "import_gatus", "import_uptime_kuma",
           "import_uptime_kuma_history"]

MAX_SOURCE_BYTES = 32 * 1024 * 1024
_T = TypeVar("_T")


@dataclass
class Imported:
    """``text``: the configuration (YAML, valid); ``channels``: the operators' channels
    (Apprise URLs, which hold tokens), for ``operators.notify_file``; counts, the unmapped
    and the notes for the report."""

    source: str
    text: str
    channels: list[str]
    servers: int
    projects: int
    customers: int
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    origins: dict[int, str] = field(default_factory=dict)  # the source's id -> service id


HEADER = """\
# Imported from {kind} ({source}) by `sla-monitor import {command}`.
# Review it: draft customers carry placeholder contacts and fees; see the report.
"""


def import_gatus(raw: bytes, source: str, *, channels_file: str | None = None,
                 accepts: Callable[[str, str], bool] = lambda where, url: True) -> Imported:
    """A Gatus configuration file's bytes as an sla-monitor configuration. With
    ``channels_file``, the operators' channels are read from that file
    (``operators.notify_file``), which the caller writes; else they are written inline.
    ``accepts(where, url)``: whether the daemon could use a channel's URL (Apprise's word,
    from the caller: the notifier's layer is above this one)."""

    if len(raw) > MAX_SOURCE_BYTES:
        raise ConfigError(source, [ConfigIssue("(file)", None, f"{len(raw):,} bytes is too "
                                               f"large; allowed: at most {MAX_SOURCE_BYTES:,}")])
    try:
        data = read_yaml(raw.decode("utf-8"), source)
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [ConfigIssue("(file)", None, f"not UTF-8 (byte {exc.start}); "
                                               "allowed: a Gatus configuration (YAML)")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
        raise ConfigError(source, [ConfigIssue("endpoints", None, "missing; allowed: a Gatus "
                                               "configuration with a list of endpoints")])
    converted = convert(data)
    return _finished(converted, "Gatus", "gatus", source, channels_file, accepts)


#: A path of the document an import makes that names one of its records: ``services[3]``,
#: then the field in it.
_RECORD = re.compile(r"^((?:servers|services|customers)\[\d+\])(?:\.(.+))?$")


def in_source(issues: list[ConfigIssue], places: dict[str, str]) -> list[ConfigIssue]:
    """What ``check-config`` refused in the configuration an import made, said in the
    source's places: its lines and paths are not the source's (line 10 of the made file is
    another endpoint of the Gatus file), so each record's issue names what it was made of
    (``endpoints[0] 'web'``), then what it became; an issue of a server and a project both
    made of one endpoint (the project's host, at its interval) is said once, naming both.
    An issue that names no record keeps its path, without the made file's line.

    >>> found = in_source([ConfigIssue("servers[0].probe.timeout", 9, "'0s' is not valid"),
    ...                    ConfigIssue("services[0].probe.timeout", 20, "'0s' is not valid")],
    ...                   {"servers[0]": "endpoints[0] 'web'", "services[0]": "endpoints[0] 'web'"})
    >>> [str(issue) for issue in found]
    ["endpoints[0] 'web' (made into servers[0] and services[0]): probe.timeout: '0s' is not valid"]
    """
    found: list[ConfigIssue] = []
    made: dict[tuple[str, str | None, str], list[str]] = {}  # (place, field, message) -> made
    firsts: dict[tuple[str, str | None, str], int] = {}  # -> its position in found
    for issue in issues:
        record = _RECORD.match(issue.path)
        place = None if record is None else places.get(record[1])
        if record is None or place is None:
            found.append(dataclasses.replace(issue, line=None))
            continue
        key = (place, record[2], issue.message)
        made.setdefault(key, []).append(record[1])
        if key not in firsts:
            firsts[key] = len(found)
            found.append(issue)
    for key, position in firsts.items():
        place, inner = key[0], key[1]
        path = f"{place} (made into {' and '.join(made[key])})"
        found[position] = dataclasses.replace(
            found[position], path=path + ("" if inner is None else f": {inner}"), line=None)
    return found


def _finished(converted: Converted, kind: str, command: str, source: str,
              channels_file: str | None, accepts: Callable[[str, str], bool]) -> Imported:
    """The channels Apprise takes, the document as YAML, checked as check-config would."""
    channels = []
    for where, url in converted.channels:
        if accepts(where, url):
            channels.append(url)
        else:
            converted.unmapped.append(Unmapped(where, url.split("://", 1)[0] + "://…",
                                               "Apprise takes no such URL (not shown: it "
                                               "holds a token)"))
    document = converted.document
    if channels:
        document["operators"] = ({"notify_file": channels_file} if channels_file
                                 else {"notify": channels})
    text = HEADER.format(kind=kind, source=source, command=command) + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100)
    try:
        parse_config(text, source)  # what check-config says of it
    except ConfigError as exc:
        raise ConfigError(source, in_source(exc.issues, converted.places)) from None
    # The report names what it did not map by its URL: shown, as every output, without a
    # password (monitor.redact); the configuration keeps URLs as written.
    unmapped = [dataclasses.replace(item, what=redact(item.what)) for item in converted.unmapped]
    return Imported(source, text, channels, converted.servers, converted.projects,
                    converted.customers, unmapped, converted.notes,
                    converted.origins)


def _json_backup(path: str) -> bool:
    """Whether the file is Kuma 1.x's JSON backup (Settings > Backup > Export)."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and any(
        key in head for key in (b'"monitorList"', b'"notificationList"'))


def _not_kuma(path: str, exc: sqlite3.Error) -> ConfigError:
    if _json_backup(path):
        return ConfigError(path, [ConfigIssue(
            "(file)", None, "an Uptime Kuma JSON backup (Settings > Backup), which is not "
            "read: give Kuma's database, data/kuma.db (1.23 or 2.0)")])
    return ConfigError(path, [ConfigIssue("(file)", None, f"not an Uptime Kuma database "
                                          f"({exc}); allowed: Uptime Kuma's kuma.db "
                                          "(1.23 or 2.0)")])


def import_uptime_kuma(path: str, *, channels_file: str | None = None,
                       accepts: Callable[[str, str], bool] = lambda where, url: True
                       ) -> Imported:
    """An Uptime Kuma database (SQLite, 1.23 or 2.0; opened read-only) as an sla-monitor
    configuration; ``channels_file`` and ``accepts`` as for :func:`import_gatus`."""
    try:
        with closing(kuma.connect(path)) as connection:
            data = kuma.read_kuma(connection)
    except sqlite3.Error as exc:
        raise _not_kuma(path, exc) from None
    return _finished(kuma.convert(data), "Uptime Kuma", "uptime-kuma", path, channels_file,
                     accepts)


@dataclass
class HistoryImported:
    """What ``import uptime-kuma --history`` recorded: incidents (source ``imported``)
    and maintenance windows, those already there from an earlier run, and what it left."""

    source: str
    incidents: int = 0
    incidents_already: int = 0
    windows: int = 0
    windows_already: int = 0
    #: Kuma's watch as coverage (R-M3): its span (first to last heartbeat) and the
    #: seconds of each service's own gaps recorded as that service's unknown time.
    watched_from: dt.datetime | None = None
    watched_until: dt.datetime | None = None
    unwatched_seconds: dict[str, int] = field(default_factory=dict)
    coverage_already: bool = False
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def import_uptime_kuma_history(db: Database, settings: Settings, path: str, *,
                                     actor: str, now: dt.datetime,
                                     progress: Progress | None = None) -> HistoryImported:
    """Kuma's heartbeats as incidents (source ``imported``, R-M1: from the first DOWN to
    the first UP after it) of the services the imported configuration has, and its single
    maintenance windows as maintenance windows (as ``maintenance add`` records them).
    Nothing is recorded before a monitor's first heartbeat. Kuma's watch counts as watched
    time (:func:`_kuma_watch`). Run again, it adds nothing: an imported incident is known
    by its service and start, a window by its services, start, end and reason, the watch
    by its span.

    One monitor's heartbeats at a time (a Kuma database of months holds millions): read,
    turned into its incidents and its stretches without a heartbeat, then let go; memory
    grows with the largest monitor's history, not the database's. ``progress`` is told
    the monitors done."""
    told = progress or no_progress
    with closing(_kuma_read(path, kuma.connect, path)) as connection:
        data = _kuma_read(path, kuma.read_kuma, connection)
        converted = kuma.convert(data)
        done = HistoryImported(path)
        known_services = settings.topology.service_ids()
        names = data.names()
        services: dict[int, str] = {}
        for monitor, service in converted.origins.items():
            if service in known_services:
                services[monitor] = service
            else:
                done.unmapped.append(Unmapped(f"monitor {names[monitor]!r}", service,
                                              "not a service of the configuration (-c): "
                                              "import the configuration first and keep its "
                                              "ids"))
        found = _kuma_read(path, kuma.heartbeat_span, connection, list(services))
        span = None if found is None else Interval(*found)
        tolerance = settings.config.monitor.unknown_after
        intervals = data.intervals()
        gaps: dict[str, list[Interval]] = {}
        for number, (monitor, service) in enumerate(services.items()):
            told(number, len(services), HISTORY_STEP)
            beats, skipped = _kuma_read(path, kuma.read_heartbeats, connection, monitor)
            if skipped:
                done.unmapped.append(Unmapped(
                    f"monitor {names[monitor]!r}.heartbeat", f"{skipped} heartbeats",
                    "not a time (YYYY-MM-DD HH:MM:SS) and a status (0-3) as Kuma writes "
                    "them: skipped"))
            await _kuma_incidents(db, settings, done, service, names[monitor], beats,
                                  actor=actor, now=now)
            if span is not None:
                gaps[service] = _kuma_gaps([at for at, _ in beats], span,
                                           intervals.get(monitor, float(kuma.KUMA_INTERVAL)),
                                           tolerance)
        told(len(services), len(services), HISTORY_STEP)
    if span is not None:
        await _kuma_watch(db, done, span, gaps)
    for window in kuma.windows(data, converted=None):
        covered = sorted({services[m] for m in window.monitors if m in services})
        where = f"maintenance {window.title!r}"
        if not covered:
            done.unmapped.append(Unmapped(where, window.title, "none of its monitors is a "
                                          "service of the configuration"))
            continue
        reason = window.title.strip() or "maintenance (imported from Uptime Kuma)"
        listed = await list_maintenance(db, since=window.start, until=window.end)
        if any((w.window.start, w.window.end, w.window.reason, w.window.service_ids)
               == (window.start, window.end, reason, tuple(covered)) for w in listed):
            done.windows_already += 1
            continue
        await add_maintenance(db, settings, services=covered, start=window.start,
                              end=window.end, reason=reason, actor=actor, now=now)
        done.windows += 1
    return done


#: How the daemon's sessions table names the run that stands for Kuma's watch.
KUMA_WATCH = "uptime-kuma"


#: The step ``import uptime-kuma --history`` tells its progress in (monitors done).
HISTORY_STEP = "recording each monitor's heartbeats"


def _kuma_read(path: str, read: Callable[..., _T], *arguments: Any) -> _T:
    """A read of the Kuma database; an error of it is the file's (not Kuma's, or broken)."""
    try:
        return read(*arguments)
    except sqlite3.Error as exc:
        raise _not_kuma(path, exc) from None


async def _kuma_incidents(db: Database, settings: Settings, done: HistoryImported,
                          service: str, name: str,
                          beats: list[tuple[dt.datetime, int]], *, actor: str,
                          now: dt.datetime) -> None:
    """One monitor's down streaks as its service's incidents (those not there yet)."""
    streaks, open_since = kuma.down_streaks(beats)
    if open_since is not None:
        # A note is prose an operator reads: the time as shown times are (SPEC 7).
        since = format_time(open_since, settings.timezone, settings.calendar, seconds=True)
        done.notes.append(f"monitor {name!r}: down since {since} at its last "
                          "heartbeat: not recorded (the daemon's probes will see it)")
    async with db.transaction() as tx:
        already = await incidents.imported_starts(tx, service)
        for streak in streaks:
            if streak.start in already:
                done.incidents_already += 1
                continue
            incident_id = await incidents.add_imported(
                tx, service_id=service, start=streak.start, start_bound=streak.start_bound,
                end=streak.end, end_bound=streak.end_bound,
                note=f"imported from Uptime Kuma (monitor {name!r})", created_at=now)
            await audit.record(tx, at=now, actor=actor, action="incident.import",
                               object_type="incident", object_id=incident_id,
                               detail={"service": service, "source": "uptime-kuma"})
            done.incidents += 1


def _kuma_gaps(times: list[dt.datetime], span: Interval, interval: float,
               tolerance: float) -> list[Interval]:
    """A service's stretches without a heartbeat inside Kuma's watch, by the rule the
    daemon's probes follow (:func:`monitor.sla.coverage.unprobed`: longer than
    ``monitor.unknown_after`` after one interval). A monitor without heartbeats (a server
    the import made for a host without a Kuma monitor of its own) has the whole span."""
    if not times:
        return [span]
    found = [Interval(span.start, times[0])] if times[0] > span.start else []
    found += [gap for last, probed in pairwise(times)
              if (gap := unprobed(last, probed, interval, tolerance)) is not None]
    tail = unprobed(times[-1], span.end, interval, tolerance)
    return found + ([tail] if tail is not None else [])


async def _kuma_watch(db: Database, done: HistoryImported, span: Interval,
                      gaps: dict[str, list[Interval]]) -> None:
    """Kuma's watch as coverage (R-M3): the span from the first to the last heartbeat of
    the imported monitors is recorded as one run of the monitor (a session, stopped
    cleanly at the last heartbeat: from then on, until the daemon runs, nobody watched);
    inside it, each service's stretches without a heartbeat (:func:`_kuma_gaps`) are its own
    unknown time. Known by its span: run again, nothing is added."""
    done.watched_from, done.watched_until = span.start, span.end
    async with db.transaction() as tx:
        if await unknown.session_at(tx, hostname=KUMA_WATCH, started_at=span.start):
            done.coverage_already = True
            return
        session = await unknown.add_session(tx, started_at=span.start, hostname=KUMA_WATCH,
                                            pid=0, version="import")
        await unknown.beat(tx, session, span.end, stopped=True)
        for service, found in gaps.items():
            for gap in found:
                await unknown.add_unknown(
                    tx, start=gap.start, end=gap.end, reason="not_probed",
                    detail="no Uptime Kuma heartbeat (imported)", target_id=service)
            done.unwatched_seconds[service] = int(sum(
                (gap.end - gap.start).total_seconds() for gap in found))
