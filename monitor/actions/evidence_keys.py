"""The Ed25519 keys that sign the evidence chain's head (``evidence.signing_key``).

The key file holds one PEM private key (``openssl genpkey -algorithm ed25519 -out key.pem``);
under systemd it is a credential (``LoadCredential=evidence-key:/etc/credstore/...``,
``signing_key: ${CREDENTIALS_DIRECTORY}/evidence-key``). A key's id is the first 16 hex
characters of the SHA-256 of its raw 32-byte public key.

**Rotation**: put a new key in the file and restart (or reload). Every key that ever signed
a checkpoint stays published (``/.well-known/sla-monitor-keys.json``): its public key is
recorded in the database when it first signs, so checkpoints and archives signed by an
old key still verify.

What is signed, for a checkpoint at ``seq`` with the chain's hash ``hash`` there
(:func:`signed_message`)::

    sla-monitor evidence checkpoint v1\\n<seq>\\n<hash>\\n
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from monitor.config import Settings
from monitor.config.credentials import read_secret_file
from monitor.errors import ConfigError, ConfigIssue

__all__ = ["SigningKey", "key_id", "load_signing_key", "public_key_from_b64", "signed_message",
           "verify_signature"]

FIELD = "evidence.signing_key"


def signed_message(seq: int, chain_hash: str) -> bytes:
    """The bytes a checkpoint's signature is over."""
    return f"sla-monitor evidence checkpoint v1\n{seq}\n{chain_hash}\n".encode("ascii")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    """First 16 hex characters of the SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return _raw(self.private.public_key())

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    @property
    def id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, seq: int, chain_hash: str) -> str:
        """The base64 signature of the checkpoint (seq, hash)."""
        return base64.b64encode(self.private.sign(signed_message(seq, chain_hash))).decode("ascii")


def load_signing_key(settings: Settings) -> SigningKey | None:
    """The configured key; None when ``evidence.signing_key`` is not set. A file that cannot
    be read or holds no Ed25519 private key is a :class:`ConfigError` naming the setting."""
    path = settings.evidence.signing_key
    if path is None:
        return None
    text = read_secret_file(FIELD, path, "an Ed25519 private key in PEM")
    try:
        key: Any = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("evidence", [ConfigIssue(
            FIELD, None, f"{path!r} holds no unencrypted Ed25519 private key in PEM; make one "
            "with: openssl genpkey -algorithm ed25519 -out evidence-key.pem", path)])
    return SigningKey(key)


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def verify_signature(public_b64: str, signature_b64: str, seq: int, chain_hash: str) -> bool:
    """Whether ``signature_b64`` is the key's signature of the checkpoint (seq, hash)."""
    try:
        public_key_from_b64(public_b64).verify(base64.b64decode(signature_b64, validate=True),
                                               signed_message(seq, chain_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
