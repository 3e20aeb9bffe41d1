"""Secrets out of everything sla-monitor stores, logs or shows (SPEC section 8).

A probe URL may carry a password (``http://admin:PW@host/``), and so may a
``storage.url`` (``postgresql+asyncpg://monitor:PW@db/sla``). The configuration
keeps them as written, since that is how the probe logs in; every text that
leaves the process — a failure's detail stored as evidence (R-M7), a log line,
an error message, a CLI output — goes through :func:`redact` first, which
replaces the user-info of every URL in it with ``***``:

>>> redact("GET http://admin:hunter2@panel.example/health failed")
'GET http://***@panel.example/health failed'
>>> redact("postgresql+asyncpg://monitor:s3cret@db.example/sla is unreachable")
'postgresql+asyncpg://***@db.example/sla is unreachable'
>>> redact("https://panel.example/?a=1&b=x@y")   # no user-info: a query is left alone
'https://panel.example/?a=1&b=x@y'

A query's parameter named as a secret (``token``, ``key``, ``password``, ``sig`` and their
like) has its value masked the same way, wherever it stands in the text:

>>> redact("GET https://panel.example/health?token=s3cret&check=db: HTTP 503")
'GET https://panel.example/health?token=***&check=db: HTTP 503'
>>> redact("http://h.example/x?api_key=k1&Access_Token=t2&page=2")
'http://h.example/x?api_key=***&Access_Token=***&page=2'

**Decision:** the whole user-info goes, not only the password: a token is
often the user name (``https://TOKEN@host``), and nothing an operator needs to
read an error hides in it. :func:`redact_value` does the same inside the
values shown in configuration errors (strings, and strings in lists and
mappings).
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact", "redact_value"]

MASK = "***"

# scheme://user-info@ : the user-info stops at the first '/', '?', '#' or white space, so an
# '@' in a path or query is not taken for one.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s@'\"<>]*@")


# ?name= or &name= of a query parameter that holds a secret, and its value (to the next
# '&', '#', quote, space or end).
_QUERY_SECRET = re.compile(
    r"([?&](?:[A-Za-z0-9_.-]*[_.-])?(?:token|key|secret|password|passwd|pwd|sig|signature|"
    r"auth|apikey|credential|credentials|session)=)[^&#\s'\"<>]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the user-info of every URL in it, and the value of every query
    parameter named as a secret, replaced by ``***``."""
    if "@" in text:
        text = _USERINFO.sub(lambda match: f"{match[1]}{MASK}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda match: f"{match[1]}{MASK}", text)
    return text


def redact_value(value: object) -> object:
    """A value for an error message, with :func:`redact` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    return value
