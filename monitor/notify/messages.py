"""Turn an outbox row into an ``email.message.EmailMessage``, safely.

Every header is set through :mod:`email.headerregistry` (``EmailMessage`` with
the default policy), which refuses CR/LF and RFC 2047-encodes non-ASCII text.
On top of that, anything that may come from configuration or an operator
(customer names, notes, the provider name) goes through :func:`one_line`
first, which removes control characters, so that a name such as
``"ACME\\r\\nBcc: victim@evil.example"`` can never add a header or a recipient:
it becomes the harmless subject text ``"ACME Bcc: victim@evil.example"``.
Recipients are never read from headers: the envelope is the outbox row's list.

>>> one_line("ACME\\r\\nBcc: victim@evil.example")
'ACME Bcc: victim@evil.example'
>>> has_arabic_script("شرکت بیتا"), has_arabic_script("ACME")
(True, False)
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from monitor.actions.mail import is_operator_kind
from monitor.present.text import has_arabic_script, one_line
from monitor.store.outbox import Attachment

__all__ = [
    "build_email",
    "fold_words",
    "has_arabic_script",
    "list_id",
    "new_message_id",
    "one_line",
    "to_bytes",
]

_LABEL = re.compile(r"[^a-z0-9-]+")
_LABEL_FILE = re.compile(r"[^A-Za-z0-9._-]+")  # an attachment's file name: nothing to quote


def new_message_id(kind: str, domain: str) -> str:
    """A globally unique Message-ID, stored with the outbox row and reused on every retry,
    so that a duplicate after a crash is recognisable by the recipient's mail system."""
    label = _LABEL.sub("-", kind.lower()).strip("-") or "message"
    return f"<{label}.{uuid.uuid4().hex}@{domain}>"


def list_id(kind: str, provider_name: str, domain: str) -> str:
    """``List-Id`` (RFC 2919) so recipients can filter: customer notices vs operator alerts."""
    audience = "operators" if is_operator_kind(kind) else "notices"
    label = f"<sla-{audience}.{domain}>"
    description = one_line(provider_name, 80).replace('"', "'").replace("\\", "")
    # A non-ASCII description would be encoded together with the label: leave it out then.
    return f'"{description} {audience}" {label}' if description.isascii() else label


def build_email(
    *,
    sender: str,
    sender_name: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: dt.datetime,
    kind: str,
    in_reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
    list_unsubscribe: str | None = None,
) -> EmailMessage:
    """A multipart/alternative (plain + HTML) UTF-8 message, marked as automatic;
    ``in_reply_to`` (a Message-ID) threads it under the message it follows up, e.g. a
    recovery under its outage e-mail (``In-Reply-To`` and ``References``, RFC 5322).
    ``attachments`` (a statement's PDF and CSV) make it multipart/mixed, the text and
    HTML alternatives first. ``list_unsubscribe`` (an https address, a status-page
    subscriber's notice) adds ``List-Unsubscribe`` and ``List-Unsubscribe-Post:
    List-Unsubscribe=One-Click`` (RFC 8058: a mail client's button POSTs to it)."""
    username, _, domain = sender.partition("@")
    message = EmailMessage()
    message["From"] = Address(
        display_name=one_line(sender_name, 80), username=username, domain=domain
    )
    message["To"] = [_address(recipient) for recipient in recipients]
    message["Subject"] = one_line(subject, 250)
    message["Date"] = date
    message["Message-ID"] = message_id
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message["List-Id"] = list_id(kind, sender_name, domain)
    if list_unsubscribe is not None:
        # Our own address (ASCII, no spaces or brackets): one angle-bracketed URI.
        message["List-Unsubscribe"] = f"<{one_line(list_unsubscribe, 900)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: no vacation auto-replies to an automatic message; the second is Exchange's.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-SLA-Monitor-Kind"] = _LABEL.sub("-", kind.lower())
    message.set_content(text, cte=_transfer_encoding(text))
    if html is not None:
        message.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=_LABEL_FILE.sub("-", attachment.filename))
    return message


def _address(recipient: str) -> Address:
    username, at, domain = recipient.rpartition("@")
    if not at or not username or not domain:
        raise ValueError(f"recipient {recipient!r} is not an e-mail address like ops@example.com")
    return Address(username=username, domain=domain)


def _transfer_encoding(body: str) -> str:
    # Readable on the wire for ASCII; base64 keeps Persian text compact and 7-bit safe.
    return "quoted-printable" if body.isascii() else "base64"


def fold_words(name: str, text: str, width: int = 78, linesep: str = "\r\n") -> str:
    """An ASCII header folded at spaces (RFC 5322 section 2.2.3): its text always starts on
    the header's own line, each break goes before an existing space, and a word longer
    than a line stays whole (lines stay far below 998 octets: subjects are at most 250
    characters). Unfolding gives back ``text`` exactly.

    >>> fold_words("Subject", "Outage: " + "x" * 75, linesep="|")
    'Subject: Outage:| xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx|'
    """
    head = f"{name}:"
    lines, current = [], head
    for word in text.split(" "):
        if current != head and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return linesep.join(lines) + linesep


class _WirePolicy(EmailPolicy):
    """``email.policy.SMTP``, except for the Subject, which people read and tests compare:

    * non-ASCII: encoded by :class:`email.header.Header`. CPython 3.11's folder drops the
      spaces between words when it splits a long non-ASCII Subject into several encoded
      words ("شرکت بیتا" would arrive as "شرکتبیتا"); ``Header`` keeps them inside the words;
    * ASCII: folded at spaces by :func:`fold_words`. CPython's folder may put the whole
      text of a 70-80 character Subject on a continuation line, and every parser then
      reads it with a leading space."""

    def _encoded(self, name: str, value: Any) -> str | None:
        if name.lower() != "subject":
            return None
        text = str(value)
        if text.isascii():
            return fold_words(name, text, self.max_line_length or 78, self.linesep)
        header = Header(text, "utf-8", maxlinelen=self.max_line_length, header_name=name)
        return f"{name}: {header.encode(linesep=self.linesep)}{self.linesep}"

    def fold(self, name: str, value: Any) -> str:
        return self._encoded(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        encoded = self._encoded(name, value)
        return encoded.encode("ascii") if encoded else super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n")


def to_bytes(message: EmailMessage, linesep: str = "\r\n") -> bytes:
    """The message as 7-bit bytes for the wire (CRLF) or a Maildir file (LF)."""
    return message.as_bytes(policy=_WIRE.clone(linesep=linesep))
