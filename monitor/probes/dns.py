"""The DNS probe: one question to one nameserver; up when it answers without an error code,
with at least one record of the type asked for, holding each ``expected`` value.

The nameserver is asked directly at its IP address (never found through a resolver, so
its failure is never this monitor's resolver's: R-M2 reads many ``dns`` failures at once
as its own blindness; a nameserver's are ``dns_answer``, ``timeout`` or
``connect_refused``). Each question has a fresh random id and source port; over UDP, a
truncated answer is asked again over TCP, as a resolver would. A CNAME on the way to the
type asked for is followed within the answer (the nameserver's own chain), not asked
again. Only ``total`` is timed: the whole question and answer.

The messages are dnspython's (``dns.message``, ``dns.asyncquery``): the wire format, the
id and question checks of an answer, and its records' text as ``dig`` prints it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype

from monitor.config.schema import DNSProbe
from monitor.errors import ConditionFailed, ConnectRefused, DNSAnswerError, ProbeError, ProbeTimeout
from monitor.probes.base import ProbeResult, checked, classify_exception, noticed_late, shorten
from monitor.probes.sessions import ProbeSessions, SlotCheck

__all__ = ["DNSCheck", "record_values"]


def record_values(rdata: dns.rdata.Rdata) -> set[str]:
    """The texts an ``expected`` value matches one record by: as ``dig +short`` prints it,
    a name without its final dot and in lower case; an address in its canonical form; an
    MX also by its host alone; a TXT record's strings joined, unquoted."""
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return {str(ipaddress.ip_address(rdata.address))}  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.TXT:
        return {b"".join(rdata.strings).decode("utf-8", "replace")}  # type: ignore[attr-defined]
    values = {expected_form(rdata.to_text())}
    if rdata.rdtype == dns.rdatatype.MX:
        values.add(expected_form(rdata.exchange.to_text()))  # type: ignore[attr-defined]
    return values


def expected_form(text: str, record: str | None = None) -> str:
    """``text`` as :func:`record_values` writes a record of type ``record`` (None: not an
    address, not TXT): names without the final dot, in lower case, one space apart."""
    if record in ("A", "AAAA"):
        return str(ipaddress.ip_address(text))
    if record == "TXT":
        return text
    return " ".join(word.rstrip(".") if word != "." else word
                    for word in text.lower().split())


class DNSCheck(SlotCheck):
    """Asks one nameserver for one name's records of one type."""

    __slots__ = ("_expected", "_name", "_port", "_rdtype", "_record", "_server", "_tcp",
                 "_where")

    def __init__(self, target_id: str, config: DNSProbe, sessions: ProbeSessions) -> None:
        super().__init__(target_id, config.timeout, sessions)
        self._server = config.server
        self._port = config.port
        self._name = dns.name.from_text(config.name)
        self._record = config.record
        self._rdtype = dns.rdatatype.from_text(config.record)
        self._tcp = config.transport == "tcp"
        self._expected = tuple((value, expected_form(value, config.record))
                               for value in config.expected)
        host = f"[{config.server}]" if ":" in config.server else config.server
        self._where = f"{host}:{config.port}"

    async def check(self) -> ProbeResult:
        async with self._semaphore:
            at = self._clock.now()
            started = time.monotonic()
            deadline = asyncio.timeout(self._timeout)
            failure: ProbeError | None = None
            late: float | None = None  # the deadline noticed late: this monitor stalled
            try:
                async with deadline:
                    answer = await self._ask()
                failure = self._judge(answer)
            except TimeoutError as error:
                if deadline.expired():
                    failure = ProbeTimeout(f"no answer from the nameserver {self._where} "
                                           f"within the {self._timeout:g} s timeout")
                    late = noticed_late(deadline, self._timeout, self._stalls, started)
                else:
                    failure = classify_exception(error, self._where)
            except ConnectionRefusedError:
                failure = ConnectRefused(f"the nameserver {self._where} refused: nothing "
                                         "listens on its port")
            except dns.exception.DNSException as error:
                failure = DNSAnswerError(shorten(
                    f"the answer of the nameserver {self._where} could not be read: "
                    f"{error}"))
            except Exception as error:  # any target behaviour becomes evidence, never a crash
                failure = classify_exception(error, self._where)
            return checked(self.target_id, at, started, failure, late)

    async def _ask(self) -> dns.message.Message:
        question = dns.message.make_query(self._name, self._rdtype)
        if self._tcp:
            return await dns.asyncquery.tcp(question, self._server, port=self._port)
        answer, _ = await dns.asyncquery.udp_with_fallback(question, self._server,
                                                           port=self._port)
        return answer

    def _judge(self, answer: dns.message.Message) -> ProbeError | None:
        asked = f"{self._name.to_text(omit_final_dot=True)} {self._record}"
        rcode = answer.rcode()
        if rcode != dns.rcode.NOERROR:
            return DNSAnswerError(shorten(f"the nameserver {self._where} answered "
                                          f"{dns.rcode.to_text(rcode)} for {asked}"))
        if not isinstance(answer, dns.message.QueryMessage):  # another opcode's message
            return DNSAnswerError(shorten(f"the nameserver {self._where} answered a "
                                          f"{type(answer).__name__} for {asked}"))
        records = answer.resolve_chaining().answer
        if not records:
            return DNSAnswerError(shorten(f"the nameserver {self._where} has no record "
                                          f"for {asked}"))
        if not self._expected:
            return None
        values: set[str] = set()
        for rdata in records:
            values |= record_values(rdata)
        missing = [value for value, form in self._expected if form not in values]
        if not missing:
            return None
        found = ", ".join(sorted(rdata.to_text() for rdata in records))
        return ConditionFailed(shorten(f"{asked} from {self._where}: expected "
                                       f"{', '.join(missing)}; answered {found}"))
