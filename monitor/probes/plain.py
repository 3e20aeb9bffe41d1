"""The lean path of a plain HTTP/1.1 check: ``http://``, ``GET`` or ``HEAD``, no body check.

Most targets are exactly that, and for them aiohttp's request machinery (a request and a
response object, a stream writer, a response handler, a payload reader, the connector's
bookkeeping) was the largest cost left in a probe worker after the connect itself
(``benchmarks/HISTORY.md``, the profile of the probe path). Here the event loop connects a
small :class:`asyncio.Protocol` to the one address, writes the request in one call, and
reads the status line and headers with a bounded buffer; the body is never read and the
connection is closed at once, as the full client does without a body check.

Only a clean, ordinary answer is judged here. Anything else returns None and the caller
hands the check to the full client (:class:`monitor.probes.http.HTTPCheck` with aiohttp)
within the same deadline, so that every unusual case is judged and worded exactly as
before (SPEC section 8):

* a host name with more than one address (aiohttp's happy eyeballs), or one that does
  not resolve (aiohttp's wording of the DNS failure);
* a status line that is not ``HTTP/1.x NNN reason``, a 1xx answer, headers over
  :data:`HEAD_LIMIT` bytes, a connection closed in the middle of the headers;

A redirect to follow (``follow_redirects`` and a 301/302/303/307/308 with a Location) is
returned like any answer: the caller continues from the Location with the full client and
one redirect fewer (:func:`redirect_target`), so each hop is requested once, as before.

A connection refused, reset or unreachable is classified here by the same table as the
full client's (:func:`monitor.probes.base.classify_exception`, named ``host:port``), and
the phases are stamped as the full client's connector stamps them (:class:`Phases`).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Mapping

from aiohttp.client_reqrep import ClientRequest
from yarl import URL

from monitor.errors import ProbeError
from monitor.probes.base import classify_exception, shorten
from monitor.probes.sessions import Phases, ProbeSessions

# Bytes of status line and headers read at most, and of one line; more goes to the full
# client (whose bound is 8,190 bytes a line: it then says so).
HEAD_LIMIT = 16 * 1024
LINE_LIMIT = 8190

# The statuses aiohttp follows when redirects are allowed.
REDIRECTS = frozenset({301, 302, 303, 307, 308})

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: ([^\r\n]*))?")
# Headers this path never lets a configuration set (it writes them itself or they change
# how the answer is framed): with one of them the full client is used.
_OWN_HEADERS = frozenset({"host", "connection", "content-length", "transfer-encoding"})
# The full client's own defaults (aiohttp's), so that both paths send the same request: its
# Accept-Encoding names br only where a brotli decoder is installed.
_DEFAULT_HEADERS = tuple(ClientRequest.DEFAULT_HEADERS.items())


class Head:
    """The answer's status line and the one header a verdict quotes."""

    __slots__ = ("location", "reason", "status")

    def __init__(self, status: int, reason: str, location: str | None) -> None:
        self.status = status
        self.reason = reason
        self.location = location

    @property
    def redirects(self) -> bool:
        """A redirect the full client would follow (status and Location: see
        :func:`redirect_target`, which says where to)."""
        return self.status in REDIRECTS and self.location is not None


def plain_request(
    url: URL, method: str, headers: Mapping[str, str] | None, user_agent: str
) -> bytes | None:
    """The request's bytes, built once per target; None when the lean path does not apply
    (another scheme or method, or a header it does not write)."""
    if url.scheme != "http" or method not in ("GET", "HEAD") or url.raw_host is None:
        return None
    if url.raw_user is not None or url.raw_password is not None:
        return None  # the full client sends the URL's credentials as an Authorization header
    given = dict(headers or {})
    names = {name.lower() for name in given}
    if names & _OWN_HEADERS:
        return None
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
    if "user-agent" not in names:
        lines.append(f"User-Agent: {user_agent}")
    lines += [f"{name}: {value}" for name, value in given.items()]
    lines += [f"{name}: {value}" for name, value in _DEFAULT_HEADERS if name.lower() not in names]
    lines.append("Connection: close")
    text = "\r\n".join(lines) + "\r\n\r\n"
    if any(c in "\r\n" for line in lines for c in line):
        return None  # a header that would split the request: the full client refuses it
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


class _HeadReader(asyncio.Protocol):
    """Collects bytes until the end of the headers, at most :data:`HEAD_LIMIT`."""

    __slots__ = ("buffer", "done", "reset")

    def __init__(self, done: asyncio.Future[int]) -> None:
        self.done = done
        self.buffer = bytearray()
        self.reset = False  # the connection ended with an error (not a clean close)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        start = max(len(self.buffer) - 3, 0)
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n", start)
        if 0 <= end <= HEAD_LIMIT:
            self.done.set_result(end)
        elif end > HEAD_LIMIT or len(self.buffer) > HEAD_LIMIT:
            self.done.set_result(-1)

    def eof_received(self) -> bool:
        if not self.done.done():
            self.done.set_result(-1)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.reset = exc is not None
            self.done.set_result(-1)


def _parse(buffer: bytearray, end: int) -> Head | None:
    lines = bytes(buffer[:end]).split(b"\r\n")
    if any(len(line) > LINE_LIMIT for line in lines):
        return None
    matched = _STATUS_LINE.fullmatch(lines[0])
    if matched is None:
        return None
    status = int(matched.group(1))
    if status < 200:
        return None
    location = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            return None  # not a header line: the full client says what is wrong with it
        if name.lower() == b"location":
            location = value.strip().decode("latin-1")
    reason = (matched.group(2) or b"").decode("latin-1")
    return Head(status, reason, location)


async def plain_check(
    sessions: ProbeSessions,
    host: str | None,
    port: int,
    request: bytes,
    phases: Phases,
    where: str,
) -> tuple[Head, float] | None:
    """Send ``request`` to ``host`` and ``port`` (the URL's ``raw_host``, its port or 80) on a
    new connection and read the answer's head: the head and the monotonic time it arrived,
    or None for the full client (see the module).

    Raises the :class:`ProbeError` of a connection that failed. The caller's deadline
    interrupts any step; ``phases`` says which one.
    """
    assert host is not None
    loop = asyncio.get_running_loop()
    phases.connect_start = time.monotonic()
    phases.dns_start = phases.dns_end = phases.connect_end = None
    address = host
    family: int = socket.AF_UNSPEC
    if not _is_ip(host):
        try:
            infos = await sessions.resolver.resolve(host, port, socket.AF_UNSPEC)
        except OSError:
            return None  # the full client words the DNS failure
        found = {(int(info["family"]), str(info["host"])) for info in infos}
        if len(found) != 1:
            return None
        ((family, address),) = found
    done: asyncio.Future[int] = loop.create_future()
    reader = _HeadReader(done)
    try:
        transport, _ = await loop.create_connection(
            lambda: reader, host=address, port=port, family=family
        )
    except OSError as error:
        raise classify_exception(error, f"{host}:{port}") from None
    try:
        phases.connect_end = time.monotonic()
        transport.write(request)
        end = await done
        arrived = time.monotonic()
    finally:
        transport.close()
    if end < 0:
        if not reader.buffer and not reader.reset:
            # aiohttp's ServerDisconnectedError, worded as the full client words it.
            raise ProbeError(shorten(f"{where} closed the connection without a complete answer"))
        return None
    head = _parse(reader.buffer, end)
    if head is None:
        return None
    return head, arrived


def redirect_target(url: URL, head: Head) -> URL | None:
    """Where a followed redirect leads, as aiohttp resolves it (the Location requoted and
    joined to the URL); None when the full client would not follow it from there (no
    Location, or not an http(s) URL: it words that case itself, from the start)."""
    if head.status not in REDIRECTS or head.location is None:
        return None
    try:
        target = URL(head.location, encoded=False)
    except ValueError:
        return None
    if target.scheme not in ("http", "https", ""):
        return None
    return target if target.is_absolute() else url.join(target)


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True
