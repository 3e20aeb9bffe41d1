"""A local DNS server (127.0.0.1, UDP and TCP on one port the kernel picks) whose answers a
test switches: the nameserver a DNS probe asks (:mod:`monitor.probes.dns`), or the
daemon's own resolver (``monitor.resolver.nameservers``), so that a test breaks the
monitor's *own* resolver for real, without root and without touching
``/etc/resolv.conf`` (R-M2):

>>> async with DNSServer({"shop.test": "127.0.0.1"}) as dns:      # doctest: +SKIP
...     dns.nameserver                   # '127.0.0.1:40123', for monitor.resolver.nameservers
...     dns.set_mode("servfail")         # every query now answers SERVFAIL
...     dns.set_mode("silent")           # ... or is dropped: lookups time out
...     dns.set_mode("answer")           # names resolve again

It answers as an authoritative server: a known name gets its records of the type asked
for (a CNAME on the way followed within the answer), or none (NOERROR, an empty answer);
an unknown name NXDOMAIN. A name's records are an IPv4 address (its A record) or a list
of ``(type, text)`` as a zone file writes them: ``[("MX", "10 mail.shop.test.")]``.
Modes besides ``answer``: ``servfail`` and ``refused`` (that error code), ``silent`` (no
answer), ``truncate`` (UDP answers cut, with TC set: asked again over TCP), ``garbage``
(bytes that are no DNS message). ``queries`` counts the names asked, ``transports``
the questions by ``udp`` and ``tcp``. The messages are dnspython's.
"""

from __future__ import annotations

import asyncio
import struct
from collections import Counter
from collections.abc import Mapping
from types import TracebackType
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DNSMode", "DNSServer"]

DNSMode = Literal["answer", "servfail", "refused", "silent", "truncate", "garbage"]

Records = Mapping[str, str | list[tuple[str, str]]]

_RCODES = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class DNSServer:
    """Answers for ``names`` (name -> its records) on 127.0.0.1, UDP and TCP."""

    def __init__(self, names: Records | None = None, ttl: int = 0) -> None:
        self.names: dict[str, list[tuple[str, str]]] = {
            _key(name): [("A", records)] if isinstance(records, str) else list(records)
            for name, records in (names or {}).items()}
        self.ttl = ttl
        self.mode: DNSMode = "answer"
        self.queries: Counter[str] = Counter()
        self.transports: Counter[str] = Counter()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._closing = asyncio.Event()

    async def __aenter__(self) -> DNSServer:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # the UDP port the kernel picked may be taken for TCP
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._stream, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self._udp = transport
            return self
        raise OSError("no port free for both UDP and TCP on 127.0.0.1")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing.set()  # a silent TCP answer ends
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    @property
    def port(self) -> int:
        assert self._udp is not None, "use DNSServer in an async with block"
        return int(self._udp.get_extra_info("sockname")[1])

    @property
    def nameserver(self) -> str:
        """``127.0.0.1:PORT``, as ``monitor.resolver.nameservers`` takes it."""
        return f"127.0.0.1:{self.port}"

    def set_mode(self, mode: DNSMode) -> None:
        self.mode = mode

    def answer(self, query: bytes, transport: str = "udp") -> bytes | None:
        """The reply to one question (None: no reply at all)."""
        try:
            message = dns.message.from_wire(query)
        except dns.exception.DNSException:
            return None
        if not message.question:
            return None
        name, wanted = message.question[0].name, message.question[0].rdtype
        self.queries[_key(name.to_text())] += 1
        self.transports[transport] += 1
        if self.mode == "silent":
            return None
        if self.mode == "garbage":
            return b"\x00\x01not a DNS message"
        response = dns.message.make_response(message)
        response.flags |= dns.flags.AA | dns.flags.RA
        if self.mode in _RCODES:
            response.set_rcode(_RCODES[self.mode])
        elif self.mode == "truncate" and transport == "udp":
            response.flags |= dns.flags.TC
        elif _key(name.to_text()) not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            self._records(response, name, wanted)
        return response.to_wire()

    def _records(self, response: dns.message.Message, name: dns.name.Name,
                 wanted: dns.rdatatype.RdataType) -> None:
        for _ in range(8):  # a CNAME chain, followed within the answer
            held = self.names.get(_key(name.to_text()), [])
            texts = [text for kind, text in held if dns.rdatatype.from_text(kind) == wanted]
            if texts:
                response.answer.append(self._rrset(name, wanted, texts))
                return
            aliases = [text for kind, text in held if kind == "CNAME"]
            if not aliases:
                return
            response.answer.append(self._rrset(name, dns.rdatatype.CNAME, aliases[:1]))
            name = dns.name.from_text(aliases[0])

    def _rrset(self, name: dns.name.Name, kind: dns.rdatatype.RdataType,
               texts: list[str]) -> dns.rrset.RRset:
        return dns.rrset.from_rdata_list(name, self.ttl, [
            dns.rdata.from_text(dns.rdataclass.IN, kind, text) for text in texts])

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self.answer(await reader.readexactly(length), "tcp")
            if reply is None:
                await self._closing.wait()
            else:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        reply = self.server.answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
