"""The HTTP(S) probe: one request per check, bounded in time and bytes (SPEC section 8).

What a check measures, in seconds from the moment it got a concurrency slot:

* ``dns``: name resolution (None for an IP-literal URL: nothing was resolved);
* ``connect``: TCP connect **plus the TLS handshake** for HTTPS. aiohttp opens
  the socket and does the handshake in one call with no signal in between, so
  ``tls`` stays None here; :mod:`monitor.probes.tls` reads the certificate;
* ``first_byte``: until the response headers arrived (time to first byte);
* ``total``: the whole check, including the body when a body check reads it.

With redirects, ``dns``/``connect`` describe the last hop (each hop is a new
connection) and ``first_byte`` the final response.

The order of judgement is: status, then size (a declared ``Content-Length``
over ``max_body_bytes`` fails before reading anything), body substring, JSON
condition, and last ``max_response_time``, so the most specific failure wins.
Without a body check the body is never read: the connection is closed as soon
as the headers are judged.

A plain ``http://`` ``GET`` or ``HEAD`` without a body check takes the lean path of
:mod:`monitor.probes.plain` (no aiohttp request machinery); whatever it does not judge
itself, it hands to aiohttp here, which judges it as it always did.

Bounds (SPEC section 8): ``timeout`` is a hard deadline for the whole check.
Besides the ``asyncio.timeout`` around it, the body loop checks the clock before
every chunk and yields to the event loop after each one, because a body that
arrives faster than it is read (or a gzip body that inflates) never makes the
reader wait, and a cancellation is only delivered at a wait. Body bytes are
taken from the shared :class:`~monitor.probes.sessions.ByteBudget`
(``monitor.max_body_memory``) before they are read, and ``body_contains`` is
searched as the body streams by, so it holds one chunk, never the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import time
from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

from monitor.config.schema import HTTPProbe
from monitor.errors import (
    ConditionFailed,
    ConnectTimeout,
    DNSError,
    HTTPStatusError,
    ProbeError,
    ProbeTimeout,
    RedirectLoop,
    TooLarge,
    TooSlow,
)
from monitor.probes.base import (
    ProbeResult,
    checked,
    classify_exception,
    noticed_late,
    shorten,
)
from monitor.probes.plain import Head, plain_check, plain_request, redirect_target
from monitor.probes.sessions import Phases, ProbeResponse, ProbeSessions, done_timing, timing
from monitor.probes.tls import certificate_not_after

JSONValue = str | int | float | bool | None

# Bytes read (and taken from the byte budget) per step of the body loop.
CHUNK = 64 * 1024


def expected_statuses(expected: list[int | str]) -> frozenset[int]:
    """``[200, "3xx"]`` → every status that counts as up, for an O(1) check per probe.

    Targets with the same list share one set: ``"2xx"`` alone is a 100-entry set
    of about 5 KB, 100 MB over 20,000 targets if each had its own (measured).
    """
    return _expected_statuses(tuple(expected))


@functools.lru_cache(maxsize=256)
def _expected_statuses(expected: tuple[int | str, ...]) -> frozenset[int]:
    statuses: set[int] = set()
    for item in expected:
        if isinstance(item, int):
            statuses.add(item)
        else:  # "2xx": validated by the schema
            first = int(item[0]) * 100
            statuses.update(range(first, first + 100))
    return frozenset(statuses)


def json_path(path: str) -> tuple[tuple[str, int | None], ...]:
    """``"checks.0.ok"`` → ``(("checks", None), ("0", 0), ("ok", None))``: each part as an
    object key, and as a list index when it is an integer."""
    parts = []
    for part in path.split("."):
        digits = part[1:] if part.startswith("-") else part
        # ASCII only: "²" passes str.isdigit and int() refuses it.
        parts.append((part, int(part) if digits.isascii() and digits.isdigit() else None))
    return tuple(parts)


def json_equal(found: object, expected: JSONValue) -> bool:
    """Equality as JSON means it: ``true`` is not ``1``, though ``1`` equals ``1.0``."""
    if isinstance(found, bool) or isinstance(expected, bool):
        return isinstance(found, bool) and isinstance(expected, bool) and found is expected
    if isinstance(found, dict | list):
        return False
    return found == expected


def _preview(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return json.dumps(value, ensure_ascii=False)[:60]


class _Rules:
    """What a probe's checks need besides its URL, the same for every target with the same
    settings (method, headers, expected status, body and time bounds, redirects): kept once
    and shared (:meth:`ProbeSessions.shared`), not once a target (measured: a probe object
    272 → 112 bytes)."""

    __slots__ = (
        "allow_redirects",
        "body",
        "body_contains",
        "budget",
        "clock",
        "expected",
        "expected_text",
        "headers",
        "json_equals",
        "json_path",
        "json_text",
        "key",
        "max_body",
        "max_redirects",
        "max_time",
        "method",
        "needle",
        "plain_rest",
        "reads_body",
        "semaphore",
        "sessions",
        "timeout",
    )

    def __init__(self, config: HTTPProbe, sessions: ProbeSessions) -> None:
        self.sessions = sessions
        self.semaphore = sessions.semaphore
        self.budget = sessions.body_budget
        self.clock = sessions.clock
        self.method = config.method
        self.body = None if config.body is None else config.body.encode()
        self.headers = dict(config.headers) or None
        self.timeout = config.timeout
        self.expected = expected_statuses(config.expected_status)
        self.expected_text = ", ".join(str(status) for status in config.expected_status)
        self.body_contains = config.body_contains
        self.needle = None if config.body_contains is None else config.body_contains.encode()
        condition = config.json_condition
        self.json_path = None if condition is None else json_path(condition.path)
        self.json_text = "" if condition is None else condition.path
        self.json_equals: JSONValue = None if condition is None else condition.equals
        self.reads_body = self.needle is not None or self.json_path is not None
        self.max_body = config.max_body_bytes
        self.max_time = config.max_response_time
        # max_redirects 0 means "follow none": the 3xx is then judged by expected_status.
        self.allow_redirects = config.follow_redirects and config.max_redirects > 0
        # aiohttp gives up when the count *reaches* its max_redirects (and treats 0 as
        # unlimited); +1 follows exactly max_redirects hops.
        self.max_redirects = config.max_redirects + 1
        self.plain_rest = b""
        # Equal settings, equal rules: every value that a check reads, as JSON text where
        # it is not hashable (headers in their order, the JSON condition's value).
        self.key = (
            self.method,
            self.body,
            json.dumps(list(config.headers.items())),
            self.timeout,
            tuple(config.expected_status),
            self.body_contains,
            self.json_text,
            json.dumps(self.json_equals),
            self.max_body,
            self.max_time,
            config.follow_redirects,
            config.max_redirects,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rules) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


class HTTPCheck:
    """Checks one HTTP(S) target. All set-up happens here, so ``check()`` stays small.

    ``__slots__``: one per target, 40,000 of them in a large daemon (about 500 bytes
    less each than with a ``__dict__``). The URL is kept as its text (``_where``) and the
    lean path's host and port: a parsed :class:`~yarl.URL` is about 400 bytes more per
    target (measured), and only the full client and a followed redirect need one (parsed
    then, for that check).
    """

    __slots__ = (
        "_cert_der",
        "_cert_not_after",
        "_host",
        "_https",
        "_plain",
        "_port",
        "_rules",
        "_session",
        "_where",
        "target_id",
    )

    def __init__(self, target_id: str, config: HTTPProbe, sessions: ProbeSessions) -> None:
        self.target_id = target_id
        self._session = sessions.http_session(config.tls, owner=target_id)
        self._rules = rules = sessions.shared(_Rules(config, sessions))
        url = URL(config.url)
        self._where = config.url
        self._https = url.scheme == "https"
        self._cert_der: bytes | None = None
        self._cert_not_after: dt.datetime | None = None
        # The lean path's request (plain HTTP, GET or HEAD, no body check), or None: the
        # full client for every check (monitor.probes.plain). Kept in two parts: the request
        # line and Host, the target's own, and the rest, which only the method, the headers
        # and the user agent make: the same for every target with these rules, kept with
        # them (measured: 191 bytes a request in one piece, 80 for its own part).
        plain = (
            None
            if rules.reads_body or rules.body is not None
            else plain_request(url, rules.method, rules.headers, sessions.user_agent)
        )
        self._plain: bytes | None = None
        if plain is not None:
            cut = plain.index(b"\r\n", plain.index(b"\r\n") + 2) + 2
            self._plain = plain[:cut]
            rules.plain_rest = plain[cut:]
        self._host = url.raw_host
        self._port = url.port or 80

    async def check(self) -> ProbeResult:
        rules = self._rules
        async with rules.semaphore:
            at = rules.clock.now()
            phases = Phases()
            started = time.monotonic()
            first_byte: float | None = None
            status: int | None = None
            cert_not_after: dt.datetime | None = None
            deadline = asyncio.timeout(rules.timeout)
            failure: ProbeError | None = None
            late: float | None = None  # the deadline noticed late: this monitor stalled
            first_hop: Head | None = None  # a redirect the lean path followed
            token = timing(phases)
            try:
                async with deadline:
                    head = None
                    url, hops = None, rules.max_redirects
                    if self._plain is not None:
                        head = await plain_check(
                            rules.sessions, self._host, self._port,
                            self._plain + rules.plain_rest, phases,
                            self._where,
                        )
                    if head is not None and rules.allow_redirects and head[0].redirects:
                        follow = redirect_target(URL(self._where), head[0])
                        if follow is not None:  # the next hops: the full client's
                            url, hops, first_hop, head = follow, hops - 1, head[0], None
                    if head is not None:
                        answer, arrived = head
                        first_byte = arrived - started
                        status = answer.status
                        self._judge_head(answer, started)
                    else:  # the full client: HTTPS, a body check, anything unusual
                        async with self._full_request(
                            URL(self._where) if url is None else url, hops, first_hop
                        ) as response:
                            first_byte = time.monotonic() - started
                            status = response.status
                            if self._https:
                                cert_not_after = self._peer_not_after(response)
                            await self._judge(response, started)
            except ProbeError as found:
                failure = found
            except TimeoutError as error:
                if deadline.expired():
                    failure = self._timed_out(phases, first_byte)
                    late = noticed_late(deadline, rules.timeout, rules.sessions.stalls, started)
                else:
                    failure = classify_exception(error, self._where)
            except Exception as error:  # any target behaviour becomes evidence, never a crash
                failure = classify_exception(error, self._where)
            finally:
                done_timing(token)
            return checked(self.target_id, at, started, failure, late, http_status=status,
                           dns=phases.dns(), connect=phases.connect(), first_byte=first_byte,
                           cert_not_after=cert_not_after)

    @contextlib.asynccontextmanager
    async def _full_request(
        self, url: URL, max_redirects: int, first_hop: Head | None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """aiohttp's request; after a ``first_hop`` the lean path followed, from its Location
        with one redirect fewer, counting that hop in a redirect loop's detail."""
        try:
            async with self._session.request(
                self._rules.method,
                url,
                headers=self._rules.headers,
                data=self._rules.body,
                allow_redirects=self._rules.allow_redirects,
                max_redirects=max_redirects,
            ) as response:
                yield response
        except aiohttp.TooManyRedirects as error:
            if first_hop is None:
                raise
            last = error.history[-1].headers.get("Location", "") if error.history else ""
            raise RedirectLoop(shorten(
                f"{len(error.history) + 1} redirects without an answer; "
                f"last to {last or first_hop.location}"
            )) from None

    def _judge_head(self, head: Head, started: float) -> None:
        """:meth:`_judge` of the lean path's answer (no body check: status, then time)."""
        if head.status not in self._rules.expected:
            raise HTTPStatusError(self._status_text(head.status, head.reason, head.location))
        self._judge_time(started)

    async def _judge(self, response: aiohttp.ClientResponse, started: float) -> None:
        """Raise the ProbeError that describes what is wrong with the answer, if anything."""
        if response.status not in self._rules.expected:
            raise HTTPStatusError(
                self._status_text(
                    response.status, response.reason, response.headers.get("Location")
                )
            )
        if self._rules.reads_body:
            found, body, held = await self._read_body(response, started)
            try:
                if not found:
                    raise ConditionFailed(f"body does not contain {self._rules.body_contains!r}")
                if body is not None:
                    self._check_json(response, body)
            finally:
                self._rules.budget.give(held)  # the body is held until it has been judged
        self._judge_time(started)

    def _judge_time(self, started: float) -> None:
        limit = self._rules.max_time
        if limit is not None:
            now = time.monotonic()
            elapsed = now - started
            if elapsed > limit:
                raise self._ours(
                    TooSlow(f"answered in {elapsed:.3f} s; max_response_time is {limit:g} s"),
                    started, now, limit)

    def _ours(self, failure: ProbeError, started: float, now: float,
              limit: float) -> ProbeError:
        """``failure``, found on this probe's own clock at ``now`` for a limit of ``limit``
        seconds, marked as not the target's when it was within the limit but for this
        process's own stall (R-M2): the time held up counted out."""
        held = self._rules.sessions.stalls.held_up(started, now)
        if now - started - held <= limit:
            failure.held_up = held
        return failure

    async def _read_body(
        self, response: aiohttp.ClientResponse, started: float
    ) -> tuple[bool, bytearray | None, int]:
        """Read at most ``max_body_bytes + 1`` bytes within the timeout from ``started`` (on
        the monotonic clock, between chunks; cut there only because this process was held
        up, it is not judged: :meth:`_ours`); returns
        whether ``body_contains`` was found (True without one), the body when the JSON
        condition needs it, and the bytes of the budget it holds (the caller gives them
        back once the body is judged; on an error they are given back here).

        An endless or huge body ends as ``too_large`` and a slow one as ``timeout``, holding
        at most one chunk (``body_contains``) or ``max_body_bytes`` (JSON) of the shared
        byte budget (SPEC section 8).
        """
        declared = response.content_length
        if declared is not None and declared > self._rules.max_body:
            raise TooLarge(
                f"Content-Length {declared} bytes exceeds max_body_bytes ({self._rules.max_body})"
            )
        needle = self._rules.needle
        found = needle is None
        keep = self._rules.json_path is not None
        overlap = len(needle) - 1 if needle else 0
        tail = b""
        body = bytearray() if keep else None
        limit = self._rules.max_body + 1
        read = 0
        held = 0  # bytes of the budget this probe holds
        content = response.content
        budget = self._rules.budget
        timeout = self._rules.timeout
        deadline = started + timeout
        try:
            while read < limit:
                if (now := time.monotonic()) >= deadline:  # its own clock: a stall counted out
                    raise self._ours(ProbeTimeout(
                        f"response body not complete within the {timeout:g} s timeout"
                    ), started, now, timeout)
                taken = await budget.take(min(CHUNK, limit - read))
                held += taken
                chunk = await content.read(taken)
                if not chunk:
                    break
                read += len(chunk)
                # The JSON condition keeps the body; body_contains keeps nothing of it.
                unused = taken - len(chunk) if body is not None else taken
                if body is not None:
                    body += chunk
                budget.give(unused)
                held -= unused
                if not found:
                    assert needle is not None
                    window = tail + chunk
                    found = needle in window
                    tail = window[-overlap:] if overlap else b""
                # A body that is already buffered never makes read() wait: let the other
                # probes (and this one's deadline) run between chunks.
                await asyncio.sleep(0)
            if read > self._rules.max_body:
                raise TooLarge(f"body exceeds max_body_bytes ({self._rules.max_body} bytes)")
        except BaseException:
            budget.give(held)
            raise
        return found, body, held

    def _check_json(self, response: aiohttp.ClientResponse, body: bytearray) -> None:
        assert self._rules.json_path is not None
        where = f"json condition on {self._rules.json_text!r}"
        mime = response.content_type
        if mime != "application/json" and not mime.endswith("+json"):
            declared = response.headers.get("Content-Type", "none")
            raise ConditionFailed(f"{where} needs a JSON body; got Content-Type {declared}")
        try:
            node: object = json.loads(body)
        except RecursionError:
            raise ConditionFailed(f"{where}: body is JSON nested too deeply to check") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ConditionFailed(f"{where}: body is not valid JSON ({exc})") from None
        for key, index in self._rules.json_path:
            if isinstance(node, dict):
                if key not in node:
                    raise ConditionFailed(f"{where}: no key {key!r} in the JSON body")
                node = node[key]
            elif isinstance(node, list) and index is not None:
                if not -len(node) <= index < len(node):
                    raise ConditionFailed(f"{where}: index {index} outside a list of {len(node)}")
                node = node[index]
            else:
                raise ConditionFailed(f"{where}: {key!r} cannot be looked up in {_preview(node)}")
        if not json_equal(node, self._rules.json_equals):
            expected = json.dumps(self._rules.json_equals, ensure_ascii=False)
            raise ConditionFailed(f"{where}: found {_preview(node)}, expected {expected}")

    def _status_text(self, status: int, reason: str | None, location: str | None) -> str:
        text = f"HTTP {status} {reason or ''}".rstrip()
        text += f" (expected {self._rules.expected_text})"
        if location and 300 <= status < 400:
            text += f"; Location {location}"
        return text

    def _timed_out(self, phases: Phases, first_byte: float | None) -> ProbeError:
        """Name the phase the overall deadline interrupted."""
        limit = f"within the {self._rules.timeout:g} s timeout"
        unfinished = phases.unfinished()
        if unfinished == "dns":
            return DNSError(f"DNS lookup not finished {limit}")
        if unfinished == "connect":
            what = "TCP connect and TLS handshake" if self._https else "TCP connect"
            return ConnectTimeout(f"{what} not finished {limit}")
        if first_byte is None:
            return ProbeTimeout(f"no response headers {limit}")
        return ProbeTimeout(f"response body not complete {limit}")

    def _peer_not_after(self, response: aiohttp.ClientResponse) -> dt.datetime | None:
        """Expiry of the presented certificate; parsed only when the certificate changes."""
        der = response.peer_certificate if isinstance(response, ProbeResponse) else None
        if der is None:
            return None
        if der != self._cert_der:
            self._cert_not_after = certificate_not_after(der)
            self._cert_der = der
        return self._cert_not_after
