"""Fixtures for the probe tests: a shared ``ProbeSessions`` and a local target server.

Every test talks to real servers on 127.0.0.1 (port 0), stopped in teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from monitor.probes import ProbeSessions
from monitor.testing.targets import TargetServer


@pytest.fixture
async def sessions() -> AsyncIterator[ProbeSessions]:
    async with ProbeSessions(max_concurrency=50) as shared:
        yield shared


@pytest.fixture
async def server() -> AsyncIterator[TargetServer]:
    async with TargetServer() as target:
        yield target
