"""The HTTP edge: the status page, customer pages, the JSON API, metrics and health
(:mod:`monitor.http.server`), a thin layer over the actions (:mod:`monitor.actions`)."""

from monitor.http.context import Web
from monitor.http.server import Readiness, make_app

__all__ = ["Readiness", "Web", "make_app"]
