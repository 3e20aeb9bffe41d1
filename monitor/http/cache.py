"""Pages that hold a stampede: each public page (``/``, ``/incidents/ID``, the feed, the
badges) and each customer's page is rendered once per change of what it shows and served
from memory until the next change, with its ``ETag`` (``304 Not Modified`` to a client
that has it).

**What a change is** (the page's *version*): the rows it reads
(:func:`monitor.store.versions.pages_version`: highest ids and counts, one indexed
statement), the minute (the page shows times and durations to the minute, and "today"),
and the settings in force (a reload). The rows are read again

* at once after this process wrote to the database (:attr:`monitor.store.Database.writes`:
  the daemon's own probes, incidents and the HTTP API's writes);
* else at most every :data:`RECHECK` seconds (another process's write: the CLI, another
  node of a cluster), by one request while the others wait for it (never 200 queries for
  200 clients).

**Rendering** happens once per key and version, by the first request that needs it;
those arriving meanwhile wait for that one render (single flight). The template renders
with what it reads in a worker thread on its own event loop and database handle
(:func:`off_loop`), so the daemon's event loop (and the probes on it) goes on meanwhile.

**Memory** is bounded: at most :data:`MAX_BYTES` of bodies, the least recently served
dropped first. A key names the page, what it is of (an incident, a customer) and its
language; a customer's page is only ever looked up after its reader was allowed to see
it (:func:`monitor.http.pages.customer_page`), under that customer's key.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import payload, web
from aiohttp.abc import AbstractStreamWriter

from monitor.store import Database

__all__ = [
    "MAX_BYTES",
    "PIECE",
    "RECHECK",
    "CachedPage",
    "PacedBody",
    "PageCache",
    "etag_of",
    "not_modified",
    "off_loop",
]

T = TypeVar("T")

MAX_BYTES = 32 * 2**20  # the rendered bodies kept, at most
RECHECK = 0.5  # seconds: how stale a page may be after another process's write


def etag_of(body: bytes) -> str:
    """A strong ETag of ``body`` (the same body, the same tag, in every process)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: web.Request, etag: str) -> bool:
    """The request's ``If-None-Match`` names ``etag`` (or is ``*``)."""
    wanted = request.headers.get("If-None-Match", "")
    if not wanted:
        return False
    return wanted.strip() == "*" or etag in [
        tag.strip().removeprefix("W/") for tag in wanted.split(",")]


@dataclass(frozen=True)
class CachedPage:
    """A page as rendered once: what every request for it until the next change gets."""

    body: bytes
    content_type: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    etag: str = field(default="")

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", etag_of(self.body))

    def response(self, request: web.Request) -> web.Response:
        """This page, or ``304`` when the client already has it. A body larger than
        :data:`PIECE` is written in pieces (:class:`PacedBody`)."""
        headers = {"ETag": self.etag, **dict(self.headers)}
        if self.status == 200 and not_modified(request, self.etag):
            return web.Response(status=304, headers=headers)
        if len(self.body) > PIECE:
            paced = PacedBody(self.body, content_type=f"{self.content_type}; charset=utf-8")
            return web.Response(body=paced, status=self.status, headers=headers)
        return web.Response(body=self.body, status=self.status, content_type=self.content_type,
                            charset="utf-8", headers=headers)


#: The bytes of a large body written at a time (:class:`PacedBody`).
PIECE = 256 * 2**10


class PacedBody(payload.BytesPayload):
    """A large body written :data:`PIECE` bytes at a time, the event loop free between
    pieces (the probes' starts, other requests). Written whole, the body is copied onto
    the connection in one go: the month's report of 10,000 customers (94 MB) took about
    0.11 s of the loop for each client, and four clients served one report at once held
    it for 0.47 s (``benchmarks/bench_pages.py``, the ticker's p99)."""

    def __init__(self, body: bytes, *, content_type: str) -> None:
        super().__init__(body, content_type=content_type)
        self._pieces_of = memoryview(body)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter,
                                content_length: int | None) -> None:
        view = self._pieces_of[:content_length]
        for start in range(0, len(view), PIECE):
            await writer.write(view[start:start + PIECE])
            await asyncio.sleep(0)  # written or buffered: the loop's turn


@dataclass
class _Version:
    value: object
    writes: int  # the process's database writes when it was read
    read_at: float  # on the monotonic clock


class PageCache:
    """CachedPage pages by key and version (see the module)."""

    def __init__(self, *, max_bytes: int = MAX_BYTES, recheck: float = RECHECK,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.recheck = recheck
        self.monotonic = monotonic
        self.bytes = 0
        self.renders = 0  # pages rendered since start (the tests and the benchmark read it)
        self._pages: OrderedDict[Hashable, tuple[object, CachedPage]] = OrderedDict()
        self._versions: dict[Hashable, _Version] = {}
        self._reading: dict[Hashable, asyncio.Future[object]] = {}
        # Versions are compared, never hashed (they hold the settings in force).
        self._rendering: dict[Hashable, tuple[object, asyncio.Future[CachedPage]]] = {}

    async def version(self, scope: Hashable, writes: int,
                      read: Callable[[], Awaitable[object]]) -> object:
        """``scope``'s version: the one read last while this process has written nothing
        since (``writes``) and it is fresher than :attr:`recheck`; else ``read()`` again,
        once for every request that asks meanwhile."""
        known = self._versions.get(scope)
        if known is not None and known.writes == writes and \
                self.monotonic() - known.read_at < self.recheck:
            return known.value
        pending = self._reading.get(scope)
        if pending is not None:
            return await asyncio.shield(pending)
        began = self.monotonic()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._reading[scope] = future
        try:
            value = await read()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(value)
            self._versions[scope] = _Version(value, writes, began)
            return value
        finally:
            del self._reading[scope]

    async def page(self, key: Hashable, version: object,
                   render: Callable[[], Awaitable[CachedPage]]) -> CachedPage:
        """The page ``key`` at ``version``: from memory, else rendered once (``render``)."""
        found = self._pages.get(key)
        if found is not None and found[0] == version:
            self._pages.move_to_end(key)
            return found[1]
        pending = self._rendering.get(key)
        if pending is not None and pending[0] == version:
            return await asyncio.shield(pending[1])
        future: asyncio.Future[CachedPage] = asyncio.get_running_loop().create_future()
        self._rendering[key] = (version, future)
        try:
            rendered = await render()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        else:
            future.set_result(rendered)
            self.renders += 1
            self._keep(key, version, rendered)
            return rendered
        finally:
            if self._rendering.get(key, (None, None))[1] is future:
                del self._rendering[key]

    def _keep(self, key: Hashable, version: object, rendered: CachedPage) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self.bytes -= len(old[1].body)
        if len(rendered.body) > self.max_bytes:
            return
        self._pages[key] = (version, rendered)
        self.bytes += len(rendered.body)
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._pages.popitem(last=False)
            self.bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._pages)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pages


async def off_loop(db: Database, work: Callable[[Database], Awaitable[T]]) -> T:
    """``work`` in a worker thread, on that thread's own event loop and its own handle on
    ``db`` (:meth:`~monitor.store.Database.sibling`): reading the month and rendering a
    page take the CPU for a while, and the daemon's loop (its probes) must go on."""

    def run() -> T:
        async def inside() -> T:
            own = db.sibling()
            try:
                return await work(own)
            finally:
                await own.dispose()

        return asyncio.run(inside())

    return await asyncio.to_thread(run)
