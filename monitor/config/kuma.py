"""An Uptime Kuma database as an sla-monitor configuration (``sla-monitor import
uptime-kuma``): monitors, groups, tags, notifications and maintenance; and a list of what
could not be mapped, and why. Kuma 1.23 and 2.0 keep them in the same tables (SQLite).

What each part becomes (the README's "Coming from Uptime Kuma"):

* A monitor of type ``http`` is a **project** (an HTTP probe: URL, method, headers,
  ``body`` sent as its ``http_body_encoding`` says, ``ignore_tls``, ``maxredirects``,
  ``accepted_statuscodes_json`` such as ``["200-299"]`` → ``expected_status: [2xx]``), on
  the **server** of its host, made as for Gatus: the host's ``port`` monitor when there is one, else a server probed by TCP on the URL's port.
  A ``keyword`` monitor is the same with ``body_contains``. A ``port`` monitor is its
  host's server (a host's further ``port`` monitors are projects on it). A ``dns`` monitor
  is a server probed by DNS: ``hostname`` asked of ``dns_resolve_server`` (an IP address)
  on ``port`` for ``dns_resolve_type`` records, up when any is answered, as in Kuma.
* ``interval`` → ``interval``; the ``timeout`` column (Kuma 1.21 and later) → ``timeout``,
  else 80 % of the interval (Kuma's own default); ``maxretries`` → ``fail_after``
  (``maxretries + 1``: Kuma retries before it calls a monitor down). The detection duty
  (D-1) shortens a longer interval, and says so.
* A monitor of type ``group`` → a **draft customer** owning the monitors whose ``parent``
  it is (its sites the projects' host names); with no groups, each **tag** is one.
  Contacts and fees are placeholders to fill in, and the report says so.
* Notifications (``notification.config``): Telegram, Slack, Discord, Microsoft Teams,
  ntfy, Matrix, Mattermost, Rocket.Chat and Google Chat → Apprise URLs for
  ``operators.notify``; SMTP's ``smtpTo`` → ``provider.operators``. Others are reported.
* Maintenance: a ``single`` window (``start_date``, ``end_date``) is recorded as a
  maintenance window by ``--history``; a weekly one (``recurring-weekday``), a monthly
  one (``recurring-day-of-month``) or a ``cron`` one of those forms becomes a
  ``maintenance.recurring`` window of what its monitors became (:func:`recurring_windows`);
  the other recurring ones (an interval, another cron expression) are reported. Kuma keeps
  a window's times on the wall clock of its ``timezone``
  (``Maintenance.getStatus`` reads them with ``dayjs.tz``): an IANA name; ``SAME_AS_SERVER``,
  the server's (its ``serverTimezone`` setting); none, UTC (``Maintenance.run`` sets it so
  since Kuma 1.21.2). They are converted to UTC.
* A ``push`` monitor is a **server** probed by push: its job keeps calling
  ``/api/push/TOKEN`` (answered here as Kuma answers it); the report prints the token's
  line for ``http.tokens_file``, hashed.
* Paused monitors (``active`` 0), inverted ones (``upside_down``, ``invert_keyword``),
  the types sla-monitor does not probe (ping, Docker, databases…), a proxy
  (``proxy_id``) and authentication other than basic (``auth_method``: NTLM, mTLS, OAuth2)
  are reported.

>>> found = convert(KumaData(monitors=[{"id": 1, "name": "web", "type": "http",
...     "url": "https://acme.example/", "interval": 60, "maxretries": 2}]))
>>> probe = found.document["services"][0]["probe"]
>>> probe["expected_status"], probe["fail_after"], probe["timeout"]
(['2xx'], 3, '48s')
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from monitor.config.imported import (
    Converted,
    Unmapped,
    asked_name,
    assemble,
    draft_customer,
    host_server,
    lasts_as_a_window,
    nameserver,
    other_clock,
    push_probe,
    push_token,
    request_body,
    slug,
    within_detection_duty,
)
from monitor.config.schema import DNS_RECORDS, Weekday

__all__ = ["KumaData", "KumaWindow", "connect", "convert", "kuma_time", "read_heartbeats",
           "read_kuma", "windows"]

KUMA_INTERVAL = 60  # Kuma's default
_WHOLE = re.compile(r"[0-9]+")  # a status code: ASCII digits (isdigit() takes "²", "۲۰۰")
TABLES = ("monitor", "heartbeat", "tag", "monitor_tag", "maintenance", "monitor_maintenance",
          "notification")
_WHY_NOT = {
    "ping": "sla-monitor does not send ICMP echo requests (a TCP port monitor would)",
    "docker": "sla-monitor does not read Docker's state",
    "group": "",
}

# The Content-Type Kuma sends a request body with, by its encoding (http_body_encoding).
_BODY_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded",
               "xml": "text/xml; charset=utf-8"}

# Kuma's authentication methods besides basic (monitor.auth_method), none of which a probe
# can carry as a header.
_AUTHENTICATION = {
    "ntlm": "sla-monitor's probes do not answer NTLM's challenge",
    "mtls": "sla-monitor's probes present no client certificate",
    "oauth2-cc": "sla-monitor's probes fetch no OAuth2 token; put an Authorization header "
                 "by hand",
}


@dataclass(frozen=True)
class KumaWindow:
    """A single maintenance window of Kuma, its times in UTC, and the monitors it covers."""

    kuma_id: int
    title: str
    start: dt.datetime
    end: dt.datetime
    monitors: tuple[int, ...]


@dataclass
class KumaData:
    """The rows of Kuma's tables this reads (as dicts), without heartbeats."""

    monitors: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)  # tag.name + monitor_tag
    maintenance: list[dict[str, Any]] = field(default_factory=list)
    monitor_maintenance: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    #: The ``serverTimezone`` setting (Settings > General), the zone of a window whose
    #: ``timezone`` is ``SAME_AS_SERVER``; None when Kuma's database has none.
    server_timezone: str | None = None

    def names(self) -> dict[int, str]:
        """Each monitor's name in Kuma, by its id."""
        return {int(m["id"]): str(m.get("name")) for m in self.monitors}

    def intervals(self) -> dict[int, float]:
        """Each monitor's interval in seconds (Kuma's default where it has none), by its id."""
        found = {}
        for monitor in self.monitors:
            try:
                found[int(monitor["id"])] = float(_number(monitor, "interval") or KUMA_INTERVAL)
            except _NotANumber:  # such a monitor is not carried (_probe reports it)
                found[int(monitor["id"])] = float(KUMA_INTERVAL)
        return found


def connect(path: str) -> sqlite3.Connection:
    """Kuma's database, read-only (nothing is written to it, not even a journal). Kuma
    keeps it in write-ahead-log mode (``PRAGMA journal_mode = WAL``, a property of the
    file): while Kuma runs, its ``-wal`` and ``-shm`` files are beside it and are read as
    Kuma's own readers do; when Kuma is stopped (no ``-wal``) even a read-only connection
    would create them, owned by whoever runs the import (root's would stop Kuma writing),
    so the file is opened ``immutable`` (no log, no shared memory, no locks)."""
    resolved = Path(path).resolve()
    running = resolved.with_name(resolved.name + "-wal").exists()
    uri = ("file:" + urllib.parse.quote(str(resolved)) + "?mode=ro"
           + ("" if running else "&immutable=1"))
    connection = sqlite3.connect(uri, uri=True)
    connection.row_factory = sqlite3.Row
    return connection


def read_kuma(connection: sqlite3.Connection) -> KumaData:
    """The monitors, tags, maintenance and notifications. Raises ``sqlite3.DatabaseError``
    when it is not a Kuma database (a missing table)."""
    def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(row) for row in connection.execute(sql)]

    try:  # Settings.set stores JSON ('"Europe/Berlin"')
        found = connection.execute("SELECT value FROM setting WHERE key = 'serverTimezone'"
                                   ).fetchone()
        zone = json.loads(found[0]) if found and found[0] else None
    except (sqlite3.OperationalError, ValueError):
        zone = None
    return KumaData(
        server_timezone=str(zone) if zone else None,
        monitors=rows("SELECT * FROM monitor ORDER BY id"),
        tags=rows("SELECT monitor_tag.monitor_id, tag.name FROM monitor_tag "
                  "JOIN tag ON tag.id = monitor_tag.tag_id ORDER BY tag.id, monitor_tag.id"),
        maintenance=rows("SELECT * FROM maintenance ORDER BY id"),
        monitor_maintenance=rows("SELECT monitor_id, maintenance_id FROM monitor_maintenance "
                                 "ORDER BY id"),
        notifications=rows("SELECT * FROM notification ORDER BY id"),
    )


def read_heartbeats(connection: sqlite3.Connection, monitor_id: int
                    ) -> tuple[list[tuple[dt.datetime, int]], int]:
    """One monitor's heartbeats, oldest first: (time in UTC, status 0 down, 1 up, 2
    pending, 3 maintenance); and how many rows are not a time and a status as Kuma writes
    them (SQLite keeps whatever was written: a database edited by hand), skipped for the
    caller to report."""
    beats, skipped = [], 0
    for row in connection.execute(
            "SELECT time, status FROM heartbeat WHERE monitor_id = ? ORDER BY time, id",
            (monitor_id,)):
        status = row["status"]
        try:
            if type(status) is not int or not 0 <= status <= 3:
                raise ValueError(status)
            beats.append((kuma_time(row["time"]), status))
        except ValueError:
            skipped += 1
    return beats, skipped


def heartbeat_span(connection: sqlite3.Connection, monitor_ids: list[int]
                   ) -> tuple[dt.datetime, dt.datetime] | None:
    """From the first to the last heartbeat of these monitors (None: they have none), one
    monitor at a time (Kuma indexes heartbeats by monitor and time). Kuma's times are text
    of one fixed shape, so their order is the text's."""
    ends = [end for monitor in monitor_ids for order in ("ASC", "DESC")
            if (end := _readable_end(connection, monitor, order)) is not None]
    return (min(ends), max(ends)) if ends else None


_FROM_END = {"ASC": "SELECT time FROM heartbeat WHERE monitor_id = ? ORDER BY time ASC",
             "DESC": "SELECT time FROM heartbeat WHERE monitor_id = ? ORDER BY time DESC"}


def _readable_end(connection: sqlite3.Connection, monitor: int, order: str
                  ) -> dt.datetime | None:
    """A monitor's first (``ASC``) or last (``DESC``) heartbeat time that reads as Kuma
    writes it (those that do not are skipped, as :func:`read_heartbeats` skips them); the
    rows are read from that end, one at a time, until one does."""
    for (text,) in connection.execute(_FROM_END[order], (monitor,)):
        try:
            return kuma_time(text)
        except ValueError:
            continue
    return None


def kuma_time(text: str) -> dt.datetime:
    """Kuma writes ``YYYY-MM-DD HH:MM:SS[.fff]`` in UTC."""
    return dt.datetime.fromisoformat(str(text).replace(" ", "T")).replace(tzinfo=dt.UTC)


def _statuses(text: Any, where: str, converted: Converted) -> list[Any]:
    try:
        codes = json.loads(text or '["200-299"]')
    except ValueError:
        codes = []
    found: list[Any] = []
    for code in codes if isinstance(codes, list) else []:
        low, _, high = str(code).partition("-")
        # ASCII digits: str.isdigit() takes "²", which int() refuses, and "۲۰۰".
        if _WHOLE.fullmatch(low) and not high:
            found.append(int(low))
        elif (_WHOLE.fullmatch(low) and _WHOLE.fullmatch(high) and low.endswith("00")
              and high.endswith("99") and low[0] <= high[0]):
            found += [f"{c}xx" for c in range(int(low[0]), int(high[0]) + 1)]
        else:
            converted.unmapped.append(Unmapped(where, str(code), "a status range that is not "
                                               "whole classes (200-299) or one code"))
    return found or ["2xx"]


class _NotANumber(Exception):
    """A column Kuma keeps as a number holds something else: SQLite keeps whatever was
    written (a database edited by hand, or by another tool)."""

    def __init__(self, column: str, value: object) -> None:
        super().__init__(column)
        self.column, self.value = column, value


def _number(monitor: dict[str, Any], column: str) -> float | None:
    """``column`` of ``monitor`` as the number Kuma keeps there; None when empty (Kuma's
    default then); :class:`_NotANumber` for anything else (text, infinity)."""
    value = monitor.get(column)
    if value is None or value == "":
        return None
    if type(value) in (int, float) and math.isfinite(value):
        return float(value) if type(value) is float else int(value)
    raise _NotANumber(column, value)


def _probe(monitor: dict[str, Any], where: str, converted: Converted
           ) -> tuple[str, dict[str, Any], str, int] | None:
    """(kind, probe, host, port) of one monitor, or None (reported)."""
    try:
        return _mapped(monitor, where, converted)
    except _NotANumber as exc:
        shown = "inf" if exc.value == math.inf else str(exc.value)
        converted.unmapped.append(Unmapped(
            f"{where}.{exc.column}", shown, "not a number, which Uptime Kuma keeps there: the "
            "monitor is not carried"))
        return None


def _mapped(monitor: dict[str, Any], where: str, converted: Converted
            ) -> tuple[str, dict[str, Any], str, int] | None:
    kind = str(monitor.get("type") or "")
    what = str(monitor.get("url") or monitor.get("hostname") or monitor.get("name"))
    if not monitor.get("active", 1):
        converted.unmapped.append(Unmapped(where, what, "paused in Uptime Kuma"))
        return None
    if monitor.get("upside_down") or monitor.get("invert_keyword"):
        converted.unmapped.append(Unmapped(where, what, "inverted (up when the check fails): "
                                           "sla-monitor has no such probe"))
        return None
    interval = int(_number(monitor, "interval") or KUMA_INTERVAL)
    timeout = float(_number(monitor, "timeout") or 0) or interval * 0.8
    timing: dict[str, Any] = {"interval": f"{interval}s", "timeout": f"{timeout:g}s",
                              "fail_after": int(_number(monitor, "maxretries") or 0) + 1}
    if kind in ("http", "keyword"):
        url = str(monitor.get("url") or "")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            converted.unmapped.append(Unmapped(where, url, "not an http(s) URL"))
            return None
        probe: dict[str, Any] = {"type": "http", "url": url, **timing}
        method = str(monitor.get("method") or "GET").upper()
        if method != "GET":
            probe["method"] = method
        if monitor.get("headers"):
            try:
                headers = json.loads(monitor["headers"])
            except ValueError:
                headers = None
            if isinstance(headers, dict):
                probe["headers"] = {str(k): str(v) for k, v in headers.items()}
            else:
                converted.unmapped.append(Unmapped(f"{where}.headers", "(headers)",
                                                   "not a JSON object"))
        if monitor.get("body"):
            # Kuma sends it as its encoding says (JSON unless told otherwise).
            encoding = str(monitor.get("http_body_encoding") or "json").lower()
            request_body(probe, str(monitor["body"]), _BODY_TYPES.get(encoding), where,
                         converted)
        if monitor.get("proxy_id"):
            converted.unmapped.append(Unmapped(f"{where}.proxy_id", "(an HTTP proxy)",
                                               "sla-monitor's probes connect directly, not "
                                               "through a proxy"))
        method = str(monitor.get("auth_method") or "basic")
        if method in _AUTHENTICATION:
            converted.unmapped.append(Unmapped(f"{where}.auth_method", method,
                                               _AUTHENTICATION[method]))
        elif monitor.get("basic_auth_user"):
            converted.unmapped.append(Unmapped(f"{where}.basic_auth_user", "(credentials)",
                                               "put an Authorization header by hand"))
        probe["expected_status"] = _statuses(monitor.get("accepted_statuscodes_json"),
                                             f"{where}.accepted_statuscodes_json", converted)
        redirects = _number(monitor, "maxredirects")
        if redirects is not None and int(redirects) != 5:
            probe["max_redirects"] = min(int(redirects), 20)
            if int(redirects) == 0:
                probe["follow_redirects"] = False
        if monitor.get("ignore_tls"):
            probe["tls"] = {"verify": False}
        if kind == "keyword":
            probe["body_contains"] = str(monitor.get("keyword") or "")
        within_detection_duty(probe, where, converted)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return "project", probe, parsed.hostname, port
    if kind == "dns":
        return _dns(monitor, where, converted, timing)
    if kind == "push":  # up while its job calls within the interval (README "Push targets")
        pushed = push_probe(interval, timing["fail_after"], where, converted)
        return None if pushed is None else ("server", pushed, f"push-{monitor.get('id')}", 0)
    port = int(_number(monitor, "port") or 0) if kind == "port" else 0
    if kind == "port" and monitor.get("hostname") and port:
        probe = {"type": "tcp", "host": str(monitor["hostname"]), "port": port, **timing}
        within_detection_duty(probe, where, converted)
        return "server", probe, str(monitor["hostname"]), port
    converted.unmapped.append(Unmapped(where, what, _WHY_NOT.get(kind) or (
        f"a monitor of type {kind}: sla-monitor probes HTTP(S), TCP and DNS, and takes "
        "pushes")))
    return None


def _dns(monitor: dict[str, Any], where: str, converted: Converted,
         timing: dict[str, Any]) -> tuple[str, dict[str, Any], str, int] | None:
    """A Kuma DNS monitor (``hostname`` asked of ``dns_resolve_server`` on ``port`` for
    ``dns_resolve_type`` records; up when any is answered) as a DNS probe on a server of
    its own; or None (reported). Kuma 2's list of nameservers: the first is asked, the
    others are reported."""
    servers = [part for part in re.split(r"[\s,]+", str(monitor.get("dns_resolve_server")
                                                          or "")) if part]
    name = str(monitor.get("hostname") or "")
    server = nameserver(servers[0] if servers else "", f"{where}.dns_resolve_server",
                        converted)
    if server is None:
        return None
    for other in servers[1:]:
        converted.unmapped.append(Unmapped(f"{where}.dns_resolve_server", other, "a DNS "
                                           "probe asks one nameserver: add a monitor of its "
                                           "own for each other"))
    asked = asked_name(name, f"{where}.hostname", converted)
    if asked is None:
        return None
    record = str(monitor.get("dns_resolve_type") or "A").upper()
    if record not in DNS_RECORDS:
        converted.unmapped.append(Unmapped(f"{where}.dns_resolve_type", record,
                                           "one of " + ", ".join(DNS_RECORDS)))
        return None
    port = int(_number(monitor, "port") or 53)
    probe: dict[str, Any] = {"type": "dns", "server": server, "name": asked,
                             **({} if port == 53 else {"port": port}),
                             **({} if record == "A" else {"record": record}), **timing}
    expected = _dns_condition(monitor.get("conditions"), f"{where}.conditions", converted)
    if expected is not None:
        probe["expected"] = [expected]
    within_detection_duty(probe, where, converted)
    return "server", probe, server, port


def _dns_condition(text: Any, where: str, converted: Converted) -> str | None:
    """The value of Kuma 2's one condition ``record equals V`` on a DNS monitor (up when
    some record is V: a DNS probe's ``expected: [V]``); None without conditions, or
    when they say more (then reported: the monitor is carried without them)."""
    try:
        conditions = json.loads(text) if text else []
    except ValueError:
        conditions = None
    if conditions == []:
        return None
    if (isinstance(conditions, list) and len(conditions) == 1
            and isinstance(conditions[0], dict)
            and conditions[0].get("type", "expression") == "expression"
            and conditions[0].get("variable") == "record"
            and conditions[0].get("operator") == "equals"
            and isinstance(conditions[0].get("value"), str) and conditions[0]["value"]):
        return str(conditions[0]["value"])
    converted.unmapped.append(Unmapped(where, "(conditions)", "a DNS probe is up when a "
                                       "record of the type is answered, holding each "
                                       "expected value: one condition 'record equals V' is "
                                       "carried, not these"))
    return None


def _channels(notifications: list[dict[str, Any]], converted: Converted) -> list[str]:
    """Apprise URLs (into ``converted.channels``); the operators' e-mail addresses."""
    operators: list[str] = []
    for row in notifications:
        where = f"notification {row.get('name')!r}"
        try:
            settings = json.loads(row.get("config") or "{}")
        except ValueError:
            settings = {}
        settings = settings if isinstance(settings, dict) else {}
        kind = str(settings.get("type") or "")
        webhook = (settings.get("slackwebhookURL") or settings.get("discordWebhookUrl")
                   or settings.get("webhookUrl") or settings.get("mattermostWebhookUrl")
                   or settings.get("rocketwebhookURL") or settings.get("googleChatWebhookURL"))
        if not row.get("active", 1):
            converted.unmapped.append(Unmapped(where, kind, "not active in Uptime Kuma"))
        elif kind == "telegram" and settings.get("telegramBotToken") and settings.get(
                "telegramChatID"):
            converted.channels.append((where, f"tgram://{settings['telegramBotToken']}/"
                                              f"{settings['telegramChatID']}"))
        elif kind == "ntfy" and settings.get("ntfytopic"):
            base = urllib.parse.urlsplit(str(settings.get("ntfyserverurl") or "https://ntfy.sh"))
            secure = "ntfys" if base.scheme == "https" else "ntfy"
            converted.channels.append((where, f"{secure}://{base.netloc}/"
                                              f"{settings['ntfytopic']}"))
        elif kind in ("slack", "discord", "teams", "mattermost", "rocket.chat",
                      "GoogleChat") and webhook:
            converted.channels.append((where, str(webhook)))  # Apprise takes them as they are
        elif kind == "smtp" and settings.get("smtpTo"):
            operators += [a.strip() for a in str(settings["smtpTo"]).split(",") if a.strip()]
            converted.notes.append(
                f"{where}: its recipients are provider.operators; the SMTP server (host, "
                "port, user, password) goes in smtp:, with the password in a file")
        else:
            converted.unmapped.append(Unmapped(where, kind or "(no type)", "no Apprise URL is "
                                               "made for it; add one to operators.notify by hand"))
    return operators


def windows(data: KumaData, converted: Converted | None = None) -> list[KumaWindow]:
    """The single maintenance windows; recurring ones are reported into ``converted``."""
    found = []
    for row in data.maintenance:
        where = f"maintenance {row.get('title')!r}"
        strategy = str(row.get("strategy") or "")
        if strategy in _RECURRING:
            continue  # a recurring window of the configuration (recurring_windows)
        if strategy != "single" or not row.get("start_date") or not row.get("end_date"):
            if converted is not None:
                converted.unmapped.append(Unmapped(where, strategy, "only single windows (a "
                                                   "start and an end) and weekly ones are "
                                                   "carried"))
            continue
        named = str(row.get("timezone") or "UTC")
        zone_name = (data.server_timezone or "UTC") if named == "SAME_AS_SERVER" else named
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: too long
            if converted is not None:
                converted.unmapped.append(Unmapped(f"{where}.timezone", zone_name,
                                                   "not a time zone (an IANA name such as "
                                                   "Europe/Berlin)"))
            continue
        if converted is not None and named == "SAME_AS_SERVER" and not data.server_timezone:
            converted.notes.append(f"{where}: its times are in the Kuma server's time zone "
                                   "(its TZ), which its database does not name: read as UTC; "
                                   "check them")
        monitors = tuple(link["monitor_id"] for link in data.monitor_maintenance
                         if link["maintenance_id"] == row["id"])
        times = []
        for column in ("start_date", "end_date"):
            try:
                times.append(_wall_clock(row[column], zone))
            except ValueError:
                if converted is not None:
                    converted.unmapped.append(Unmapped(
                        f"{where}.{column}", str(row[column]), "not a time (YYYY-MM-DD "
                        "HH:MM[:SS], as Kuma keeps it): the window is not recorded"))
                break
        else:
            found.append(KumaWindow(int(row["id"]), str(row.get("title") or ""), times[0],
                                    times[1], monitors))
    return found


#: Kuma's weekday numbers (Monday 1 ... Saturday 6; Sunday 7, or 0 as cron reads it).
_KUMA_WEEKDAYS = {1: "monday", 2: "tuesday", 3: "wednesday", 4: "thursday", 5: "friday",
                  6: "saturday", 7: "sunday", 0: "sunday"}


#: Kuma's recurring strategies the configuration carries, and the column of their days.
_RECURRING = {"recurring-weekday": "weekdays", "recurring-day-of-month": "days_of_month",
              "cron": "cron"}
_WHY_CRON = ("a cron expression of a minute, an hour and days: every day, weekdays (MON-FRI, "
             "0-7), one weekday's n-th (5#1) or last (5L), or days of the month (1-31, L)")
_CRON_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def _cron_weekday(text: str) -> int:
    """A cron weekday, 0 to 7 or a name (sun ... sat)."""
    number = _CRON_DAYS.get(text.lower())
    if number is None:
        if not _WHOLE.fullmatch(text) or int(text) > 7:
            raise ValueError(text)
        number = int(text)
    return number


def _cron(expression: str) -> tuple[dict[str, list[Any]], dt.time]:
    """A Kuma cron window's days as ``maintenance.recurring`` says them, and its start: the
    forms a weekly or monthly schedule has (``M H * * *``, ``M H * * 1-5``, ``M H * * 5#1``,
    ``M H * * 5L``, ``M H 1,15 * *``, ``M H L * *``); ValueError for any other."""
    minute, hour, month_days, month, weekdays = expression.split()
    if not (_WHOLE.fullmatch(minute) and _WHOLE.fullmatch(hour)) or month != "*":
        raise ValueError(expression)
    start = dt.time(int(hour), int(minute))
    if month_days == "*" and weekdays in ("*", "?"):
        return {"every": list(get_args(Weekday))}, start
    if month_days in ("*", "?"):
        nth = re.fullmatch(r"(\w+)(?:#([1-5])|(L))", weekdays)
        if nth is not None:
            week: Any = int(nth[2]) if nth[2] else "last"
            return {"every": [_KUMA_WEEKDAYS[_cron_weekday(nth[1])]],
                    "weeks_of_month": [week]}, start
        days: list[int] = []
        for part in weekdays.split(","):
            first, _, last = part.partition("-")
            span = range(_cron_weekday(first), _cron_weekday(last or first) + 1)
            if not span:  # FRI-MON: cron's ranges do not wrap
                raise ValueError(part)
            days += span
        return {"every": list(dict.fromkeys(_KUMA_WEEKDAYS[n] for n in days))}, start
    if weekdays in ("*", "?"):
        numbers: list[Any] = []
        for part in month_days.split(","):
            if part == "L":
                numbers.append("last")
                continue
            first, _, last = part.partition("-")
            if not _WHOLE.fullmatch(first) or not _WHOLE.fullmatch(last or first) or (
                    int(last or first) < int(first)):
                raise ValueError(part)
            numbers += range(int(first), int(last or first) + 1)
        if not all(n == "last" or 1 <= n <= 31 for n in numbers):
            raise ValueError(month_days)
        return {"days_of_month": list(dict.fromkeys(numbers))}, start
    raise ValueError(expression)  # days of the month and weekdays: cron's either-or


def _kuma_days(strategy: str, text: object) -> tuple[str, list[Any]]:
    """The days of a recurring window as ``maintenance.recurring`` takes them: ``every``
    (Kuma's weekdays, 0 or 7 Sunday) or ``days_of_month`` (1 to 31; Kuma's ``lastDay1``,
    the last). ValueError (or KeyError, TypeError) for what is not Kuma's."""
    numbers = json.loads(str(text or "[]"))
    if strategy == "recurring-weekday":
        return "every", list(dict.fromkeys(_KUMA_WEEKDAYS[int(n)] for n in numbers))
    days: list[Any] = []
    for day in numbers:
        if day == "lastDay1":
            days.append("last")
        elif type(day) is int and 1 <= day <= 31:
            days.append(day)
        else:
            raise ValueError(day)
    return "days_of_month", list(dict.fromkeys(days))


def recurring_windows(data: KumaData, covered: dict[int, str],
                      converted: Converted) -> list[dict[str, Any]]:
    """Kuma's weekly and monthly maintenance (strategies ``recurring-weekday`` and
    ``recurring-day-of-month``: weekdays or days of the month, a start and end time of
    day, its time zone; ``cron``: an expression of those forms and a duration,
    :func:`_cron`) as ``maintenance.recurring`` windows of what its monitors became
    (``covered``: Kuma monitor id -> service or server id), its title their reason; each
    occurrence is then recorded ahead and announced to the customers (D-3), where Kuma
    only marked the monitors. Reported instead: a paused one, one that covers no monitor
    carried, one whose times or days are not Kuma's (or a last day but one)."""
    found = []
    taken: set[str] = set()
    for row in data.maintenance:
        strategy = str(row.get("strategy") or "")
        if strategy not in _RECURRING:
            continue
        title = str(row.get("title") or "")
        where = f"maintenance {title!r}"
        if not row.get("active", 1):
            converted.unmapped.append(Unmapped(where, strategy, "paused in Kuma"))
            continue
        services = list(dict.fromkeys(
            covered[link["monitor_id"]] for link in data.monitor_maintenance
            if link["maintenance_id"] == row["id"] and link["monitor_id"] in covered))
        if not services:
            converted.unmapped.append(Unmapped(where, strategy, "it covers no "
                                               "monitor carried here (a status page's are "
                                               "not read)"))
            continue
        column = _RECURRING[strategy]
        if strategy == "cron":
            try:
                schedule, start = _cron(str(row.get("cron") or ""))
                seconds = int(row.get("duration") or 0)  # Kuma keeps it in seconds
            except (ValueError, TypeError, KeyError):
                converted.unmapped.append(Unmapped(where, str(row.get("cron")), _WHY_CRON))
                continue
            if not lasts_as_a_window(seconds, where, f"{seconds} s", converted):
                continue
        else:
            try:
                key, days = _kuma_days(strategy, row.get(column))
                start = dt.time.fromisoformat(str(row.get("start_time") or ""))
                end = dt.time.fromisoformat(str(row.get("end_time") or ""))
            except (ValueError, TypeError, KeyError):
                converted.unmapped.append(Unmapped(where, str(row.get(column)), "weekdays or "
                                                   "days of the month (1 to 31, the last) and "
                                                   "a start and end time of day, as Kuma "
                                                   "keeps them"))
                continue
            seconds = ((end.hour - start.hour) * 3600
                       + (end.minute - start.minute) * 60) % 86400
            if not days or seconds < 60:
                converted.unmapped.append(Unmapped(where, f"{start:%H:%M}-{end:%H:%M}",
                                                   "no day, or under a minute"))
                continue
            schedule = {key: days}
        named = str(row.get("timezone") or "UTC")
        zone = (data.server_timezone or "UTC") if named == "SAME_AS_SERVER" else named
        other_clock(converted, where, "Kuma", f"{start:%H:%M}", zone)
        if row.get("end_date"):
            converted.notes.append(f"{where}: Kuma ends it on {row['end_date']}; remove it "
                                   "from maintenance.recurring then")
        if "days_of_month" in schedule or "weeks_of_month" in schedule:
            converted.notes.append(f"{where}: its days of the month are read in the months "
                                   "of provider.calendar (Kuma's are Gregorian; with "
                                   "calendar: jalali, the Jalali month's)")
        found.append({"id": slug(title, taken, fallback="kuma-maintenance"),
                      "services": services, **schedule, "at": f"{start:%H:%M}",
                      "duration": f"{seconds}s", "reason": title or "Scheduled maintenance"})
    return found


def _wall_clock(text: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A window's time as Kuma keeps it (``YYYY-MM-DDTHH:mm`` from the edit page's
    ``datetime-local`` inputs, on the wall clock of ``zone``), in UTC.

    >>> _wall_clock("2026-11-03T03:00", zoneinfo.ZoneInfo("Europe/Berlin")).isoformat()
    '2026-11-03T02:00:00+00:00'
    """
    local = dt.datetime.fromisoformat(str(text).replace(" ", "T")).replace(tzinfo=zone)
    return local.astimezone(dt.UTC)


def _customers(data: KumaData, members: dict[int, tuple[str, str]],
               converted: Converted) -> list[dict[str, Any]]:
    """Draft customers: a group's children, or (no groups) a tag's monitors."""
    owners: dict[str, list[int]] = {}
    groups = {m["id"]: str(m.get("name")) for m in data.monitors if m.get("type") == "group"}
    if groups:
        for monitor in data.monitors:
            parent = monitor.get("parent")
            if parent in groups:
                owners.setdefault(groups[parent], []).append(monitor["id"])
        origin = "group"
    else:
        for tag in data.tags:
            owners.setdefault(str(tag["name"]), []).append(tag["monitor_id"])
        origin = "tag"
    customers: list[dict[str, Any]] = []
    taken: set[str] = set()
    for name, monitor_ids in owners.items():
        mapped = [members[m] for m in monitor_ids if m in members]
        customer = draft_customer(name, origin, mapped, taken, converted)
        if customer is None:
            converted.unmapped.append(Unmapped(f"{origin} {name!r}", name, "none of its "
                                               "monitors is a project on a domain: no draft "
                                               "customer"))
        else:
            customers.append(customer)
            converted.sources["customers", customer["id"]] = f"{origin} {name!r}"
    return customers


def convert(data: KumaData) -> Converted:
    """The configuration; ``converted.origins``: each project's Kuma monitor id."""
    converted = Converted({})
    taken: set[str] = set()
    servers: dict[str, dict[str, Any]] = {}
    found = [(m, _probe(m, f"monitor {m.get('name')!r}", converted)) for m in data.monitors
             if m.get("type") != "group"]
    made: set[int] = set()
    members: dict[int, tuple[str, str]] = {}  # Kuma monitor id -> (service id, host)
    for monitor, result in found:  # servers first: the projects' hosts
        if result is not None and result[0] == "server" and result[2] not in servers:
            name = str(monitor.get("name") or result[2])
            servers[result[2]] = {"id": slug(name, taken, fallback=result[2]), "name": name,
                                  "probe": result[1]}
            converted.sources["servers", servers[result[2]]["id"]] = f"monitor {name!r}"
            made.add(monitor["id"])
            if monitor.get("type") == "push":
                push_token(servers[result[2]]["id"], monitor.get("push_token"),
                           f"monitor {name!r}", "/api/push/TOKEN", converted)
    services = []
    for monitor, result in found:
        if result is None or monitor["id"] in made:
            continue
        _kind, probe, host, port = result
        name = str(monitor.get("name") or host)
        ident = slug(name, taken, fallback=host)
        services.append({"id": ident, "kind": "project", "name": name,
                         "server": host_server(servers, host, port, probe, taken, converted,
                                               f"monitor {name!r}"),
                         "probe": probe})
        converted.sources["services", ident] = f"monitor {name!r}"
        members[monitor["id"]] = (ident, host)
    customers = _customers(data, members, converted)
    operators = _channels(data.notifications, converted)
    for window in windows(data, converted):
        converted.notes.append(f"maintenance {window.title!r} ({window.start:%Y-%m-%d %H:%M} "
                               f"to {window.end:%Y-%m-%d %H:%M} UTC): recorded by --history")
    covered = {monitor: service for monitor, (service, _) in members.items()}
    covered.update((monitor["id"], servers[result[2]]["id"]) for monitor, result in found
                   if result is not None and monitor["id"] in made)
    recurring = recurring_windows(data, covered, converted)
    assemble(converted, operators, list(servers.values()), services, customers,
             {"recurring": recurring} if recurring else None)
    converted.origins = {monitor: service for monitor, (service, _) in members.items()}
    return converted


@dataclass(frozen=True)
class DownStreak:
    """A down streak of Kuma's heartbeats as R-M1 reads one: from the first DOWN
    (``start``; the last UP before it, ``start_bound``) to the first UP after it (``end``;
    the last DOWN before that, ``end_bound``). Pending (2) and maintenance (3) beats
    neither open nor close one."""

    start: dt.datetime
    start_bound: dt.datetime | None
    end: dt.datetime
    end_bound: dt.datetime


def down_streaks(beats: list[tuple[dt.datetime, int]]
                 ) -> tuple[list[DownStreak], dt.datetime | None]:
    """The closed down streaks of one monitor's heartbeats (oldest first), and the start of
    a streak still open at the last heartbeat (None when it ends up). A streak starts at the
    first of the PENDING beats (Kuma's retries) just before its first DOWN one, if any.

    >>> t = lambda m, s=0: dt.datetime(2026, 11, 5, 10, m, s, tzinfo=dt.UTC)
    >>> streaks, open_since = down_streaks([(t(0), 1), (t(1), 0), (t(2), 2), (t(3), 0),
    ...                                     (t(4), 1), (t(5), 0)])
    >>> [(s.start.minute, s.end.minute, s.start_bound.minute, s.end_bound.minute)
    ...  for s in streaks], open_since.minute
    ([(1, 4, 0, 3)], 5)
    """
    streaks: list[DownStreak] = []
    last_up: dt.datetime | None = None
    start: dt.datetime | None = None
    bound: dt.datetime | None = None
    last_down: dt.datetime | None = None
    # Kuma's retries (maxretries, fail_after here) are PENDING beats before the DOWN one:
    # failed probes of the streak, whose first is its start (R-M1).
    retrying_since: dt.datetime | None = None
    for at, status in beats:
        if status == 0:
            if start is None:
                start, bound = retrying_since or at, last_up
            last_down = at
        elif status == 1:
            if start is not None and last_down is not None:
                streaks.append(DownStreak(start, bound, at, last_down))
                start = None
            last_up, retrying_since = at, None
        elif status == 2 and start is None and retrying_since is None:
            retrying_since = at
        elif status == 3:
            retrying_since = None  # maintenance: not a failed check
    return streaks, start
