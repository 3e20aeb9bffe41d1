"""Where a customer's e-mail leads: the incident's page on the status page and the
customer's own page.

* **The customer's page**: a signed link made by the one maker of links
  (:func:`monitor.actions.links.page_link`), valid for ``http.link_lifetime`` from the
  moment the e-mail is queued; it opens that customer's page only (the signature names
  the customer). Without link keys (``http.link_key_file`` / ``http.link_key_env``),
  none: the e-mail then has no link rather than one that cannot open.
* **The incident's page**: ``/incidents/ID`` exists for incidents of public services
  only (the web panel, the mobile API); an incident of a customer's own project or of a
  server is private, and the customer's page shows it instead.

Both start at ``http.public_url`` (else the address the daemon listens on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from monitor.actions.links import LinkKeys, claim_link_keys, page_link, public_base
from monitor.actions.status import PUBLIC_KINDS
from monitor.config import Settings
from monitor.notify.layout import Style

__all__ = ["Leads"]


class Leads:
    """The links of one configuration (built again on reload, with its keys)."""

    def __init__(self, settings: Settings, keys: LinkKeys | None = None) -> None:
        self.settings = settings
        self.keys = claim_link_keys(settings) if keys is None else keys
        self.base = public_base(settings)
        # Asked of the topology per incident, not kept as a set of the public services' ids:
        # at 150,000 mobile APIs that set was 4 MB, held twice (the contract's and the duties').
        self.services = settings.topology.services

    def customer_style(self, style: Style, customer_id: str, now: dt.datetime) -> Style:
        """``style`` for ``customer_id``: its language and, with link keys, its page."""
        style = style.reading(self.settings.reader(customer_id))
        if self.keys is None:
            return style
        link = page_link(self.settings, self.keys, customer_id, now=now)
        return replace(style, page_url=link.url, page_expires=link.expires)

    def incident(self, incident_id: int, service_id: str) -> str | None:
        """The incident's page, when it has one (a public service's incident)."""
        service = self.services.get(service_id)
        if service is None or service.kind not in PUBLIC_KINDS:
            return None
        return f"{self.base}/incidents/{incident_id}"
