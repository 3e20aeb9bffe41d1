"""Signed, expiring links to a customer's page, the browser session they open, and the
CSRF tokens of its forms.

``sla-monitor customer link C`` prints ``{public_url}/customer/C?expires=T&key=K&sig=S``:
``S`` is an HMAC-SHA256, under the link key ``K``, of the customer id and the expiry
(Unix seconds), base64url. Opening it checks the signature (in constant time) and the
expiry, then sets a cookie that carries the same kind of signature (for the session,
with the link's expiry) and redirects to the plain ``/customer/C``, so the signature
leaves the address bar, the history and any ``Referer``. The cookie is ``HttpOnly``,
``SameSite=Lax`` (a link followed from a mail client must open the page; a form posted
from another site gets no cookie) and ``Secure`` when the public address is https.
Every form carries a CSRF token, an HMAC of the session under the same key, checked
with the cookie (SameSite alone is not the whole defence).

**Keys** (decision): ``http.link_key_file`` (under systemd the credential
``${CREDENTIALS_DIRECTORY}/link-key``) or ``http.link_key_env`` hold one or more keys,
one per line (comma-separated in the variable), each at least 32 characters
(``sla-monitor customer link-key`` prints a fresh one). The **first** key signs; every
key verifies. A key is named in links by the first 8 hex digits of its SHA-256, never by
itself. To **rotate**: put a new key on the first line and keep the old one below it
for ``http.link_lifetime`` (links and sessions signed with it stay valid until they
expire), reload, then remove the old line and reload again. Removing a key at once
revokes every link and session it signed. Without a key, customer pages open only
with a customer (or operator) token, and ``customer link`` says so.

The links themselves are made in one place, :func:`page_link`: ``customer link`` prints
one, and every monthly statement and claim reminder carries one to the claim
form (:func:`claim_form_link`). The HTTP edge checks them (:mod:`monitor.http.pages`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import os
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from monitor.actions.common import known
from monitor.config import Settings
from monitor.config.credentials import PREFIX, VARIABLE, read_secret_file
from monitor.config.schema import HTTPServer
from monitor.errors import ConfigError, ConfigIssue, InputError
from monitor.present import format_duration

__all__ = [
    "CLAIM_FORM",
    "COOKIE",
    "LinkCheck",
    "LinkKeys",
    "PageLink",
    "claim_form_link",
    "claim_link_keys",
    "customer_link",
    "load_link_keys",
    "new_link_key",
    "page_link",
    "public_base",
    "unavailable_link_key",
]

COOKIE = "sla_monitor_customer"
_MIN_KEY = 32
# The parts of a link and of a session cookie, ASCII only ([0-9] never matches "²").
_CUSTOMER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")  # the configuration's ids
_EXPIRES = re.compile(r"[0-9]{1,11}")  # Unix seconds: up to the year 5138 (datetime ends at 9999)
_KEY_ID = re.compile(r"[0-9a-f]{8}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{1,100}")  # base64url without padding


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LinkCheck:
    """The outcome of checking a link or a session cookie."""

    result: Literal["valid", "expired", "invalid"]
    customer: str | None = None
    expires: dt.datetime | None = None


@dataclass(frozen=True)
class LinkKeys:
    """The link keys, the first of which signs."""

    keys: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str, field: str, *, separator: str = "\n") -> LinkKeys:
        keys = []
        for number, raw in enumerate(text.split(separator), start=1):
            key = raw.strip()
            if not key or key.startswith("#"):
                continue
            if len(key) < _MIN_KEY or any(c.isspace() for c in key):
                raise ConfigError(field, [ConfigIssue(
                    f"{field} (entry {number})", None,
                    f"a link key must be at least {_MIN_KEY} characters without spaces "
                    "(see: sla-monitor customer link-key)")])
            keys.append(key.encode("utf-8"))
        if not keys:
            raise ConfigError(field, [ConfigIssue(field, None, "holds no key")])
        return cls(tuple(keys))

    @staticmethod
    def key_id(key: bytes) -> str:
        return hashlib.sha256(key).hexdigest()[:8]

    def _sign(self, key: bytes, purpose: str, customer: str, expires: int) -> str:
        message = f"{purpose}\n{customer}\n{expires}".encode()
        return _b64(hmac.new(key, message, hashlib.sha256).digest())

    def _check(self, purpose: str, customer: str, expires_text: str, key_id: str,
               signature: str, now: dt.datetime) -> LinkCheck:
        # Each part is ASCII of its own shape before anything is computed from it: a
        # "²" passes str.isdigit and fails int(); compare_digest refuses non-ASCII text.
        if (_CUSTOMER.fullmatch(customer) is None or _EXPIRES.fullmatch(expires_text) is None
                or _KEY_ID.fullmatch(key_id) is None or _SIGNATURE.fullmatch(signature) is None):
            return LinkCheck("invalid")
        expires = int(expires_text)
        valid = False
        for key in self.keys:
            expected = self._sign(key, purpose, customer, expires)
            # Every key is tried and compared in constant time; the id only has to match.
            same = hmac.compare_digest(expected.encode(), signature.encode("ascii"))
            valid |= same and hmac.compare_digest(self.key_id(key), key_id)
        if not valid:
            return LinkCheck("invalid")
        at = dt.datetime.fromtimestamp(expires, dt.UTC)
        if now >= at:
            return LinkCheck("expired", customer, at)
        return LinkCheck("valid", customer, at)

    # --- links -----------------------------------------------------------------------------

    def link_query(self, customer: str, expires: dt.datetime) -> str:
        """``expires=...&key=...&sig=...`` for ``customer``'s page."""
        key = self.keys[0]
        stamp = int(expires.timestamp())
        return urlencode({"expires": stamp, "key": self.key_id(key),
                          "sig": self._sign(key, "link", customer, stamp)})

    def check_link(self, customer: str, expires: str, key_id: str, signature: str,
                   now: dt.datetime) -> LinkCheck:
        return self._check("link", customer, expires, key_id, signature, now)

    # --- other signed links: a status-page subscriber's confirmation and unsubscribe ---

    def signed_query(self, purpose: str, subject: str, expires: dt.datetime | None) -> dict[str, str]:
        """``expires`` (absent without one), ``key`` and ``sig`` of a link for ``subject``
        (ASCII of a configuration id's shape), signed for ``purpose`` only: a link of one
        purpose never passes for another's."""
        key = self.keys[0]
        stamp = 0 if expires is None else int(expires.timestamp())
        signed = {"key": self.key_id(key), "sig": self._sign(key, purpose, subject, stamp)}
        return signed if expires is None else {"expires": str(stamp), **signed}

    def check_signed(self, purpose: str, subject: str, expires: str | None, key_id: str,
                     signature: str, now: dt.datetime) -> LinkCheck:
        """A link of :meth:`signed_query`; ``expires`` None for one that never expires."""
        if expires is None:
            # Signed with the stamp 0; checked at an instant before it, so never expired.
            checked = self._check(purpose, subject, "0", key_id, signature,
                                  dt.datetime.min.replace(tzinfo=dt.UTC))
            return LinkCheck(checked.result, checked.customer)
        return self._check(purpose, subject, expires, key_id, signature, now)

    # --- the session a link opens, and its forms' CSRF tokens ------------------------------

    def session(self, customer: str, expires: dt.datetime) -> str:
        """The cookie's value: ``customer:expires:key:signature``."""
        key = self.keys[0]
        stamp = int(expires.timestamp())
        signature = self._sign(key, "session", customer, stamp)
        return f"{customer}:{stamp}:{self.key_id(key)}:{signature}"

    def check_session(self, value: str, now: dt.datetime) -> LinkCheck:
        parts = value.split(":")
        if len(parts) != 4:
            return LinkCheck("invalid")
        customer, expires, key_id, signature = parts
        return self._check("session", customer, expires, key_id, signature, now)

    def csrf(self, session: str) -> str:
        """The CSRF token of forms shown in ``session`` (an HMAC of it under the first key
        that verifies it; the session's own key)."""
        key_id = session.split(":")[2] if session.count(":") == 3 else ""
        key = next((k for k in self.keys if self.key_id(k) == key_id), self.keys[0])
        return _b64(hmac.new(key, b"csrf\n" + session.encode(), hashlib.sha256).digest())

    def check_csrf(self, session: str, token: str) -> bool:
        if _SIGNATURE.fullmatch(token) is None:
            return False
        return hmac.compare_digest(self.csrf(session).encode(), token.encode("ascii"))


def load_link_keys(http: HTTPServer) -> LinkKeys | None:
    """The keys ``http.link_key_file`` and ``http.link_key_env`` name; None without them."""
    keys: list[bytes] = []
    if http.link_key_file is not None:
        text = read_secret_file("http.link_key_file", http.link_key_file, "link keys")
        keys += LinkKeys.parse(text, "http.link_key_file").keys
    if http.link_key_env is not None:
        value = os.environ.get(http.link_key_env)
        if not value:
            raise ConfigError("http", [ConfigIssue(
                "http.link_key_env", None,
                f"environment variable {http.link_key_env!r} is not set or empty")])
        keys += LinkKeys.parse(value, "http.link_key_env", separator=",").keys
    return LinkKeys(tuple(keys)) if keys else None


def customer_link(base_url: str, keys: LinkKeys, customer: str, expires: dt.datetime) -> str:
    """The signed address of ``customer``'s page, valid until ``expires``."""
    return f"{base_url.rstrip('/')}/customer/{customer}?{keys.link_query(customer, expires)}"


def new_link_key() -> str:
    """A fresh random link key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


# The claim form's place on the customer page (``<section id="claim">``): a browser keeps
# the fragment across the link's redirect to the plain page.
CLAIM_FORM = "#claim"


@dataclass(frozen=True)
class PageLink:
    """A signed address of a customer's page and the instant it stops working."""

    customer: str
    url: str
    expires: dt.datetime


def page_link(
    settings: Settings,
    keys: LinkKeys | None,
    customer: str,
    *,
    now: dt.datetime,
    valid: float | None = None,
    until: dt.datetime | None = None,
    fragment: str = "",
) -> PageLink:
    """A signed link to ``customer``'s page at ``http.public_url`` under ``keys`` (see
    :func:`load_link_keys`), valid for ``valid`` seconds (default ``http.link_lifetime``;
    above zero and at most ``http.link_max_lifetime``), or until ``until`` when that is
    later. Without keys, a :class:`ConfigError` that says how to make one."""
    known(customer, settings.topology.customers, "customer_id", "customers")
    longest = settings.http.link_max_lifetime
    if valid is not None and not (math.isfinite(valid) and 0 < valid <= longest):
        raise InputError("valid", valid, f"a duration above zero and at most "
                         f"{format_duration(longest)} (http.link_max_lifetime), e.g. 7d or 12h")
    if keys is None:
        raise ConfigError("http", [ConfigIssue(
            "http.link_key_file", None,
            "no link key is configured (http.link_key_file or http.link_key_env); "
            "create one with: sla-monitor customer link-key")])
    expires = now + dt.timedelta(seconds=settings.http.link_lifetime if valid is None else valid)
    if until is not None and until > expires:
        expires = until
    expires = expires.replace(microsecond=0)
    return PageLink(customer, customer_link(public_base(settings), keys, customer, expires)
                    + fragment, expires)


def public_base(settings: Settings) -> str:
    """Where links point: ``http.public_url``, else the address the daemon listens on."""
    return (settings.http.public_url or "http://" + settings.http.listen).rstrip("/")


def claim_form_link(
    settings: Settings,
    keys: LinkKeys | None,
    customer: str,
    *,
    deadline: dt.datetime,
    now: dt.datetime,
) -> PageLink | None:
    """The signed link to ``customer``'s claim form that a statement or a claim reminder
    gives (R-C1), or None without link keys (customer pages then open with tokens only,
    and the statement says to claim by e-mail).

    *Decision:* it stays valid until the month's claim ``deadline`` (the form refuses a
    late claim anyway), and at least ``http.link_lifetime``: a customer reading the
    statement on its last day can still claim."""
    if keys is None:
        return None
    return page_link(settings, keys, customer, now=now, until=deadline, fragment=CLAIM_FORM)


def unavailable_link_key(settings: Settings) -> str | None:
    """Why this process cannot sign links although a key is configured: the key is a
    systemd credential and ``$CREDENTIALS_DIRECTORY`` is not set (an operator's shell,
    outside the service); None when it can, or when no key is configured."""
    name = settings.http.link_key_file
    if name is None or not name.startswith(PREFIX) or os.environ.get(VARIABLE):
        return None
    return (f"http.link_key_file names the systemd credential {name!r} and "
            f"${VARIABLE} is not set here: what this command makes carries no link to the "
            "claim form (the daemon's statements and reminders do); run it under "
            "systemd-run -p LoadCredential=NAME:PATH, as the README shows, to include one")


def claim_link_keys(settings: Settings) -> LinkKeys | None:
    """The keys that sign the links to the claim form in statements and claim reminders
    :func:`load_link_keys`, except that a key this process was not given (a
    systemd credential, in an operator's shell) gives none rather than an error: the
    statement then says to claim by e-mail, and the command warns
    (:func:`unavailable_link_key`). Any other problem with the keys is an error."""
    if unavailable_link_key(settings) is not None:
        return None
    return load_link_keys(settings.http)
