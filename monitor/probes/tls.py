"""The certificate check: when does the target's certificate expire, and would it verify?

It runs at its own, slower cadence (``tls.cert_check_interval``) next to the
HTTP probe of an ``https://`` target, or the TCP probe of one with ``tls``. It first connects as a normal client would (chain, host name, the
system trust store plus ``tls.ca_file``); if that handshake is refused for the
certificate, it connects again with verification off, so that it still reads
``not_after`` of an expired, self-signed or wrong-host certificate and can say
how many days are left (negative: expired). A valid certificate costs one
handshake. ``connect`` and ``tls`` time the TCP connect and the handshake apart
(``start_tls`` after a plain connect).

>>> result = await CertificateCheck("panel", http_probe_config, sessions).check()  # doctest: +SKIP
>>> result.days_left, result.verify_ok, result.verify_error                          # doctest: +SKIP
(-1.2, False, 'certificate has expired')
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

from monitor.config.schema import HTTPProbe, TCPProbe
from monitor.errors import ConnectTimeout, FailureClass, ProbeError, ProbeTimeout, TLSError
from monitor.probes.base import classify_exception, shorten
from monitor.probes.sessions import Phases, ProbeSessions
from monitor.probes.starttls import Dialogue, smtp_starttls

_DAY = 86400.0


def certificate_not_after(der: bytes) -> dt.datetime | None:
    """``notAfter`` of a DER certificate as an aware UTC datetime; None if unparsable.

    ``cryptography`` is imported here, at the first certificate, not with the module: a
    probe worker whose shard has no ``https://`` target never needs it (about 8 MB of
    its memory, measured).
    """
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None


async def connect_first(addresses: Iterable[tuple[int, str, int]],
                        starttls: bool = False) -> asyncio.Transport:
    """A TCP connection to the first of ``addresses`` (family, host, port: the resolver's
    order, as a client tries them) that takes one; the last error when none does. With
    ``starttls``, its protocol reads the dialogue before a handshake
    (:class:`~monitor.probes.starttls.Dialogue`)."""
    loop = asyncio.get_running_loop()
    last_error: OSError | None = None
    for family, host, port in addresses:
        try:
            transport, _ = await loop.create_connection(
                Dialogue if starttls else asyncio.Protocol, host, port, family=family)
        except OSError as error:
            last_error = error
            continue
        return transport
    assert last_error is not None  # a resolver never answers with no address
    raise last_error


async def shake_hands(transport: asyncio.Transport, context: ssl.SSLContext, host: str,
                      where: str) -> bytes | None:
    """TLS over the connected ``transport`` (after SMTP's STARTTLS when its protocol is a
    :class:`~monitor.probes.starttls.Dialogue`), ``host`` sent (SNI) and verified as
    ``context`` says; the peer's certificate (DER). The connection is aborted after, also on
    an error: no close_notify exchange, a hostile peer must not keep us waiting for it."""
    try:
        protocol = transport.get_protocol()
        if isinstance(protocol, Dialogue):
            await smtp_starttls(protocol, where)
        secured = await asyncio.get_running_loop().start_tls(
            transport, protocol, context, server_hostname=host)
        if secured is None:
            return None
        ssl_object = secured.get_extra_info("ssl_object")
        secured.abort()
        return None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
    finally:
        transport.abort()


@dataclass(frozen=True, slots=True)
class CertificateResult:
    """What the certificate check found. ``failure_class`` is set only when no certificate
    could be read at all (DNS, refused, timeout, a handshake that fails even unverified)."""

    target_id: str
    at: dt.datetime
    """aware UTC time the check started"""
    not_after: dt.datetime | None
    days_left: float | None
    """days from ``at`` to ``not_after``; negative once expired"""
    verify_ok: bool | None
    """would a normal client accept it? None when no handshake completed, or when the
    probe's ``tls.verify`` is false (not to be judged)"""
    verify_error: str | None
    """why not, in OpenSSL's words (``certificate has expired``, ``Hostname mismatch…``)"""
    expiring: bool
    """expired, or expires within ``tls.cert_expiry_warning``"""
    failure_class: FailureClass | None = None
    detail: str = ""
    connect: float | None = None
    """seconds of the last TCP connect (including name resolution)"""
    tls: float | None = None
    """seconds of the last TLS handshake"""


class CertificateCheck:
    """Reads the certificate of an ``https://`` target, or of a TCP probe's with ``tls``."""

    def __init__(self, target_id: str, config: HTTPProbe | TCPProbe,
                 sessions: ProbeSessions) -> None:
        if isinstance(config, TCPProbe):
            if config.tls is None:
                raise ValueError(f"{target_id}: certificate check needs a TCP probe with tls")
            host, port, tls = config.host, config.port, config.tls
            starttls = config.starttls is not None
        else:
            url = URL(config.url)
            if url.scheme != "https" or url.host is None:
                raise ValueError(f"{target_id}: certificate check needs an https:// URL, "
                                 f"got {url}")
            host, port, tls = url.host, url.port or 443, config.tls
            starttls = False
        self.target_id = target_id
        self._semaphore = sessions.semaphore
        self._clock = sessions.clock
        self._resolve_with = sessions.resolve
        self._host = host
        self._port = port
        self._where = f"{self._host}:{self._port}"
        self._starttls = starttls  # the SMTP dialogue before each handshake
        self._timeout = config.timeout
        self.warning_seconds = tls.cert_expiry_warning
        """``tls.cert_expiry_warning``: a certificate expiring within it is ``expiring``"""
        self._warning = dt.timedelta(seconds=tls.cert_expiry_warning)
        # tls.verify: false says the certificate is not to be judged: it is read unverified,
        # for its expiry only, and verify_ok stays None (no sla_monitor_certificate_valid).
        self._verifying = (sessions.verifying_context(tls, owner=target_id)
                           if tls.verify else None)
        self._not_verifying = sessions.not_verifying_context()

    async def check(self) -> CertificateResult:
        async with self._semaphore:
            at = self._clock.now()
            verify_ok: bool | None = None
            verify_error: str | None = None
            der: bytes | None = None
            handshake: float | None = None
            phases = Phases()
            deadline = asyncio.timeout(self._timeout)
            try:
                async with deadline:
                    try:
                        if self._verifying is None:
                            der, handshake = await self._handshake(self._not_verifying, phases)
                        else:
                            der, handshake = await self._handshake(self._verifying, phases)
                            verify_ok = True
                    except ssl.SSLCertVerificationError as refused:
                        verify_ok = False
                        verify_error = refused.verify_message or str(refused)
                        der, handshake = await self._handshake(self._not_verifying, phases)
            except TimeoutError as error:
                if deadline.expired():
                    limit = f"within the {self._timeout:g} s timeout"
                    if phases.unfinished() == "connect":
                        failure: ProbeError = ConnectTimeout(
                            f"TCP connect to {self._where} not finished {limit}"
                        )
                        return self._failed(at, failure, verify_ok, verify_error)
                    failure = ProbeTimeout(f"TLS handshake with {self._where} not finished {limit}")
                    return self._failed(at, failure, verify_ok, verify_error, phases.connect())
                return self._failed(
                    at, classify_exception(error, self._where), verify_ok, verify_error
                )
            except Exception as error:  # any target behaviour becomes evidence, never a crash
                return self._failed(
                    at, classify_exception(error, self._where), verify_ok, verify_error
                )
            not_after = certificate_not_after(der) if der is not None else None
            if not_after is None:
                failure = TLSError(f"{self._where} sent no readable certificate")
                return self._failed(
                    at, failure, verify_ok, verify_error, phases.connect(), handshake
                )
            return CertificateResult(
                target_id=self.target_id,
                at=at,
                not_after=not_after,
                days_left=(not_after - at).total_seconds() / _DAY,
                verify_ok=verify_ok,
                verify_error=verify_error,
                expiring=not_after - at <= self._warning,
                connect=phases.connect(),
                tls=handshake,
            )

    def _failed(
        self,
        at: dt.datetime,
        failure: ProbeError,
        verify_ok: bool | None,
        verify_error: str | None,
        connect: float | None = None,
        handshake: float | None = None,
    ) -> CertificateResult:
        return CertificateResult(
            target_id=self.target_id,
            at=at,
            not_after=None,
            days_left=None,
            verify_ok=verify_ok,
            verify_error=verify_error,
            expiring=False,
            failure_class=failure.failure_class,
            detail=shorten(str(failure)),
            connect=connect,
            tls=handshake,
        )

    async def _handshake(
        self, context: ssl.SSLContext, phases: Phases
    ) -> tuple[bytes | None, float]:
        """Connect, then TLS (timed apart, stamped in ``phases``); returns the peer's DER
        certificate and the handshake time."""
        phases.connect_start = time.monotonic()
        phases.connect_end = None
        transport = await connect_first(await self._resolve_with(self._host, self._port),
                                        self._starttls)
        phases.connect_end = connected = time.monotonic()
        der = await shake_hands(transport, context, self._host, self._where)
        return der, time.monotonic() - connected
