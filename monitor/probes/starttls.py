"""STARTTLS: the plain dialogue a port that upgrades to TLS asks before the handshake (a TCP
probe's ``starttls``, and its certificate check).

SMTP (RFC 3207): the server's greeting ``220``, ``EHLO``, its ``250`` reply naming the
``STARTTLS`` extension, ``STARTTLS`` and its ``220``; then the TLS handshake on the same
connection. Every reply is bounded (:data:`REPLY_LIMIT` bytes; a line at most 8 KiB): a
server that talks without end fails the check, it never fills the memory. What the server
answered otherwise is the failure's detail (``SMTP greeting 421 ...``, ``no STARTTLS
among ...``), the server's own words shortened to one line.
"""

from __future__ import annotations

import asyncio

from monitor.errors import ProbeError, TLSError

__all__ = ["REPLY_LIMIT", "Dialogue", "smtp_starttls"]

#: The most bytes of the server's replies read before the handshake.
REPLY_LIMIT = 64 * 1024
_LINE_LIMIT = 8 * 1024
#: The name a probe greets an SMTP server with (EHLO).
EHLO_NAME = "sla-monitor.invalid"


class Dialogue(asyncio.Protocol):
    """A connection's protocol that reads the server's reply lines, for a dialogue before
    ``loop.start_tls`` takes the connection over."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._read = 0
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream's

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._read += len(data)
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lost = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def line(self, where: str) -> str:
        """The next line the server sent (without its CRLF), decoded leniently."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return raw.rstrip(b"\r").decode("utf-8", "replace")
            if len(self._buffer) > _LINE_LIMIT or self._read > REPLY_LIMIT:
                raise ProbeError(f"{where} sent more than {REPLY_LIMIT // 1024} KiB before "
                                 "the TLS handshake")
            if self._closed:
                raise ProbeError(f"{where} closed the connection before the TLS handshake")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    async def reply(self, where: str) -> tuple[int, list[str]]:
        """An SMTP reply: its code and its lines' texts (``250-A``, ``250 B``: A and B)."""
        texts = []
        while True:
            line = await self.line(where)
            code = line[:3]
            if len(line) < 3 or not code.isascii() or not code.isdigit() or (
                    len(line) > 3 and line[3] not in " -"):
                raise ProbeError(f"{where} answered no SMTP reply: {line[:80]!r}")
            texts.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(code), texts

    def send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(text.encode("ascii") + b"\r\n")


async def smtp_starttls(dialogue: Dialogue, where: str) -> None:
    """The SMTP dialogue up to the TLS handshake: greeting, EHLO, STARTTLS (RFC 3207)."""
    code, texts = await dialogue.reply(where)
    if code != 220:
        raise ProbeError(f"SMTP greeting of {where}: {code} {' '.join(texts)}")
    dialogue.send(f"EHLO {EHLO_NAME}")
    code, texts = await dialogue.reply(where)
    if code != 250:
        raise ProbeError(f"SMTP EHLO to {where}: {code} {' '.join(texts)}")
    if not any(text.split()[:1] == ["STARTTLS"] for text in (t.upper() for t in texts[1:])):
        raise TLSError(f"{where} offers no STARTTLS (its extensions: "
                       f"{', '.join(t.split()[0] for t in texts[1:] if t.split()) or 'none'})")
    dialogue.send("STARTTLS")
    code, texts = await dialogue.reply(where)
    if code != 220:
        raise TLSError(f"SMTP STARTTLS to {where}: {code} {' '.join(texts)}")
