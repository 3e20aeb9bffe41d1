"""Fixtures of the fault tests: a private PostgreSQL server, stopped and removed in teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import PrivatePostgres, private_postgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server
