"""The daemon's HTTP server (aiohttp): /metrics, /healthz, /readyz; the API and pages build on it."""

from monitor.http.server import make_app

__all__ = ["make_app"]
