"""The status page's subscribers' e-mails: the confirmation of a request
(:class:`SubscriberMailer`, queued by :func:`monitor.actions.subscribe` in its own
transaction) and the notices (:func:`queue_subscriber_notices`).

**Notices** are derived from the records, not from the moment something happened: each
sweep (when an incident opens or ends, and at every duty check, about a minute) looks at
the last ``lookback`` (24 h) of incidents of public services, maintenance windows and the
operators' updates of both, and queues what each confirmed subscriber of the affected
services is owed under a dedupe key per event and subscriber
(``sub_outage:INCIDENT:TOKEN``...). So nothing is lost (a crash or a restart: the next
sweep queues it) and nothing goes twice (the outbox queues a key once, and sends each
row once: :mod:`monitor.notify.outbox`). A subscriber is owed what happens after it
confirmed: an incident still open (or ending) then, an update posted since, a window
that had not ended; and the cancellation of a window it was told of (``maintenance
cancel``: its notice still waiting is withdrawn instead). Each notice carries
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058) with the subscriber's signed
one-click address, and the address of the incident page (or of the window on the status page).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from monitor.actions.links import LinkKeys, load_link_keys, unavailable_link_key
from monitor.actions.status import public_service_ids
from monitor.actions.subscriptions import offered, unsubscribe_link
from monitor.config import Settings
from monitor.notify import templates
from monitor.notify.layout import Rendered, Style
from monitor.notify.outbox import Draft, enqueue
from monitor.notify.sending import Envelope
from monitor.present.language import N_, language
from monitor.store import incidents, maintenance, outbox, subscribers
from monitor.store.subscribers import SubscriberRecord

if TYPE_CHECKING:
    from monitor.clock import Clock
    from monitor.store import Database, Tx

__all__ = ["SubscriberMailer", "queue_subscriber_notices"]

log = logging.getLogger(__name__)

_FAR = dt.timedelta(days=400)
STATUS_WORDS = {"investigating": N_("investigating"), "identified": N_("identified"),
                "monitoring": N_("monitoring"), "resolved": N_("resolved"),
                "in_progress": N_("in progress"), "completed": N_("completed")}


def _base(settings: Settings) -> str:
    return (settings.http.public_url or "http://" + settings.http.listen).rstrip("/")


def _style(settings: Settings, code: str) -> Style:
    provider = settings.provider
    return Style(provider.name, provider.timezone, provider.calendar,
                 language(code if code in ("en", "fa") else provider.language, provider.digits))


class SubscriberMailer:
    """Queues a subscription's confirmation e-mail (:class:`monitor.actions.subscriptions
    .SubscriptionMail`); ``now`` is when it is queued."""

    def __init__(self, settings: Settings, now: dt.datetime) -> None:
        self.settings = settings
        self.now = now
        self.envelope = Envelope.of(settings)

    async def confirmation(self, tx: Tx, subscriber: SubscriberRecord, link: str,
                           expires: dt.datetime) -> None:
        requested = subscriber.requested or ()
        names = [_name(self.settings, s) for s in requested]
        rendered = templates.subscription_confirmation(
            _style(self.settings, subscriber.language), services=names, link=link,
            expires=expires, page=_base(self.settings) + "/")
        key = f"sub_confirm:{subscriber.token}:{subscriber.nonce}"
        await enqueue(tx, [Draft(key, "sub_confirm", (subscriber.email,), rendered)],
                      now=self.now, domain=self.envelope.domain)


def _name(settings: Settings, service_id: str) -> str:
    service = settings.topology.services.get(service_id)
    return (service.name if service is not None else None) or service_id


async def queue_subscriber_notices(
    settings: Settings, db: Database, clock: Clock, *, keys: LinkKeys | None,
    lookback: float = 86400.0,
) -> int:
    """Queue the notices confirmed subscribers are owed (see the module); how many were
    new. Nothing without subscriptions offered (:func:`monitor.actions.subscriptions
    .offered`) or subscribers."""
    if keys is None or not offered(settings, keys):
        return 0
    now = clock.now()
    since = now - dt.timedelta(seconds=lookback)
    public = public_service_ids(settings.topology)
    envelope = Envelope.of(settings)
    async with db.transaction() as tx:
        confirmed = await subscribers.confirmed(tx)
        if not confirmed:
            return 0
        found = [i for i in await incidents.touching(tx, since, now + _FAR, public)]
        posted = await incidents.updates(tx, [i.id for i in found])
        windows = await maintenance.touching(tx, since, now + _FAR)
        window_posts = await maintenance.updates(tx, [w.id for w in windows])
        cancelled = await maintenance.cancelled_since(tx, since, now)
        told = await outbox.queued_keys(tx, [f"sub_maintenance:{w.id}:{s.token}"
                                             for w in cancelled for s in confirmed])
        wanted: list[tuple[str, Callable[[], Draft]]] = []
        for subscriber in confirmed:
            wanted += _owed(settings, keys, subscriber, found, posted, windows, window_posts,
                            since, cancelled, told)
        queued = await outbox.queued_keys(tx, [key for key, _ in wanted])
        drafts = [make() for key, make in wanted if key not in queued]
        added = await enqueue(tx, drafts, now=now, domain=envelope.domain) if drafts else 0
    if added:
        log.info("subscriber notices queued", extra={"queued": added})
    return added


def _owed(
    settings: Settings, keys: LinkKeys, subscriber: SubscriberRecord,
    found: Sequence[incidents.IncidentRecord],
    posted: dict[int, list[incidents.UpdateRecord]],
    windows: Sequence[maintenance.WindowRecord],
    window_posts: dict[int, list[maintenance.MaintenanceUpdateRecord]],
    since: dt.datetime,
    cancelled: Sequence[maintenance.WindowRecord],
    told: set[str],
) -> list[tuple[str, Callable[[], Draft]]]:
    """(dedupe key, how to render it) of each notice ``subscriber`` is owed; the
    cancellation of each window of ``cancelled`` it was told of (its notice among ``told``:
    queued, sent or given up; one still waiting when the window was cancelled was
    withdrawn), in the notice's thread."""
    confirmed_at = subscriber.confirmed_at
    assert confirmed_at is not None
    chosen = set(subscriber.services)
    style = _style(settings, subscriber.language)
    _ = style.language.gettext
    base = _base(settings)
    unsubscribe = unsubscribe_link(settings, keys, subscriber.token)
    names = [_name(settings, s) for s in subscriber.services]
    token = subscriber.token
    owed: list[tuple[str, Callable[[], Draft]]] = []

    def draft(key: str, rendered: Callable[[], Rendered], *, incident_id: int | None = None,
              window_id: int | None = None, follows: str | None = None) -> None:
        def make() -> Draft:
            return Draft(key, key.split(":")[0], (subscriber.email,), rendered(),
                         incident_id=incident_id, window_id=window_id, follows=follows,
                         list_unsubscribe=unsubscribe)
        owed.append((key, make))

    for incident in found:
        if incident.service_id not in chosen:
            continue
        service = _name(settings, incident.service_id)
        link = f"{base}/incidents/{incident.id}"
        opened = f"sub_outage:{incident.id}:{token}"
        if incident.end is None or incident.end > confirmed_at:
            draft(opened, partial(templates.subscriber_outage, style, service=service,
                                  start=incident.start, link=link, services=names,
                                  unsubscribe=unsubscribe), incident_id=incident.id)
        for update in posted.get(incident.id, ()):
            if update.posted_at >= confirmed_at and update.posted_at > since:
                draft(f"sub_update:{update.id}:{token}", partial(
                    templates.subscriber_update, style, about=service,
                    status=_(STATUS_WORDS[update.status]), message=update.message,
                    at=update.posted_at, link=link, services=names, unsubscribe=unsubscribe),
                    incident_id=incident.id, follows=opened)
        if incident.end is not None and incident.end > confirmed_at:
            draft(f"sub_recovery:{incident.id}:{token}", partial(
                templates.subscriber_recovery, style, service=service, start=incident.start,
                end=incident.end, link=link, services=names, unsubscribe=unsubscribe),
                incident_id=incident.id, follows=opened)
    public = set(public_service_ids(settings.topology))
    for window in windows:
        affected = [s for s in window.service_ids if s in chosen]
        if not affected:
            continue
        link = f"{base}/#maintenance-{window.id}"
        shown = [_name(settings, s) for s in affected]
        reason = window.reason if all(s in public for s in window.service_ids) else None
        announced = f"sub_maintenance:{window.id}:{token}"
        if window.end > confirmed_at:
            draft(announced, partial(
                templates.subscriber_maintenance, style, affected=shown, start=window.start,
                end=window.end, reason=reason, link=link, services=names,
                unsubscribe=unsubscribe), window_id=window.id)
        about = _("Maintenance of %(services)s") % {"services": _(", ").join(shown)}
        for step in window_posts.get(window.id, ()):
            if step.posted_at >= confirmed_at and step.posted_at > since:
                draft(f"sub_maintenance_update:{step.id}:{token}", partial(
                    templates.subscriber_update, style, about=about,
                    status=_(STATUS_WORDS[step.status]), message=step.message,
                    at=step.posted_at, link=link, services=names, unsubscribe=unsubscribe),
                    window_id=window.id, follows=announced)
    for window in cancelled:
        announced = f"sub_maintenance:{window.id}:{token}"
        if announced in told:
            draft(f"sub_maintenance_cancelled:{window.id}:{token}", partial(
                templates.subscriber_maintenance_cancelled, style,
                affected=[_name(settings, s) for s in window.service_ids if s in chosen],
                start=window.start, end=window.end, link=base + "/", services=names,
                unsubscribe=unsubscribe), window_id=window.id, follows=announced)
    return owed


def subscription_keys(settings: Settings) -> LinkKeys | None:
    """The link keys that sign subscribers' links, or None (no key, or one this process
    cannot read: then no notices, said once in the log by the caller)."""
    if unavailable_link_key(settings) is not None:
        return None  # a systemd credential, in an operator's shell: the daemon sends them
    try:
        return load_link_keys(settings.http)
    except Exception as exc:  # a key file gone: the notices wait, the daemon goes on
        log.warning("subscriber notices need the link key", extra={"error": str(exc)[:300]})
        return None
