"""A local DNS server (UDP, 127.0.0.1, a port the kernel picks) whose answers a test switches.

The daemon's resolver can be pointed at it (``monitor.resolver.nameservers``), so
that a test breaks the monitor's *own* resolver for real, without root and
without touching ``/etc/resolv.conf`` (R-M2):

>>> async with DNSServer({"shop.test": "127.0.0.1"}) as dns:      # doctest: +SKIP
...     dns.nameserver                   # '127.0.0.1:40123', for monitor.resolver.nameservers
...     dns.set_mode("servfail")         # every query now answers SERVFAIL
...     dns.set_mode("silent")           # ... or is dropped: lookups time out
...     dns.set_mode("answer")           # names resolve again

In ``answer`` mode a known name gets its A record (an AAAA query an empty
answer), an unknown one NXDOMAIN. ``queries`` counts the names asked. It
speaks just enough of RFC 1035 for a stub resolver's A/AAAA questions.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections import Counter
from types import TracebackType
from typing import Literal, cast

__all__ = ["DNSMode", "DNSServer"]

DNSMode = Literal["answer", "servfail", "silent"]

_A, _AAAA, _IN = 1, 28, 1
_NOERROR, _SERVFAIL, _NXDOMAIN = 0, 2, 3


def _question(packet: bytes) -> tuple[str, int, int] | None:
    """(name, qtype, end of the question) of a query, or None if it is not one we read."""
    if len(packet) < 12 or struct.unpack("!H", packet[4:6])[0] != 1:
        return None
    labels: list[str] = []
    at = 12
    while at < len(packet):
        length = packet[at]
        if length == 0:
            at += 1
            break
        if length > 63:  # no compression in a question we accept
            return None
        labels.append(packet[at + 1 : at + 1 + length].decode("ascii", "replace").lower())
        at += 1 + length
    if at + 4 > len(packet):
        return None
    qtype, _ = struct.unpack("!HH", packet[at : at + 4])
    return ".".join(labels), qtype, at + 4


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DNSServer:
    """Answers A/AAAA queries for ``names`` (name -> IPv4 address) on 127.0.0.1."""

    def __init__(self, names: dict[str, str] | None = None, ttl: int = 0) -> None:
        self.names = {name.lower().rstrip("."): address for name, address in (names or {}).items()}
        self.ttl = ttl
        self.mode: DNSMode = "answer"
        self.queries: Counter[str] = Counter()
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> DNSServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def port(self) -> int:
        assert self._transport is not None, "use DNSServer in an async with block"
        return int(self._transport.get_extra_info("sockname")[1])

    @property
    def nameserver(self) -> str:
        """``127.0.0.1:PORT``, as ``monitor.resolver.nameservers`` takes it."""
        return f"127.0.0.1:{self.port}"

    def set_mode(self, mode: DNSMode) -> None:
        self.mode = mode

    def answer(self, query: bytes) -> bytes | None:
        """The reply to one datagram (None: no reply at all)."""
        question = _question(query)
        if question is None:
            return None
        name, qtype, end = question
        self.queries[name] += 1
        if self.mode == "silent":
            return None
        address = self.names.get(name)
        if self.mode == "servfail":
            rcode, records = _SERVFAIL, b""
        elif address is None:
            rcode, records = _NXDOMAIN, b""
        elif qtype == _A:
            # The name as a pointer to the question (offset 12), type A, class IN, TTL, 4 bytes.
            records = struct.pack("!HHHIH", 0xC00C, _A, _IN, self.ttl, 4)
            records += ipaddress.IPv4Address(address).packed
            rcode = _NOERROR
        else:
            rcode, records = _NOERROR, b""
        ident, flags = struct.unpack("!HH", query[:4])
        # QR (a response), the query's opcode and RD, RA (recursion available), the rcode.
        flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
        header = struct.pack("!HHHHHH", ident, flags, 1, 1 if records else 0, 0, 0)
        return header + query[12:end] + records
