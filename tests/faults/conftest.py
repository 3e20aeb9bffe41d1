"""Fixtures of the fault tests: a private PostgreSQL server, stopped and removed in teardown."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import PrivatePostgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    # Not under tmp_path: pytest's base directory is private to root, and the server runs
    # as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="sla-monitor-faults-pg-"))
    base.chmod(0o755)
    server = PrivatePostgres(base / "pg")
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.started:
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
