"""Secret files named in the configuration, including systemd credentials.

A secret never sits in the YAML: ``smtp.password_file`` and
``http.tokens_file`` name a file that holds it. Under systemd the file
is a *credential*: the unit's ``LoadCredential=smtp-password:...`` copies it,
at start, into a private, read-only directory that only the service's user
can read, and passes that directory in ``$CREDENTIALS_DIRECTORY``. The
configuration names the credential by that variable::

    smtp:
      password_file: ${CREDENTIALS_DIRECTORY}/smtp-password

**Decision:** ``${CREDENTIALS_DIRECTORY}/`` at the start of a ``*_file``
setting is the only expansion, written exactly so (braces, at the start,
followed by the credential's name). It is an explicit marker, not a rule
about relative names: a relative path keeps meaning "relative to the working
directory", as everywhere else, and a reader of the file sees where the
secret comes from. No other variable is expanded (``$HOME``, ``~``), so a
path is never silently different from what the operator wrote; anything
else with a ``$`` (or a leading ``~``) is refused when the configuration is
loaded.

The variable is looked up when the secret is read (the daemon's start), not
when the file is loaded, so ``check-config`` and ``db upgrade`` work in an
operator's shell, where it is not set; ``check-config`` then warns.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from monitor.errors import ConfigError, ConfigIssue

VARIABLE = "CREDENTIALS_DIRECTORY"
PREFIX = "${" + VARIABLE + "}/"
ALLOWED = (
    "a file path, or ${CREDENTIALS_DIRECTORY}/NAME for the systemd credential NAME "
    "(LoadCredential=NAME:...); no other variable, and no ~, is expanded; no NUL character"
)


def check_secret_path(value: str) -> str:
    """Validate a ``*_file`` setting's form when the configuration is loaded.

    >>> check_secret_path("/etc/sla-monitor/smtp-password")
    '/etc/sla-monitor/smtp-password'
    >>> check_secret_path("${CREDENTIALS_DIRECTORY}/smtp-password")
    '${CREDENTIALS_DIRECTORY}/smtp-password'
    >>> check_secret_path("$HOME/smtp-password")
    Traceback (most recent call last):
    ...
    ValueError: expected a file path, or ${CREDENTIALS_DIRECTORY}/NAME for the systemd credential NAME (LoadCredential=NAME:...); no other variable, and no ~, is expanded; no NUL character
    """
    if not value or value.startswith("~") or "\0" in value:  # no file has a NUL in its name
        raise ValueError(f"expected {ALLOWED}")
    if "$" not in value:
        return value
    name = value.removeprefix(PREFIX)
    if name == value or not _credential_name(name):
        raise ValueError(f"expected {ALLOWED}")
    return value


def _credential_name(name: str) -> bool:
    # systemd's rule: a valid file name (no '/', not '.' or '..'), at most 255 bytes.
    return (
        bool(name) and "/" not in name and name not in (".", "..") and "$" not in name
        and "\0" not in name and len(name.encode()) <= 255
    )


def secret_path(field: str, value: str, environ: Mapping[str, str] | None = None) -> Path:
    """The file a ``*_file`` setting names, with ``${CREDENTIALS_DIRECTORY}`` filled in.

    Raises :class:`ConfigError` naming ``field`` and the value as written when
    the setting names a credential but systemd set no ``$CREDENTIALS_DIRECTORY``.
    """
    if not value.startswith(PREFIX):
        return Path(value)
    directory = (os.environ if environ is None else environ).get(VARIABLE, "")
    if not directory:
        raise ConfigError(
            field.split(".")[0],
            [
                ConfigIssue(
                    field,
                    None,
                    f"{value!r} names a systemd credential, but ${VARIABLE} is not set: "
                    "systemd sets it for a service with LoadCredential= (see the README, "
                    "'Install as a service'); outside systemd, name the file by its path",
                    value,
                )
            ],
        )
    return Path(directory) / value.removeprefix(PREFIX)


def read_secret_file(field: str, value: str, holding: str) -> str:
    """The secret in the file ``value`` names, without its final line break.

    ``holding`` says what the file should hold, for the error. The secret
    itself never appears in an error: only the setting, the path as written
    (and where it led) and why it could not be read.
    """
    path = secret_path(field, value)
    shown = repr(value) if str(path) == value else f"{value!r} ({path})"
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        hint = ""
        if value.startswith(PREFIX):
            name = value.removeprefix(PREFIX)
            hint = (
                f"; does the unit load it (LoadCredential={name}:...) and does its source "
                "exist (e.g. /etc/credstore/sla-monitor." + name + ")?"
            )
        raise ConfigError(
            field.split(".")[0],
            [
                ConfigIssue(
                    field,
                    None,
                    f"cannot read {shown} ({reason}); expected a readable UTF-8 file "
                    f"holding {holding}{hint}",
                    value,
                )
            ],
        ) from None
    if secret == "":
        raise ConfigError(
            field.split(".")[0], [ConfigIssue(field, None, f"{shown} is empty", value)]
        )
    return secret


def hash_line(scope: str, token: str, name: str) -> str:
    """The line of ``http.tokens_file`` for ``token``: ``SCOPE sha256:HEX NAME`` (its hash,
    never the token: :mod:`monitor.http.auth`).

    >>> hash_line("read", "an-example-token-of-32-characters", "grafana").split()[1][:15]
    'sha256:ab5ea26d'
    """
    return f"{scope} sha256:{hashlib.sha256(token.encode('utf-8')).hexdigest()} {name}"
