"""The status page's subscribers: e-mail notices of incidents and maintenance of the
public services one chose, with double opt-in and a one-click unsubscribe.

* **Subscribe** (:func:`subscribe`, the page's form): a valid address and one or more
  public services. Nothing is subscribed yet: the row holds the request and a
  confirmation e-mail is queued in the same transaction (the outbox sends it), with a
  signed link valid for ``status_page.confirm_within`` (48 h). Asking again replaces the
  request, and the earlier links stop working (each request has its own ``nonce``).
* **Confirm** (:func:`confirm_subscription`): the link's signature (HMAC under the link
  keys, :mod:`monitor.actions.links`, purpose ``subscribe``), its expiry, and that it is
  the address's latest request. Then the requested services are the subscription.
* **Unsubscribe** (:func:`unsubscribe`): every notice carries a signed link that never
  expires (purpose ``unsubscribe``); a POST to it (RFC 8058 one-click: a mail client's
  button, or the page's) deletes the row. Following it (GET) only shows a button, so a
  mail scanner that opens links unsubscribes nobody.
* **Limits** (:class:`RateLimits`): at most ``status_page.subscribe_per_address``
  requests per address and ``subscribe_per_client`` per client address in each
  ``subscribe_period``; more raise :class:`RateLimited` (the edge answers 429 with
  ``Retry-After``). Junk is refused before anything is counted or stored.

The links need a link key (``http.link_key_file`` or ``http.link_key_env``): without
one, with ``status_page.subscriptions: false``, or without a public service to choose,
the page offers no form
(:func:`offered`). The notices themselves are the e-mail duties'
(:mod:`monitor.notify.subscribers`).

*Decision:* an address is kept lower-cased (the domain is case-insensitive, and almost
no mail system treats the local part otherwise), ASCII only (an internationalised
address is refused with a clear message rather than half-supported).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlencode

from monitor.actions.links import LinkKeys
from monitor.actions.status import public_service_ids
from monitor.config import Settings
from monitor.errors import InputError
from monitor.store import audit, subscribers
from monitor.store.subscribers import SubscriberRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "ADDRESS_PATTERN",
    "LinkRefused",
    "RateLimited",
    "RateLimits",
    "SubscriberRecord",
    "SubscriberView",
    "Subscription",
    "SubscriptionMail",
    "SubscriptionRequested",
    "check_link",
    "confirm_subscription",
    "forget_expired_requests",
    "list_subscribers",
    "normal_address",
    "offered",
    "remove_subscriber",
    "subscribe",
    "unsubscribe",
    "unsubscribe_link",
]

_LOCAL_TEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL_TEXT = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TOP_TEXT = r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}"
_LOCAL, _LABEL, _TOP = (re.compile(text) for text in (_LOCAL_TEXT, _LABEL_TEXT, _TOP_TEXT))
#: :func:`normal_address`'s addresses as one regular expression (ECMA 262 and Python alike:
#: the domain in either case, as that lower-cases it), but for the lengths (the whole at
#: most 254, the local part at most 64 characters), which it checks apart: the API's
#: document says it.
ADDRESS_PATTERN = "^{}@(?:{}\\.)+(?:{})\\.?$".format(
    _LOCAL_TEXT, *(text.replace("a-z", "A-Za-z").replace("xn--", "[Xx][Nn]--")
                   # the top-level label is a label too: an A-label ends in a letter or digit
                   for text in (_LABEL_TEXT, r"[a-z]{2,63}|xn--[a-z0-9-]{0,58}[a-z0-9]")))
_TOKEN = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[0-9a-f]{16}")
ADDRESS_HELP = "an e-mail address like name@example.com"


def normal_address(text: str) -> str:
    """``text`` as an address to store (trimmed, lower-cased), or an InputError naming
    ``email``: one ``@``, a dot-atom local part of at most 64 characters, a domain of
    DNS labels with a top-level one, 254 characters in all.

    >>> normal_address(" Ops@Example.COM ")
    'ops@example.com'
    >>> normal_address("a@b")
    Traceback (most recent call last):
    ...
    monitor.errors.InputError: email: 'a@b' is not valid; allowed: an e-mail address like name@example.com
    """
    address = text.strip()
    local, at, domain = address.rpartition("@")
    domain = domain.lower().rstrip(".") if at else ""
    labels = domain.split(".")
    if (not at or len(address) > 254 or len(local) > 64 or _LOCAL.fullmatch(local) is None
            or len(labels) < 2 or len(domain) > 253
            or any(_LABEL.fullmatch(label) is None for label in labels)
            or _TOP.fullmatch(labels[-1]) is None):
        raise InputError("email", text[:300], ADDRESS_HELP)
    return f"{local}@{domain}".lower()


def offered(settings: Settings, keys: LinkKeys | None) -> bool:
    """Whether the status page offers subscriptions: enabled, a key signs the links, and
    there is a public service to choose (a page of hosted projects alone has none)."""
    return (settings.status_page.subscriptions and keys is not None
            and bool(public_service_ids(settings.topology)))


class RateLimited(Exception):
    """Too many subscription requests from one address or client; ``retry_after`` seconds
    until the next is accepted."""

    def __init__(self, scope: Literal["email", "client"], retry_after: int) -> None:
        super().__init__(f"too many subscription requests for this {scope}; "
                         f"try again in {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after


class RateLimits:
    """Requests per key in a sliding period, in this process's memory (a restart forgets
    them: they only hold a flood back). Keys that fell out of the period are dropped, so
    memory stays proportional to the requests of one period."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._swept = 0.0

    def take(self, wanted: Sequence[tuple[Literal["email", "client"], str, int]],
             period: float) -> None:
        """One request under each ``(scope, key, limit)``, or :class:`RateLimited` (and
        none counted) when any key has had ``limit`` in the last ``period`` seconds."""
        now = self._clock()  # type: ignore[operator]
        if now - self._swept > period:
            self._sweep(now - period)
            self._swept = now
        for scope, key, limit in wanted:
            hits = self._hits.get(f"{scope}:{key}")
            if hits is None:
                continue
            while hits and hits[0] <= now - period:
                hits.popleft()
            if len(hits) >= limit:
                raise RateLimited(scope, max(1, int(hits[0] + period - now + 0.999)))
        for scope, key, _limit in wanted:
            self._hits.setdefault(f"{scope}:{key}", deque()).append(now)

    def _sweep(self, oldest: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= oldest]:
            del self._hits[key]


class SubscriptionMail(Protocol):
    async def confirmation(self, tx: Tx, subscriber: SubscriberRecord, link: str,
                           expires: dt.datetime) -> None:
        """Queue the confirmation e-mail of ``subscriber``'s request (its link)."""


@dataclass(frozen=True)
class SubscriptionRequested:
    email: str
    services: tuple[str, ...]
    expires: dt.datetime  # when the confirmation link stops working
    # The query of the page that says so (``/subscriptions/requested``), signed for that
    # purpose only: the form's answer redirects there, so that reloading it asks nothing
    # again (:func:`requested_subscription`).
    receipt: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    email: str
    services: tuple[str, ...]


class LinkRefused(Exception):
    """A confirmation or unsubscribe link that does not work: ``invalid`` (forged,
    altered, or replaced by a newer request) or ``expired`` (at ``expired_at``)."""

    def __init__(self, reason: Literal["invalid", "expired"],
                 expired_at: dt.datetime | None = None) -> None:
        super().__init__(f"the link is {reason}")
        self.reason = reason
        self.expired_at = expired_at


def _base(settings: Settings) -> str:
    return (settings.http.public_url or "http://" + settings.http.listen).rstrip("/")


def unsubscribe_link(settings: Settings, keys: LinkKeys, token: str) -> str:
    """The one-click unsubscribe address of the subscriber of ``token`` (never expires)."""
    query = {"token": token, **keys.signed_query("unsubscribe", token, None)}
    return f"{_base(settings)}/subscriptions/unsubscribe?{urlencode(query)}"


def _services(settings: Settings, services: Sequence[str]) -> tuple[str, ...]:
    public = public_service_ids(settings.topology)
    chosen = tuple(dict.fromkeys(s.strip() for s in services if s.strip()))
    unknown = [s for s in chosen if s not in public]
    if not chosen or unknown:
        raise InputError("services", ",".join(unknown or services)[:300],
                         "one or more of the status page's services: " + ", ".join(public))
    return chosen


async def subscribe(
    db: Database,
    settings: Settings,
    *,
    keys: LinkKeys | None,
    email: str,
    services: Sequence[str],
    language: str,
    client: str,
    limits: RateLimits,
    mail: SubscriptionMail,
    now: dt.datetime,
) -> SubscriptionRequested:
    """A request for notices of ``services`` to ``email``: stored unconfirmed, and its
    confirmation e-mail queued in the same transaction. Junk is an InputError (nothing
    stored, nothing counted); too many requests :class:`RateLimited`."""
    if keys is None or not offered(settings, keys):
        raise InputError("email", email[:300], "nothing: this status page offers no "
                         "subscriptions (status_page.subscriptions, and a link key)")
    address = normal_address(email)
    chosen = _services(settings, services)
    page = settings.status_page
    limits.take([("email", address, page.subscribe_per_address),
                 ("client", client, page.subscribe_per_client)], page.subscribe_period)
    expires = (now + dt.timedelta(seconds=page.confirm_within)).replace(microsecond=0)
    nonce = secrets.token_hex(8)
    async with db.transaction() as tx:
        found = await subscribers.request(
            tx, email=address, token=secrets.token_hex(16), language=language,
            services=chosen, nonce=nonce, at=now)
        subject = f"{found.token}.{nonce}"
        query = {"token": subject, **keys.signed_query("subscribe", subject, expires)}
        link = f"{_base(settings)}/subscriptions/confirm?{urlencode(query)}"
        await mail.confirmation(tx, found, link, expires)
    return SubscriptionRequested(address, chosen, expires, {
        "token": subject, **keys.signed_query("requested", subject, expires)})


async def requested_subscription(
    db: Database, *, keys: LinkKeys | None, token: str, expires: str, key: str, sig: str,
    now: dt.datetime,
) -> SubscriptionRequested:
    """The request a :attr:`SubscriptionRequested.receipt` names, as its page shows it (the
    address, the services, until when the confirmation link works): read only, so that
    reloading the page asks for nothing again. :class:`LinkRefused` for a receipt that is
    forged, altered, expired (with its confirmation link) or of an address unsubscribed
    since."""
    row_token, _ = _request_of(keys, "requested", token, expires, key, sig, now)
    async with db.reading() as tx:
        found = await subscribers.by_token(tx, row_token)
    if found is None:
        raise LinkRefused("invalid")
    return SubscriptionRequested(found.email, found.requested or found.services,
                                 dt.datetime.fromtimestamp(int(expires), dt.UTC))


def _checked(keys: LinkKeys | None, purpose: str, subject: str, expires: str | None,
             key: str, sig: str, now: dt.datetime) -> None:
    if keys is None:
        raise LinkRefused("invalid")
    checked = keys.check_signed(purpose, subject, expires, key, sig, now)
    if checked.result == "expired":
        raise LinkRefused("expired", checked.expires)
    if checked.result != "valid":
        raise LinkRefused("invalid")


def _request_of(keys: LinkKeys | None, purpose: str, token: str, expires: str, key: str,
                sig: str, now: dt.datetime) -> tuple[str, str]:
    """The subscriber's token and its request's nonce that a link of a request names
    (``TOKEN.NONCE``, signed for ``purpose``); :class:`LinkRefused` for any other."""
    _checked(keys, purpose, token, expires, key, sig, now)
    row_token, _, nonce = token.partition(".")
    if _TOKEN.fullmatch(row_token) is None or _NONCE.fullmatch(nonce) is None:
        raise LinkRefused("invalid")
    return row_token, nonce


def check_link(keys: LinkKeys | None, *, purpose: Literal["subscribe", "unsubscribe"],
               token: str, expires: str, key: str, sig: str, now: dt.datetime) -> None:
    """A confirmation (``subscribe``) or unsubscribe link as it is opened, before its page
    offers a button: :class:`LinkRefused` when it is forged, altered, cut or expired, as
    pressing the button would say. Reads and writes nothing (a mail scanner opens links)."""
    _checked(keys, purpose, token, expires if purpose == "subscribe" else None, key, sig,
             now)


async def confirm_subscription(
    db: Database,
    *,
    keys: LinkKeys | None,
    token: str,
    expires: str,
    key: str,
    sig: str,
    now: dt.datetime,
) -> Subscription:
    """Follow a confirmation link: the request becomes the subscription. A link of the
    request already confirmed confirms nothing more and says so (the same answer); any
    other is :class:`LinkRefused`."""
    row_token, nonce = _request_of(keys, "subscribe", token, expires, key, sig, now)
    async with db.transaction() as tx:
        found = await subscribers.by_token(tx, row_token)
        if found is None or found.nonce != nonce:
            raise LinkRefused("invalid")
        if found.requested is None:  # this request's link, confirmed before
            return Subscription(found.email, found.services)
        await subscribers.confirm(tx, found.id, language=found.language, at=now)
    return Subscription(found.email, found.requested)


async def unsubscribe(
    db: Database, *, keys: LinkKeys | None, token: str, key: str, sig: str
) -> Subscription | None:
    """The one-click unsubscribe: the row is deleted. None when it was already gone (a
    second click); :class:`LinkRefused` for a link that is not one of ours."""
    _checked(keys, "unsubscribe", token, None, key, sig, dt.datetime.now(dt.UTC))
    if _TOKEN.fullmatch(token) is None:
        raise LinkRefused("invalid")
    async with db.transaction() as tx:
        found = await subscribers.by_token(tx, token)
        if found is None:
            return None
        await subscribers.remove(tx, found.id)
    return Subscription(found.email, found.services)


async def forget_expired_requests(db: Database, settings: Settings, *,
                                  now: dt.datetime) -> int:
    """Forget requests whose confirmation link has expired (``status_page.confirm_within``):
    an address that never confirmed is deleted, as double opt-in keeps only what was
    confirmed; a subscriber's unconfirmed newer request is dropped. How many addresses
    were deleted (the daemon's duty check runs it)."""
    before = now - dt.timedelta(seconds=settings.status_page.confirm_within)
    async with db.transaction() as tx:
        return await subscribers.forget_requests(tx, requested_before=before)


@dataclass(frozen=True)
class SubscriberView:
    """A subscriber as operators see it: never its token (with a link key it would make
    the subscriber's unsubscribe link)."""

    id: int
    email: str
    language: str
    services: tuple[str, ...]  # confirmed
    requested: tuple[str, ...] | None  # waiting for confirmation
    requested_at: dt.datetime
    confirmed_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def of(cls, record: SubscriberRecord) -> SubscriberView:
        return cls(record.id, record.email, record.language, record.services,
                   record.requested, record.requested_at, record.confirmed_at,
                   record.created_at)


async def list_subscribers(db: Database) -> list[SubscriberView]:
    """Every subscriber, confirmed or waiting for confirmation, by id (operators)."""
    async with db.reading() as tx:
        return [SubscriberView.of(s) for s in await subscribers.listed(tx)]


async def remove_subscriber(
    db: Database, *, email: str, actor: str, now: dt.datetime
) -> SubscriberView:
    """An operator removes an address (a complaint, a bounce); audited without the
    address itself (only its row id)."""
    address = normal_address(email)
    async with db.transaction() as tx:
        found = await subscribers.by_email(tx, address)
        if found is None:
            raise InputError("email", email[:300], "the address of a subscriber (see: "
                             "subscriber list)")
        await subscribers.remove(tx, found.id)
        await audit.record(tx, at=now, actor=actor, action="subscriber.remove",
                           object_type="subscriber", object_id=found.id,
                           detail={"services": list(found.services)})
    return SubscriberView.of(found)
