"""Uptime Kuma's tables, as its SQLite database has them, transcribed from its repository
(louislam/uptime-kuma), and a small database built on them for the import's tests.

* 2.0: db/knex_init_db.js at a5252f0b1a1fbd6cf96f6c725bdfabc03742d735 (``monitor``,
  ``heartbeat``, ``tag``, ``monitor_tag``, ``maintenance``, ``monitor_maintenance``,
  ``notification``, ``monitor_notification``, with the converted patches it applies:
  ``parent`` from 2023-06-30-1413-add-parent-monitor.js, ``invert_keyword``, ``timeout``),
  as knex writes them for SQLite; only the columns the import reads or that are NOT NULL
  without a default are kept of ``monitor`` (it has some 80; ``proxy_id`` and
  ``auth_method`` without the foreign key to ``proxy``).
* 1.23: the SQLite patches, db/old_migrations/patch-maintenance-table2.sql at
  cb2caaa0744918ae34e7d34ddded9310a245ee5e (``maintenance``, ``monitor_maintenance``,
  bracket-quoted), patch-add-parent-monitor.sql at 4608b4573fd72ff3bcf36f38fa85bab3d58a99ac
  and patch-add-timeout-monitor.sql at b7c7b1b9d6b8c0e9f336ad500bb173b9c7d7cef5 (both
  ``ALTER TABLE monitor ADD …``); ``OLD_MONITOR`` is the monitor table before the timeout
  patch (Kuma before 1.21), where the import takes 80 % of the interval.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

MONITOR_2_0 = """
CREATE TABLE `monitor` (
    `id` integer not null primary key autoincrement,
    `name` varchar(150),
    `active` boolean not null default '1',
    `user_id` integer,
    `interval` integer not null default '20',
    `url` text,
    `type` varchar(20),
    `weight` integer default '2000',
    `hostname` varchar(255),
    `port` integer,
    `created_date` datetime not null default CURRENT_TIMESTAMP,
    `keyword` varchar(255),
    `maxretries` integer not null default '0',
    `ignore_tls` boolean not null default '0',
    `upside_down` boolean not null default '0',
    `maxredirects` integer not null default '10',
    `accepted_statuscodes_json` text not null default '["200-299"]',
    `dns_resolve_type` varchar(5),
    `dns_resolve_server` varchar(255),
    `retry_interval` integer not null default '0',
    `push_token` varchar(20) default null,
    `method` text not null default 'GET',
    `body` text default null,
    `http_body_encoding` varchar(25),
    `headers` text default null,
    `basic_auth_user` text default null,
    `basic_auth_pass` text default null,
    `proxy_id` integer,
    `auth_method` varchar(250),
    `expiry_notification` boolean default '1',
    `description` text default null,
    `parent` integer,
    `invert_keyword` boolean not null default '0',
    `timeout` float not null default '0',
    foreign key(`parent`) references `monitor`(`id`) on delete SET NULL on update CASCADE
)"""

OLD_MONITOR = MONITOR_2_0.replace(
    "    `timeout` float not null default '0',\n", "")

TABLES = """
CREATE TABLE `heartbeat` (
    `id` integer not null primary key autoincrement,
    `important` boolean not null default '0',
    `monitor_id` integer not null,
    `status` smallint not null,
    `msg` text,
    `time` datetime not null,
    `ping` integer,
    `duration` integer not null default '0',
    `down_count` integer not null default '0',
    foreign key(`monitor_id`) references `monitor`(`id`) on delete CASCADE on update CASCADE
);
CREATE INDEX `monitor_time_index` on `heartbeat` (`monitor_id`, `time`);
CREATE TABLE `tag` (
    `id` integer not null primary key autoincrement,
    `name` varchar(255) not null,
    `color` varchar(255) not null,
    `created_date` datetime not null default CURRENT_TIMESTAMP
);
CREATE TABLE `monitor_tag` (
    `id` integer not null primary key autoincrement,
    `monitor_id` integer not null,
    `tag_id` integer not null,
    `value` text,
    foreign key(`monitor_id`) references `monitor`(`id`) on delete CASCADE on update CASCADE,
    foreign key(`tag_id`) references `tag`(`id`) on delete CASCADE on update CASCADE
);
CREATE TABLE [maintenance] (
    [id] INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    [title] VARCHAR(150) NOT NULL,
    [description] TEXT NOT NULL,
    [user_id] INTEGER REFERENCES [user]([id]) ON DELETE SET NULL ON UPDATE CASCADE,
    [active] BOOLEAN NOT NULL DEFAULT 1,
    [strategy] VARCHAR(50) NOT NULL DEFAULT 'single',
    [start_date] DATETIME,
    [end_date] DATETIME,
    [start_time] TIME,
    [end_time] TIME,
    [weekdays] VARCHAR2(250) DEFAULT '[]',
    [days_of_month] TEXT DEFAULT '[]',
    [interval_day] INTEGER
);
CREATE TABLE monitor_maintenance (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL,
    maintenance_id INTEGER NOT NULL,
    CONSTRAINT FK_maintenance FOREIGN KEY (maintenance_id) REFERENCES maintenance (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT FK_monitor FOREIGN KEY (monitor_id) REFERENCES monitor (id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE `notification` (
    `id` integer not null primary key autoincrement,
    `name` varchar(255),
    `active` boolean not null default '1',
    `user_id` integer,
    `is_default` boolean not null default '0',
    `config` text
);
CREATE TABLE `monitor_notification` (
    `id` integer not null primary key autoincrement,
    `monitor_id` integer not null,
    `notification_id` integer not null,
    foreign key(`monitor_id`) references `monitor`(`id`) on delete CASCADE on update CASCADE,
    foreign key(`notification_id`) references `notification`(`id`) on delete CASCADE on update CASCADE
);
"""


def build(path: Path, monitor_table: str = MONITOR_2_0) -> sqlite3.Connection:
    """An empty Kuma database at ``path`` (the caller inserts and closes)."""
    connection = sqlite3.connect(path)
    connection.executescript(monitor_table + ";\n" + TABLES)
    return connection


def insert(connection: sqlite3.Connection, table: str, **row: object) -> int:
    columns = ", ".join(f"`{c}`" for c in row)
    marks = ", ".join("?" for _ in row)
    cursor = connection.execute(f"INSERT INTO `{table}` ({columns}) VALUES ({marks})",
                                tuple(row.values()))
    return int(cursor.lastrowid or 0)


KUMA_1_23 = Path(__file__).parent / "fixtures" / "kuma-1.23.17" / "db"

#: ``Database.latestVersion`` of Kuma 1.23.17: ``patch1.sql`` … ``patch10.sql`` run first.
LATEST_VERSION = 10

#: ``Database.patchList`` of Kuma 1.23.17, in its order (every value ``true`` but
#: ``patch-add-other-auth.sql``'s, whose parent ``patch-monitor-basic-auth.sql`` comes
#: earlier in the list: the order is the list's).
PATCH_LIST = (
    "patch-setting-value-type.sql",
    "patch-improve-performance.sql",
    "patch-2fa.sql",
    "patch-add-retry-interval-monitor.sql",
    "patch-incident-table.sql",
    "patch-group-table.sql",
    "patch-monitor-push_token.sql",
    "patch-http-monitor-method-body-and-headers.sql",
    "patch-2fa-invalidate-used-token.sql",
    "patch-notification_sent_history.sql",
    "patch-monitor-basic-auth.sql",
    "patch-add-docker-columns.sql",
    "patch-status-page.sql",
    "patch-proxy.sql",
    "patch-monitor-expiry-notification.sql",
    "patch-status-page-footer-css.sql",
    "patch-added-mqtt-monitor.sql",
    "patch-add-clickable-status-page-link.sql",
    "patch-add-sqlserver-monitor.sql",
    "patch-add-other-auth.sql",
    "patch-grpc-monitor.sql",
    "patch-add-radius-monitor.sql",
    "patch-monitor-add-resend-interval.sql",
    "patch-ping-packet-size.sql",
    "patch-maintenance-table2.sql",
    "patch-add-gamedig-monitor.sql",
    "patch-add-google-analytics-status-page-tag.sql",
    "patch-http-body-encoding.sql",
    "patch-add-description-monitor.sql",
    "patch-api-key-table.sql",
    "patch-monitor-tls.sql",
    "patch-maintenance-cron.sql",
    "patch-add-parent-monitor.sql",
    "patch-add-invert-keyword.sql",
    "patch-added-json-query.sql",
    "patch-added-kafka-producer.sql",
    "patch-add-certificate-expiry-status-page.sql",
    "patch-monitor-oauth-cc.sql",
    "patch-add-timeout-monitor.sql",
    "patch-add-gamedig-given-port.sql",
    "patch-notification-config.sql",
    "patch-fix-kafka-producer-booleans.sql",
    "patch-timeout.sql",
    "patch-monitor-tls-info-add-fk.sql",
)


def kuma_statements(text: str) -> list[str]:
    """A patch file's statements as ``Database.importSQLFile`` (1.23.17) splits them: lines
    starting with ``--`` dropped, the rest split at every ``;``, trimmed, empty ones
    dropped (each statement then runs on its own, ``BEGIN TRANSACTION`` and ``COMMIT``
    included)."""
    lines = [line for line in text.split("\n") if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def build_1_23(path: Path) -> sqlite3.Connection:
    """A new Kuma 1.23.17 database at ``path``, made as Kuma makes it on its first start:
    the template copied, Kuma's pragmas (``Database.connect``: foreign keys on, the
    write-ahead log, which stays the file's journal mode), the patches
    run in Kuma's order with the settings Kuma writes as it goes (``database_version``,
    ``databasePatchedFiles``, JSON as ``Settings.set`` stores them), then the status-page
    slug repair of ``migrateNewStatusPage`` (no ``title`` setting: nothing to migrate).
    The caller inserts, commits and closes."""
    shutil.copyfile(KUMA_1_23 / "kuma.db", path)
    connection = sqlite3.connect(path, isolation_level=None)  # the patches say BEGIN/COMMIT
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "cache_size = -12000",
                   "auto_vacuum = INCREMENTAL", "synchronous = NORMAL"):
        connection.execute(f"PRAGMA {pragma}")  # Database.connect, as Kuma runs (not tests)

    def set_setting(key: str, value: object) -> None:
        connection.execute("INSERT INTO setting (key, value, type) VALUES (?, ?, NULL) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           (key, json.dumps(value, separators=(",", ":"))))

    for version in range(1, LATEST_VERSION + 1):
        for statement in kuma_statements((KUMA_1_23 / f"patch{version}.sql").read_text()):
            connection.execute(statement)
        set_setting("database_version", version)
    patched: dict[str, bool] = {}
    for name in PATCH_LIST:
        for statement in kuma_statements((KUMA_1_23 / name).read_text()):
            connection.execute(statement)
        patched[name] = True
    set_setting("databasePatchedFiles", patched)
    connection.execute("UPDATE status_page SET slug = 'empty-slug-recover' WHERE TRIM(slug) = ''")
    connection.isolation_level = ""  # the caller's inserts in one transaction
    return connection
