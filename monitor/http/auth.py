"""Who is calling the HTTP API: bearer tokens, found by their hash, never logged.

**Tokens** come from ``http.tokens_file`` (under systemd the credential
``${CREDENTIALS_DIRECTORY}/api-tokens``) and ``http.tokens_env``, one per line (in the
variable, comma-separated)::

    # SCOPE          TOKEN or sha256:HASH                                              NAME
    write            sha256:<64 hex digits>                                            noc
    read             sha256:...                                                        grafana
    customer:acme    sha256:...                                                        acme-portal

* ``read``: an operator tool that reads everything (reports, incidents, customers);
* ``write``: an operator who may also record (incidents, causes, maintenance, notes of
  calls, month closing, claims' decisions);
* ``customer:ID``: one customer's own data (its overview and reports; later its claims
  and tickets), nothing else;
* ``push:ID``: the job of push target ID, which calls ``POST /api/v1/push/ID``
  (:mod:`monitor.probes.push`), nothing else.

**Decision:** the file holds hashes, ``sha256:`` and the SHA-256 of the token in hex
(``sla-monitor token new SCOPE`` prints a fresh random token and its line), so that the
file, a backup of it or a process listing never reveals a usable token; a plain token
is accepted too, for a quick start, and hashed when read. Tokens are random, so an
unsalted hash suffices (there is no password to guess). NAME (default ``token-N``, its
line) is what the audit log and the idempotency records call the caller; it never is
the token. Every presented token is hashed and its SHA-256 looked up among the
configured ones (a dict). *Decision:* what the lookup's time can tell is about the
digest of the token the caller sent, which it knows, never about a configured token (a
digest does not give its token back); comparing it with every configured hash in
constant time, as before, cost 0.44 ms a request at 10,000 tokens (one per customer or
push target: a push a minute from each of 10,000 jobs is 167 requests a second). A
token is revoked by
removing its line and reloading (SIGHUP re-reads the file; a bad file refuses the
reload and the old tokens stay in force).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from monitor.config.credentials import hash_line, read_secret_file
from monitor.config.schema import HTTPServer
from monitor.errors import ConfigError, ConfigIssue

__all__ = [
    "Principal",
    "TokenSet",
    "hash_line",
    "load_tokens",
    "new_token",
]

Scope = Literal["read", "write", "customer", "push"]
_HEX = re.compile(r"sha256:([0-9a-f]{64})")
_CUSTOMER = re.compile(r"customer:([a-z0-9][a-z0-9_.-]{0,62})")
_PUSH = re.compile(r"push:([a-z0-9][a-z0-9_.-]{0,62})")
_PRESENTED = re.compile(r"[\x21-\x7e]{1,1024}")  # a token as a request presents it
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}")
_ALLOWED = (
    "lines of 'SCOPE TOKEN [NAME]': SCOPE read, write, customer:ID or push:ID; TOKEN sha256:HEX "
    "(64 hex digits, see: sla-monitor token new) or the token itself (at least 16 "
    "characters, no spaces); NAME letters, digits, '_', '.', '@', '-'"
)


@dataclass(frozen=True)
class Principal:
    """A caller the API recognised: its name (for the audit log), scope and customer (or
    push target)."""

    name: str
    scope: Scope
    customer: str | None = None
    target: str | None = None  # a push:ID token's target

    @property
    def scope_text(self) -> str:
        """The scope as the tokens file writes it: ``read``, ``customer:acme``..."""
        subject = self.customer if self.scope == "customer" else self.target
        return self.scope if subject is None else f"{self.scope}:{subject}"

    @property
    def operator(self) -> bool:
        return self.scope in ("read", "write")

    @property
    def may_write(self) -> bool:
        return self.scope == "write"

    @property
    def actor(self) -> str:
        """The audit log's word for this caller."""
        return f"api:{self.name}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class TokenSet:
    """The configured tokens, as SHA-256 digests with their principals."""

    entries: tuple[tuple[bytes, Principal], ...] = ()
    # Each digest's principal (the last line wins, as the file is read): found in one step.
    _found: dict[bytes, Principal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_found", dict(self.entries))

    @classmethod
    def parse(cls, text: str, field: str, *, separator: str = "\n") -> TokenSet:
        """Tokens from a file's text (or a variable's, ``separator=","``); a bad line is a
        :class:`ConfigError` naming ``field`` and the line, never the token."""
        entries: list[tuple[bytes, Principal]] = []
        issues: list[ConfigIssue] = []
        names: set[str] = set()
        for number, raw in enumerate(text.split(separator), start=1):
            line = raw.split("#", 1)[0].strip() if separator == "\n" else raw.strip()
            if not line:
                continue
            where = f"{field} (entry {number})"
            parts = line.split()
            if len(parts) not in (2, 3):
                issues.append(ConfigIssue(where, None, f"expected {_ALLOWED}; found "
                                          f"{len(parts)} field(s)"))
                continue
            scope_text, secret = parts[0], parts[1]
            name = parts[2] if len(parts) == 3 else f"token-{number}"
            customer = target = None
            scope: Scope
            if scope_text in ("read", "write"):
                scope = scope_text  # type: ignore[assignment]
            elif (found := _CUSTOMER.fullmatch(scope_text)) is not None:
                scope, customer = "customer", found[1]
            elif (found := _PUSH.fullmatch(scope_text)) is not None:
                scope, target = "push", found[1]
            else:
                issues.append(ConfigIssue(where, None, f"scope {scope_text!r} is not valid; "
                                          "allowed: read, write, customer:ID, push:ID"))
                continue
            if not _NAME.fullmatch(name) or name in names:
                issues.append(ConfigIssue(where, None, f"name {name!r} is not valid or not "
                                          "unique; allowed: letters, digits, '_', '.', '@', '-'"))
                continue
            hashed = _HEX.fullmatch(secret)
            if hashed is not None:
                digest = bytes.fromhex(hashed[1])
            elif secret.startswith("sha256:") or len(secret) < 16:
                # The value is not shown: it may be a real token.
                issues.append(ConfigIssue(where, None, "the token is neither sha256: and 64 "
                                          "hex digits nor a plain token of at least 16 characters"))
                continue
            else:
                digest = _digest(secret)
            names.add(name)
            entries.append((digest, Principal(name, scope, customer, target)))
        if issues:
            raise ConfigError(field, issues)
        return cls(tuple(entries))

    def __add__(self, other: TokenSet) -> TokenSet:
        return TokenSet(self.entries + other.entries)

    def customers(self) -> set[str]:
        return {p.customer for _, p in self.entries if p.customer is not None}

    def push_targets(self) -> set[str]:
        return {p.target for _, p in self.entries if p.target is not None}

    def find(self, token: str) -> Principal | None:
        """The principal of ``token``, or None: its SHA-256 looked up (the module's
        decision). A token is printable ASCII; anything else (a header's bytes that are not
        ASCII arrive as surrogates, which cannot be hashed) is no token at all."""
        if _PRESENTED.fullmatch(token) is None:
            return None
        return self._found.get(_digest(token))


def load_tokens(http: HTTPServer, known_customers: set[str] | frozenset[str],
                push_targets: set[str] | frozenset[str] = frozenset()) -> TokenSet:
    """The tokens ``http.tokens_file`` and ``http.tokens_env`` name (none: no API access
    but the public pages). A customer token for a customer not configured is refused, and
    so is a push token for a target that is not a configured push target."""
    tokens = TokenSet()
    if http.tokens_file is not None:
        text = read_secret_file("http.tokens_file", http.tokens_file, "API tokens")
        tokens += TokenSet.parse(text, "http.tokens_file")
    if http.tokens_env is not None:
        value = os.environ.get(http.tokens_env)
        if not value:
            raise ConfigError("http", [ConfigIssue(
                "http.tokens_env", None,
                f"environment variable {http.tokens_env!r} is not set or empty", http.tokens_env)])
        tokens += TokenSet.parse(value, "http.tokens_env", separator=",")
    unknown = sorted(tokens.customers() - set(known_customers))
    if unknown:
        raise ConfigError("http", [ConfigIssue(
            "http.tokens_file", None,
            f"customer token(s) for {', '.join(unknown)}: not configured customers")])
    unpushed = sorted(tokens.push_targets() - set(push_targets))
    if unpushed:
        raise ConfigError("http", [ConfigIssue(
            "http.tokens_file", None,
            f"push token(s) for {', '.join(unpushed)}: not configured push targets (a server "
            "or service with probe type push); allowed: "
            + (", ".join(sorted(push_targets)) or "(none configured)"))])
    names = [p.name for _, p in tokens.entries]
    if len(set(names)) != len(names):
        raise ConfigError("http", [ConfigIssue(
            "http.tokens_env", None, "token names must be unique across the file and the variable")])
    return tokens


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
