"""The daemon's HTTP server (aiohttp): /metrics, /healthz, /readyz; the API and pages build on it."""

from monitor.http.server import Readiness, make_app

__all__ = ["Readiness", "make_app"]
