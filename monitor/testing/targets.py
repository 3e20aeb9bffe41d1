"""Local target servers, well-behaved and hostile, for tests, the demo and benchmarks.

Everything listens on 127.0.0.1 on a port the kernel picks, and is gone when
the ``async with`` block ends.

>>> async with TargetServer() as server:                    # doctest: +SKIP
...     server.url("/")                   # 'http://127.0.0.1:41234/'
...     server.set_status(503)            # "/" and "/json" now answer 503
...     server.set_delay(2.0)             # ... two seconds late
...     await server.set_down()           # connections refused
...     await server.set_up()             # the same port again

``TargetServer(tls="valid")`` serves HTTPS with a certificate from a fresh
trustme CA (``server.ca_file`` is that CA, for ``tls.ca_file``); ``"expired"``,
``"wrong_host"`` and ``"self_signed"`` serve the broken kinds.

Paths (every method):

* ``/``: the switchable main answer (status, body, content type, delay);
* ``/json``: ``{"status": "ok", "checks": [{"name": "db", "ok": true}], "version": 3}``
  with the switchable status;
* ``/redirect/N``: N redirects, then ``/``;
* ``/hostile/endless``: a chunked body that never ends;
* ``/hostile/drip``: one byte every ``drip_interval`` (0.5 s), forever;
* ``/hostile/redirect-loop``: redirects to itself;
* ``/hostile/huge``: ``Content-Length`` 2 GiB, streamed lazily as it is read;
* ``/hostile/wrong-type``: an HTML page where JSON is expected;
* ``/hostile/not-json``: ``application/json`` that does not parse;
* ``/hostile/deep-json``: JSON nested 100,000 levels deep;
* ``/hostile/gzip-bomb``: 64 MiB of zeros, gzip-compressed to about 64 KiB;
* ``/hostile/slow-first-byte``: headers only after ``first_byte_delay`` (30 s).

``bytes_sent`` counts body bytes the streaming paths wrote (to show a probe
stopped reading); ``requests`` counts requests per path; ``last_method`` and
``last_headers`` describe the latest request; ``max_in_flight`` is the most
requests ``/`` served at once. :class:`ThreadedTarget` answers from a thread of
its own, while a test holds its event loop up (the monitor's own stall). :class:`BlackholePort`
is a port where connects hang; :func:`unused_port` one where they are refused;
``UNRESOLVABLE_HOST`` a name that never resolves (RFC 6761 ``.invalid``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import ssl
import tempfile
import threading
import time
import zlib
from collections import Counter
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from aiohttp import web

if TYPE_CHECKING:
    import trustme

TLSMode = Literal["valid", "expired", "wrong_host", "self_signed"]

GiB = 1 << 30
HUGE_LENGTH = 2 * GiB
GZIP_BOMB_SIZE = 64 << 20
UNRESOLVABLE_HOST = "sla-monitor-test.invalid"
JSON_DOCUMENT = {"status": "ok", "checks": [{"name": "db", "ok": True}], "version": 3}

_CHUNK = b"x" * 65536
_DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
_gzip_bomb: bytes | None = None

__all__ = [
    "GZIP_BOMB_SIZE",
    "HUGE_LENGTH",
    "JSON_DOCUMENT",
    "UNRESOLVABLE_HOST",
    "BlackholePort",
    "TLSMode",
    "TargetServer",
    "ThreadedTarget",
    "unused_port",
]


def _gzip_bomb_body() -> bytes:
    """64 MiB of zeros as a ~64 KiB gzip body, compressed piecewise to keep memory low."""
    global _gzip_bomb
    if _gzip_bomb is None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
        zeros = bytes(1 << 20)
        parts = [compressor.compress(zeros) for _ in range(GZIP_BOMB_SIZE >> 20)]
        _gzip_bomb = b"".join(parts) + compressor.flush()
    return _gzip_bomb


class TargetServer:
    """An HTTP(S) target on 127.0.0.1 (or ``host``, another local address) whose behaviour
    a test switches at runtime."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        tls: TLSMode | None = None,
        ca: trustme.CA | None = None,
        drip_interval: float = 0.5,
        first_byte_delay: float = 30.0,
    ) -> None:
        self.host = host
        self.tls = tls
        self.drip_interval = drip_interval
        self.first_byte_delay = first_byte_delay
        self.status = 200
        self.body = b"ok: sla-monitor test target"
        self.content_type = "text/plain"
        self.delay = 0.0
        self.requests: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.last_method: str | None = None
        self.last_headers: dict[str, str] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        # ``/t/NAME`` targets (many on one server): a status per name, and a
        # per-vantage firewall: NAME -> header values that are refused (503).
        self.statuses: dict[str, int] = {}
        self.last_request: dict[str, float] = {}  # path -> when last asked (monotonic)
        self.refused: dict[str, set[str]] = {}
        self.refuse_header = "X-Vantage"
        self.ca_file: str | None = None
        self.cert_not_after: dt.datetime | None = None
        self._ca = ca
        self._port = 0
        self._ssl: ssl.SSLContext | None = None
        self._tempdir: Path | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- life cycle ---------------------------------------------------------------------

    async def __aenter__(self) -> TargetServer:
        if self.tls is not None:
            self._ssl = self._server_context(self.tls)
        runner = web.AppRunner(
            self._application(),
            access_log=None,
            # A probe that hangs up must end the endless handlers, not leave them running.
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await runner.setup()
        self._runner = runner
        try:
            await self.set_up()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    async def set_down(self) -> None:
        """Close the listener: new connections are refused (open ones finish)."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def set_up(self) -> None:
        """Listen again, on the same port as before."""
        if self._runner is None:
            raise RuntimeError("TargetServer is not running; use 'async with TargetServer()'")
        if self._site is None:
            site = web.TCPSite(self._runner, self.host, self._port, ssl_context=self._ssl)
            await site.start()
            self._site = site
            if self._port == 0:
                self._port = int(self._runner.addresses[0][1])

    @property
    def is_up(self) -> bool:
        return self._site is not None

    # -- what a test switches -----------------------------------------------------------

    def set_status(self, status: int, body: str | None = None) -> None:
        """``/`` and ``/json`` answer ``status`` from now on (``/`` with ``body`` if given)."""
        self.status = status
        if body is not None:
            self.body = body.encode()

    def set_body(self, body: str | bytes, content_type: str = "text/plain") -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type

    def set_delay(self, seconds: float) -> None:
        """``/`` and ``/json`` answer only after this long (a slow target)."""
        self.delay = seconds

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("TargetServer is not running; use 'async with TargetServer()'")
        return self._port

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The URL of ``path``; ``host="localhost"`` makes a client resolve a name."""
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    # -- TLS ----------------------------------------------------------------------------

    def _server_context(self, mode: TLSMode) -> ssl.SSLContext:
        # Imported here: trustme is a test dependency, and the demo serves plain HTTP.
        import trustme
        from cryptography import x509

        ca = self._ca if self._ca is not None else trustme.CA()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if mode == "valid":
            cert = ca.issue_cert("127.0.0.1", "localhost", not_after=now + dt.timedelta(days=90))
        elif mode == "expired":
            cert = ca.issue_cert(
                "127.0.0.1",
                "localhost",
                not_before=now - dt.timedelta(days=90),
                not_after=now - dt.timedelta(days=2),
            )
        elif mode == "wrong_host":
            cert = ca.issue_cert("wrong-host.example.org", not_after=now + dt.timedelta(days=90))
        else:  # self_signed: a certificate that signed itself, from no CA the client trusts
            own = trustme.CA()
            cert = trustme.LeafCert(own.private_key_pem.bytes(), own.cert_pem.bytes(), [])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
        self.cert_not_after = leaf.not_valid_after_utc
        self._tempdir = Path(tempfile.mkdtemp(prefix="sla-monitor-target-"))
        ca_path = self._tempdir / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_file = str(ca_path)
        return context

    # -- handlers -----------------------------------------------------------------------

    def _application(self) -> web.Application:
        app = web.Application()
        routes = [
            ("/", self._main),
            ("/json", self._json),
            ("/redirect/{count:\\d+}", self._redirect),
            ("/hostile/endless", self._endless),
            ("/hostile/drip", self._drip),
            ("/hostile/redirect-loop", self._redirect_loop),
            ("/hostile/huge", self._huge),
            ("/hostile/wrong-type", self._wrong_type),
            ("/hostile/not-json", self._not_json),
            ("/hostile/deep-json", self._deep_json),
            ("/hostile/gzip-bomb", self._gzip_bomb),
            ("/hostile/slow-first-byte", self._slow_first_byte),
            ("/t/{name}", self._named),
        ]
        for path, handler in routes:
            app.router.add_route("*", path, handler)
        return app

    def _count(self, request: web.Request) -> None:
        self.requests[request.path] += 1
        self.last_method = request.method
        self.last_headers = dict(request.headers)
        self.last_request[request.path] = time.monotonic()

    async def _main(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return web.Response(status=self.status, body=self.body, content_type=self.content_type)

    async def _named(self, request: web.Request) -> web.StreamResponse:
        """One of many targets on this server: ``statuses[name]`` (default 200), or 503 for
        a request whose ``refuse_header`` is in ``refused[name]`` (a firewall that drops
        one vantage's traffic)."""
        self._count(request)
        name = request.match_info["name"]
        if request.headers.get(self.refuse_header) in self.refused.get(name, ()):
            return web.Response(status=503, text="refused for this vantage")
        return web.Response(status=self.statuses.get(name, 200), body=self.body,
                            content_type=self.content_type)

    async def _json(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(JSON_DOCUMENT, status=self.status)

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        count = int(request.match_info["count"])
        location = "/" if count <= 1 else f"/redirect/{count - 1}"
        raise web.HTTPFound(location)

    async def _redirect_loop(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        raise web.HTTPFound(request.path)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await self._stream(response, request.path, None)
        return response

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = HUGE_LENGTH
        await response.prepare(request)
        await self._stream(response, request.path, HUGE_LENGTH)
        return response

    async def _stream(self, response: web.StreamResponse, path: str, total: int | None) -> None:
        """Write lazily: ``write`` waits while the client does not read, so nothing piles up."""
        sent = 0
        try:
            while total is None or sent < total:
                chunk = _CHUNK if total is None else _CHUNK[: total - sent]
                await response.write(chunk)
                sent += len(chunk)
                self.bytes_sent[path] += len(chunk)
        except ConnectionError:
            return  # the client hung up: that is the point

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while True:
                await response.write(b" ")
                self.bytes_sent[request.path] += 1
                await asyncio.sleep(self.drip_interval)
        except ConnectionError:
            return response

    async def _wrong_type(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        return web.Response(text="<html><body>status: ok</body></html>", content_type="text/html")

    async def _not_json(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        return web.Response(text='{"status": "ok",', content_type="application/json")

    async def _deep_json(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        return web.Response(body=_DEEP_JSON, content_type="application/json")

    async def _gzip_bomb(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        body = _gzip_bomb_body()
        self.bytes_sent[request.path] += len(body)
        return web.Response(
            body=body, content_type="text/plain", headers={"Content-Encoding": "gzip"}
        )

    async def _slow_first_byte(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        await asyncio.sleep(self.first_byte_delay)
        return web.Response(text="finally")


class BlackholePort:
    """A listening port whose accept queue is full, so a TCP connect hangs until the
    client's deadline (``connect_timeout``), as behind a dropping firewall."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self.host = "127.0.0.1"
        self.port = 0

    def __enter__(self) -> BlackholePort:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(0)  # Linux then queues one connection and drops further SYNs
        self._listener = listener
        self.port = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            try:
                filler.connect((self.host, self.port))
            except TimeoutError:
                filler.close()
                break  # the queue is full
            self._fillers.append(filler)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def __aenter__(self) -> BlackholePort:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


class ThreadedTarget:
    """An HTTP/1.1 target on 127.0.0.1 served by a thread of its own: it answers every
    request at once with ``status`` (settable), whatever the test's event loop is doing, so
    a test can hold that loop up as a starved monitor process is held up. ``status`` None:
    it accepts connections and never answers (a target that times out). ``body``: what it
    answers with (``ok``), all at once."""

    def __init__(self, status: int | None = 200, body: bytes = b"ok") -> None:
        self.status = status
        self.body = body
        self.host = "127.0.0.1"
        self.port = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._held: list[socket.socket] = []

    def __enter__(self) -> ThreadedTarget:
        self._listener = socket.create_server((self.host, 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(self._listener,),
                                        name="threaded-target", daemon=True)
        self._thread.start()
        return self

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            status = self.status
            if status is None:
                self._held.append(connection)
                continue
            with connection:
                try:
                    connection.recv(65536)
                    connection.sendall(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                                       f"Content-Length: {len(self.body)}\r\n"
                                       "Connection: close\r\n\r\n".encode() + self.body)
                except OSError:
                    pass  # the client went away

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._listener is not None:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for connection in self._held:
            connection.close()
        self._held.clear()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just released by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
