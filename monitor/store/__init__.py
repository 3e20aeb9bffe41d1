"""Storage: SQLAlchemy models, engines and migrations. Everything else reads and writes here."""

from monitor.store.db import create_engine, default_url, resolve_url, session_factory

__all__ = ["create_engine", "default_url", "resolve_url", "session_factory"]
