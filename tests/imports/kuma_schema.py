"""Uptime Kuma's tables, as its SQLite database has them, transcribed from its repository
(louislam/uptime-kuma), and a small database built on them for the import's tests.

* 2.0: db/knex_init_db.js at a5252f0b1a1fbd6cf96f6c725bdfabc03742d735 (``monitor``,
  ``heartbeat``, ``tag``, ``monitor_tag``, ``maintenance``, ``monitor_maintenance``,
  ``notification``, ``monitor_notification``, with the converted patches it applies:
  ``parent`` from 2023-06-30-1413-add-parent-monitor.js, ``invert_keyword``, ``timeout``),
  as knex writes them for SQLite; only the columns the import reads or that are NOT NULL
  without a default are kept of ``monitor`` (it has some 80).
* 1.23: the SQLite patches, db/old_migrations/patch-maintenance-table2.sql at
  cb2caaa0744918ae34e7d34ddded9310a245ee5e (``maintenance``, ``monitor_maintenance``,
  bracket-quoted), patch-add-parent-monitor.sql at 4608b4573fd72ff3bcf36f38fa85bab3d58a99ac
  and patch-add-timeout-monitor.sql at b7c7b1b9d6b8c0e9f336ad500bb173b9c7d7cef5 (both
  ``ALTER TABLE monitor ADD …``); ``OLD_MONITOR`` is the monitor table before the timeout
  patch (Kuma before 1.21), where the import takes 80 % of the interval.
"""

from __future__ import annotations

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
    `headers` text default null,
    `basic_auth_user` text default null,
    `basic_auth_pass` text default null,
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
