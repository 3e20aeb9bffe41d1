"""A push target's job (README "Push targets"), as tests and the demo play it: it calls
``url`` with its token every ``every`` seconds while it runs; :meth:`PushJob.stop` and
:meth:`PushJob.start` make it stop calling and call again. Every answer's status is kept."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import aiohttp

__all__ = ["PushJob"]


class PushJob:
    def __init__(self, url: str, token: str, every: float) -> None:
        self.url = url
        self.token = token
        self.every = every
        self.answers: list[int] = []
        self._calling = asyncio.Event()
        self._calling.set()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def stop(self) -> None:
        """No call from now on (one under way ends)."""
        self._calling.clear()

    def start(self) -> None:
        self._calling.set()

    async def __aenter__(self) -> PushJob:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(self._session))
        return self

    async def _run(self, http: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            await self._calling.wait()
            async with http.post(self.url, headers=headers) as answer:
                await answer.read()
                self.answers.append(answer.status)
            await asyncio.sleep(self.every)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
