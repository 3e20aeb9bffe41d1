"""Transports: hand a message to an SMTP server (aiosmtplib), or to a local Maildir.

A transport opens a *connection* for a batch of messages
(``async with transport.connect() as connection``) and
``await connection.send(message, sender, recipients)`` returns a
:class:`Delivery` or raises a :class:`~monitor.errors.NotifyError`:

* :class:`~monitor.errors.TransientNotifyError`: connect errors, timeouts,
  disconnects, 4xx replies. Retried with backoff (D-2).
* :class:`~monitor.errors.PermanentNotifyError`: 5xx replies, authentication
  failures, TLS failures (a server that does not offer STARTTLS when
  ``tls: starttls`` is configured: never a silent plaintext downgrade), every
  recipient refused (:class:`RecipientsRefused`, with each refusal).

After a connection-level failure ``connection.broken`` is true, so the caller
stops using it for the rest of its batch. Some recipients refused while
others accepted is a success; the refusals are in ``Delivery.refused``.

Without ``smtp`` in the configuration, :class:`MaildirTransport` writes each
message into a Maildir (the embedded default); "accepted" then means written.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import os
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from monitor.config.credentials import read_secret_file
from monitor.config.schema import SMTP
from monitor.errors import (
    ConfigError,
    ConfigIssue,
    NotifyError,
    PermanentNotifyError,
    TransientNotifyError,
)
from monitor.notify.messages import to_bytes

__all__ = [
    "Connection",
    "Delivery",
    "MaildirTransport",
    "RecipientsRefused",
    "SMTPTransport",
    "Transport",
    "classify",
    "read_password",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """The server took the message: its reply, and the recipients it refused (code, text)."""

    response: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class RecipientsRefused(PermanentNotifyError):
    """Every recipient was refused permanently; ``refused`` maps each to (code, text)."""

    def __init__(self, message: str, refused: dict[str, tuple[int, str]]) -> None:
        super().__init__(message)
        self.refused = refused


class Connection(Protocol):
    broken: bool

    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> Delivery: ...


class Transport(Protocol):
    name: str

    def connect(self) -> AbstractAsyncContextManager[Connection]: ...

    async def probe(self) -> None:
        """Whether the server would take a message now (connect, greet, log in); raises a
        :class:`~monitor.errors.NotifyError` if not. Sends nothing."""


def read_password(settings: SMTP) -> str | None:
    """The SMTP password from ``password_file`` or ``password_env``, read once at start.

    Raises :class:`~monitor.errors.ConfigError` naming the setting when the
    secret is missing; the secret itself never appears in an error or a log.
    """
    issues: list[ConfigIssue] = []
    password: str | None = None
    if settings.password_file and settings.password_env:
        issues.append(
            ConfigIssue("smtp.password_env", None, "set password_file or password_env, not both")
        )
    elif settings.password_file:
        try:
            password = read_secret_file(
                "smtp.password_file", settings.password_file, "the SMTP password"
            )
        except ConfigError as exc:
            issues += exc.issues
    elif settings.password_env:
        password = os.environ.get(settings.password_env) or None
        if password is None:
            issues.append(
                ConfigIssue(
                    "smtp.password_env",
                    None,
                    f"environment variable {settings.password_env!r} is not set or empty; "
                    "it must hold the SMTP password",
                    settings.password_env,
                )
            )
    if settings.username and password is None and not issues:
        issues.append(
            ConfigIssue("smtp.username", None, "a username needs password_file or password_env")
        )
    if password is not None and not settings.username:
        issues.append(
            ConfigIssue("smtp.username", None, "a password is configured but no username")
        )
    if issues:
        raise ConfigError("smtp", issues)
    if password is not None:
        source = "password_file" if settings.password_file else "password_env"
        log.info(
            "SMTP password read", extra={"source": f"smtp.{source}", "username": settings.username}
        )
    return password


def classify(exc: BaseException) -> NotifyError:
    """Map an aiosmtplib (or socket/TLS) failure to transient or permanent."""
    if isinstance(exc, NotifyError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = {r.recipient: (r.code, r.message) for r in exc.recipients}
        summary = "; ".join(f"{rcpt}: {code} {text}" for rcpt, (code, text) in refused.items())
        if all(400 <= code < 500 for code, _ in refused.values()):
            return TransientNotifyError(f"every recipient refused temporarily: {summary}")
        return RecipientsRefused(f"every recipient refused: {summary}", refused)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        what = (
            "authentication failed"
            if isinstance(exc, aiosmtplib.SMTPAuthenticationError)
            else "server replied"
        )
        text = f"{what}: {exc.code} {exc.message}"
        return TransientNotifyError(text) if 400 <= exc.code < 500 else PermanentNotifyError(text)
    if _tls_failure(exc):
        return PermanentNotifyError(f"TLS failed: {exc}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientNotifyError(f"timed out: {exc}")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return TransientNotifyError(f"cannot reach the SMTP server: {exc}")
    # SMTPNotSupported, "STARTTLS extension not supported by server", a bad address...
    return PermanentNotifyError(f"{type(exc).__name__}: {exc}")


def _ends_session(exc: BaseException) -> bool:
    """Refusals and replies to a message leave the session usable; anything else ends it."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPConnectResponseError):
        return True
    return not isinstance(exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPResponseException)


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__
    return False


class SMTPTransport:
    """aiosmtplib with the configured TLS mode, login and timeouts.

    ``tls_context`` replaces the system trust store (tests and the demo use a
    local CA); the default verifies the server's certificate and host name.
    """

    name = "smtp"

    def __init__(
        self, settings: SMTP, password: str | None, *, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self.settings = settings
        self._password = password
        self._tls_context = tls_context
        self._local_hostname: str | None = None

    @classmethod
    def from_config(
        cls, settings: SMTP, *, tls_context: ssl.SSLContext | None = None
    ) -> SMTPTransport:
        return cls(settings, read_password(settings), tls_context=tls_context)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[SMTPConnection]:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=self._password,
            local_hostname=self._local_hostname,
            timeout=s.timeout,
            use_tls=s.tls == "implicit",
            # True: STARTTLS is required; a server without it is an error, never plaintext.
            start_tls=s.tls == "starttls",
            tls_context=self._tls_context,
        )
        connection = SMTPConnection(client)
        try:
            yield connection
        finally:
            await connection.close()

    async def probe(self) -> None:
        async with self.connect() as connection:
            await connection.greet()


class SMTPConnection:
    """One session, reused for the messages of a batch.

    A server may close a session after a message it accepted (one message a session, an
    idle session dropped between two): the next message then finds it gone. That is not
    a server down: the message goes again at once, on a new session. Only a session that
    carried a message is given that second try, and only once; a session that fails
    before any message is the server's failure (D-2: retried later, the server probed).
    """

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self._client = client
        self.broken = False
        self._carried = False  # whether this session has carried a message

    async def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> Delivery:
        content = to_bytes(message)
        try:
            try:
                errors, response = await self._sendmail(sender, recipients, content)
            except aiosmtplib.SMTPServerDisconnected:
                if not self._carried:
                    raise
                log.info("the SMTP server closed the session after the last message; "
                         "sending on a new one", extra={"message_id": message["Message-ID"]})
                self._carried = False
                self._client.close()
                errors, response = await self._sendmail(sender, recipients, content)
        except Exception as exc:
            self.broken = _ends_session(exc)
            raise classify(exc) from exc
        self._carried = True
        refused = {address: (reply.code, reply.message) for address, reply in errors.items()}
        return Delivery(response=response, refused=refused)

    async def _sendmail(
        self, sender: str, recipients: Sequence[str], content: bytes
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        if not self._client.is_connected:
            await self._client.connect()
        return await self._client.sendmail(sender, list(recipients), content)

    async def greet(self) -> None:
        """Connect (EHLO, STARTTLS and login as configured) and say NOOP."""
        try:
            if not self._client.is_connected:
                await self._client.connect()
            await self._client.noop()
        except Exception as exc:
            self.broken = True
            raise classify(exc) from exc

    async def close(self) -> None:
        if self._client.is_connected:
            with suppress(Exception):
                await self._client.quit()
        self._client.close()


class MaildirTransport:
    """The embedded default without SMTP: each message becomes a file in a Maildir."""

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self.path = path

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MaildirConnection]:
        yield MaildirConnection(self.path)

    async def probe(self) -> None:
        """The Maildir (or, before the first message, its parent) is writable."""
        where = self.path if self.path.exists() else self.path.parent
        if not await asyncio.to_thread(os.access, where, os.W_OK | os.X_OK):
            raise TransientNotifyError(f"cannot write to Maildir {str(self.path)!r}")


class MaildirConnection:
    def __init__(self, path: Path) -> None:
        self._path = path
        self.broken = False

    async def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> Delivery:
        try:
            key = await asyncio.to_thread(self._write, message, sender, list(recipients))
        except OSError as exc:
            self.broken = True
            raise TransientNotifyError(
                f"cannot write to Maildir {str(self._path)!r}: {exc}"
            ) from exc
        return Delivery(response=f"written to Maildir {self._path} as {key}")

    def _write(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        box = mailbox.Maildir(self._path, create=True)
        # There is no envelope in a file: keep it visible, as a local delivery agent would.
        envelope = [f"Return-Path: <{sender}>\n"] + [f"Delivered-To: {r}\n" for r in recipients]
        return box.add("".join(envelope).encode("utf-8") + to_bytes(message, "\n"))
