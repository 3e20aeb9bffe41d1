"""A real local SMTP server for tests and the demo, with faults you can switch on at runtime.

It is an aiosmtpd ``Controller`` (its own thread and event loop) listening on
127.0.0.1, on a free port by default, and recording every message it accepts::

    async with SMTPSink() as sink:                       # or SMTPSink(tls=True, auth=("u", "p"))
        smtp = SMTP(host=sink.host, port=sink.port, tls="none", sender="sla@example.com")
        ...
        await sink.wait_for(3)                           # three messages received
        sink.messages[0].rcpt_tos, sink.messages[0].parsed()["Subject"]

Faults: :meth:`go_down` / :meth:`come_up` (stop listening and drop open
sessions; listen again on the same port), :meth:`fail_next` (4xx for the next
N messages), :attr:`reject_all` (5xx for every message), :meth:`refuse_recipient`
(550 for one address), :attr:`delay` (a slow server, once it has the message),
:attr:`rcpt_delay` (slow before it has it), :attr:`close_after_accept` (the session closed
by the server right after each message it accepted). ``tls=True`` offers STARTTLS with a throw-away
``trustme`` certificate and requires it; ``implicit_tls=True`` speaks TLS from
the first byte; ``auth=(user, password)`` requires AUTH. Clients trust the
certificate through :meth:`client_tls_context` (a probe's ``tls.ca_file``:
:meth:`write_ca`). :meth:`save` writes what was
received as ``.eml`` files.

aiosmtpd is a runtime dependency (``sla-monitor demo`` runs this sink);
trustme, a test dependency, is imported only for a TLS sink.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

if TYPE_CHECKING:
    import trustme

__all__ = ["ReceivedMessage", "SMTPSink"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: the envelope, the raw bytes, and when the sink took it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    received_at: dt.datetime
    tls: bool
    authenticated_as: str | None

    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


class _Handler:
    """aiosmtpd handler; runs in the sink's thread, so shared state goes through a lock."""

    def __init__(self, sink: SMTPSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.sink.rcpt_delay:
            await asyncio.sleep(self.sink.rcpt_delay)
        refusal = self.sink._refused.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        transport = server.transport
        if id(session) in self.sink._spent_sessions and isinstance(transport, asyncio.Transport):
            # The session was closed after its message: the next command finds it gone.
            transport.abort()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        if sink.delay:
            await asyncio.sleep(sink.delay)
        with sink._lock:
            if sink.reject_all is not None:
                return f"{sink.reject_all} 5.7.1 Message rejected by the test sink"
            if sink._transient_left > 0:
                sink._transient_left -= 1
                return f"{sink._transient_code} 4.3.0 Try again later (test sink)"
            content = envelope.original_content or b""
            if sink.close_after_accept:
                sink._spent_sessions.add(id(session))
            sink._messages.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    content=content,
                    received_at=dt.datetime.now(dt.UTC),
                    tls=_uses_tls(server),
                    authenticated_as=session.auth_data if session.authenticated else None,
                )
            )
        return "250 Message accepted for delivery"


def _uses_tls(server: SMTPServer) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("sslcontext") is not None


class _Controller(Controller):
    """A Controller that can bind port 0 and stop/start listening without stopping its loop."""

    def __init__(self, sink: SMTPSink, **kwargs: Any) -> None:
        super().__init__(_Handler(sink), **kwargs)
        self.sessions: list[SMTPServer] = []

    def _create_server(self) -> Any:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def factory(self) -> SMTPServer:
        session = SMTPServer(self.handler, **self.SMTP_kwargs)
        self.sessions.append(session)
        return session

    async def _go_down(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for session in self.sessions:
            if isinstance(session.transport, asyncio.Transport):
                session.transport.abort()
        self.sessions.clear()

    async def _come_up(self) -> None:
        self.server = await self._bind()


class SMTPSink:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.reject_all: int | None = None  # e.g. 554: every message refused permanently
        self.delay = 0.0  # seconds before answering DATA: a slow server
        self.rcpt_delay = 0.0  # seconds before answering RCPT: slow before it has the message
        self.close_after_accept = False  # True: each session is closed once a message is in
        self._spent_sessions: set[int] = set()
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._refused: dict[str, str] = {}
        self._transient_left = 0
        self._transient_code = 451
        self._ca: trustme.CA | None = None
        if tls or implicit_tls:
            # Imported here: trustme is a test dependency; the demo's sink is plain SMTP.
            import trustme

            self._ca = trustme.CA()
        self._controller: _Controller | None = None

    # --- life ------------------------------------------------------------------------------

    async def __aenter__(self) -> SMTPSink:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self._requested_port,
            "server_hostname": "sink.localhost",  # never a DNS lookup for our own name
            "ready_timeout": 10.0,
        }
        if self._ca is not None:
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ca.issue_cert(self.host, "localhost").configure_cert(server_context)
            if self.implicit_tls:
                kwargs["ssl_context"] = server_context
            else:
                kwargs.update(tls_context=server_context, require_starttls=True)
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                # aiosmtpd only knows STARTTLS sessions as TLS; implicit TLS is TLS throughout.
                auth_require_tls=self.tls,
            )
        self._controller = _Controller(self, **kwargs)
        await asyncio.to_thread(self._controller.start)

    async def stop(self) -> None:
        if self._controller is not None:
            await asyncio.to_thread(self._controller.stop)
            self._controller = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "the sink is not running"
        return int(self._controller.port)

    # --- what was received -----------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def save(self, directory: Path) -> list[Path]:
        """Write every message received so far as ``001.eml``, ``002.eml``... in ``directory``
        (created if needed), exactly the bytes the sink accepted; returns the paths in order."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, message in enumerate(self.messages, start=1):
            path = directory / f"{number:03d}.eml"
            path.write_bytes(message.content)
            paths.append(path)
        return paths

    async def wait_for(self, count: int, within: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages arrived; TimeoutError after ``within`` s."""
        deadline = time.monotonic() + within
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages after {within} s")
            await asyncio.sleep(0.01)
        return self.messages

    # --- faults ----------------------------------------------------------------------------

    async def go_down(self) -> None:
        """Stop listening (connections are refused) and drop every open session."""
        await self._in_sink_loop(self._require()._go_down())

    async def come_up(self) -> None:
        """Listen again, on the same port."""
        await self._in_sink_loop(self._require()._come_up())

    def fail_next(self, count: int, code: int = 451) -> None:
        """Answer the next ``count`` messages with a 4xx reply (temporary failure)."""
        with self._lock:
            self._transient_left = count
            self._transient_code = code

    def refuse_recipient(self, address: str, code: int = 550) -> None:
        """Refuse one recipient at RCPT TO (the others still get the message)."""
        with self._lock:
            self._refused[address.lower()] = (
                f"{code} 5.1.1 <{address}>: Recipient refused (test sink)"
            )

    def accept_recipient(self, address: str) -> None:
        """Accept a recipient :meth:`refuse_recipient` refused (its mailbox mended)."""
        with self._lock:
            self._refused.pop(address.lower(), None)

    def write_ca(self, path: Path) -> Path:
        """The sink's CA certificate (PEM) written to ``path``: a probe's ``tls.ca_file``."""
        assert self._ca is not None, "a sink without TLS has no CA"
        self._ca.cert_pem.write_to_path(str(path))
        return path

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts the sink's certificate (and verifies the host name)."""
        context = ssl.create_default_context()
        if self._ca is not None:
            self._ca.configure_trust(context)
        return context

    # --- internals -------------------------------------------------------------------------

    def _require(self) -> _Controller:
        assert self._controller is not None, "the sink is not running"
        return self._controller

    async def _in_sink_loop(self, coroutine: Any) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._require().loop)
        await asyncio.wrap_future(future)

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        ok = data.login.decode() == user and data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)
