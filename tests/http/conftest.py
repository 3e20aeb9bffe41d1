from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.store import Database
from tests.http.site import Site, serve


@pytest.fixture
async def site(db: Database, tmp_path: Path) -> AsyncIterator[Site]:
    """The HTTP application on a real port, over the test's database (both backends)."""
    async with serve(db, tmp_path) as running:
        yield running
