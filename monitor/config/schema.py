"""The configuration schema: what ``config.example.yaml`` may contain.

Every model forbids unknown keys, so a typo (``intervall:``) is an error rather
than a silently ignored setting. Durations accept seconds or ``"30s"``/``"1h30m"``
(see :mod:`monitor.config.durations`). Cross-references between sections
(ids, the D-1 bound) are checked in :mod:`monitor.config.checks`, so that one
run reports every problem at once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Hashable
from decimal import Decimal
from typing import Annotated, Literal, TypeVar, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.config.credentials import check_secret_path
from monitor.config.durations import parse_duration

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
YEAR = 366 * DAY


def _between(low: float, high: float) -> AfterValidator:
    """A duration's range, said in the words ``check-config`` shows durations in
    (``.inf``, ``7e23d`` or ``0.0000001`` pass the type but break the daemon later)."""

    def check(seconds: float) -> float:
        if not low <= seconds <= high:
            # Imported for the message only: a probe worker validates its probes with this
            # module and never needs the formats (nor the SLA package they bring).
            from monitor.present.formats import format_duration

            raise ValueError(
                f"expected a duration from {format_duration(low)} to {format_duration(high)}"
            )
        return seconds

    check.bounds = (low, high)  # type: ignore[attr-defined]  # for the README's reference
    return AfterValidator(check)


_Duration = BeforeValidator(parse_duration)  # seconds or "1h30m", finite

# Every duration has finite, sensible bounds, named in the error.
ProbeInterval = Annotated[float, _Duration, _between(0.1, DAY)]  # sub-second: tests, the demo
ProbeTimeoutSeconds = Annotated[float, _Duration, _between(0.1, HOUR)]  # below, a healthy target fails
ResponseTime = Annotated[float, _Duration, _between(0.001, HOUR)]
HeartbeatInterval = Annotated[float, _Duration, _between(0.1, HOUR)]
UnknownAfter = Annotated[float, _Duration, _between(1.0, DAY)]
PolicyDuration = Annotated[float, _Duration, _between(1.0, YEAR)]
TierDowntime = Annotated[float, _Duration, _between(1.0, 31 * DAY)]  # months: 31 days at most
CertificateWarning = Annotated[float, _Duration, _between(1.0, YEAR)]
CertificateCadence = Annotated[float, _Duration, _between(1.0, 7 * DAY)]
SMTPTimeout = Annotated[float, _Duration, _between(0.1, 10 * MINUTE)]
BusyTimeout = Annotated[float, _Duration, _between(0.1, 10 * MINUTE)]
WebhookTimeout = Annotated[float, _Duration, _between(0.1, MINUTE)]


def _ascii_number(value: object) -> object:
    """A decimal setting written as text is in ASCII digits: ``Decimal()`` reads any Unicode
    digit (``target_percent: ٩٩`` was 99), where an integer, a float or a duration setting
    refuses them (``port: ۱۸۰۸۱``)."""
    if isinstance(value, str) and not value.isascii():
        raise ValueError("expected a number in ASCII digits (0-9)")
    return value


def _not_true_or_false(value: object) -> object:
    """YAML's ``true`` and ``false`` are not numbers: pydantic's lax mode reads them as 1 and
    0 in an integer or a float setting (``port: true`` was port 1, and the file valid)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


# Every integer and float setting is read through it (a Decimal one refuses true already).
_Number = BeforeValidator(_not_true_or_false)


# Every Decimal setting is read through it (after its Field: its bounds are said as numbers).
_AsciiNumber = BeforeValidator(_ascii_number)
# Money: finite, and below what any yearly fee is (a thousand trillion, even in rials).
Amount = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, allow_inf_nan=False), _AsciiNumber]


def _matching(pattern: str, what: str) -> AfterValidator:
    """A string check whose error says what is allowed in words, not as a regex."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {what}")
        return value

    return AfterValidator(check)


Identifier = Annotated[
    str,
    _matching(
        r"[a-z0-9][a-z0-9_.-]{0,62}",
        "an id of lower-case letters, digits, '-', '_' and '.' (at most 63 characters)",
    ),
]
Email = Annotated[
    str,
    Field(max_length=320),
    _matching(
        r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", "an e-mail address like ops@example.com"
    ),
]
# Free text shown in e-mails, tables and pages: a line, never a file.
Name = Annotated[str, Field(min_length=1, max_length=200)]
Currency = Annotated[str, _matching(r"[A-Z]{3}", "an ISO 4217 currency code like 'IRR' or 'EUR'")]
# A site's domain: labels and a top-level domain of letters (an IP address is not one).
DOMAIN_PATTERN = r"([a-z0-9-]{1,63}\.)+[a-z]{2,63}"
Domain = Annotated[
    str,
    Field(max_length=253),
    _matching(DOMAIN_PATTERN, "a lower-case domain name like 'shop.example.com'"),
]

# A file holding a secret: a path, or ${CREDENTIALS_DIRECTORY}/NAME (monitor.config.credentials).
SecretFile = Annotated[str, AfterValidator(check_secret_path)]


def _path_text(value: str) -> str:
    """A path as the system takes it: none has a NUL character (every call with one fails)."""
    if "\0" in value:
        raise ValueError("expected a path without a NUL character")
    return value


# A file or directory the daemon opens (a CA bundle, the backups' directory, a Maildir).
PathText = Annotated[str, AfterValidator(_path_text)]

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


_Day = TypeVar("_Day", bound=Hashable)


def _each_once(days: list[_Day]) -> list[_Day]:
    """Days of the week, or of the month, each named once."""
    if len(set(days)) != len(days):
        raise ValueError("expected each day once")
    return days



class Strict(BaseModel):
    # The fields' docstrings are their documentation (the configuration reference reads
    # them, monitor.config.reference); not use_attribute_docstrings=True, which reads this
    # file's source at every start (a third of the schema's import time).
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
        raise ValueError("not a known IANA time zone (e.g. 'Asia/Tehran', 'UTC')") from exc
    return value


class Provider(Strict):
    """Who runs the monitor, and its calendar (R-M5)."""

    name: Name = "Hosting provider"
    """shown in e-mails, reports and the status page"""
    timezone: str = "UTC"
    """IANA zone; months and shown times use it (R-M5)"""
    calendar: Literal["gregorian", "jalali"] = "gregorian"
    """gregorian | jalali: what a month YYYY-MM means (R-M5)"""
    language: Literal["en", "fa"] = "en"
    """en | fa: the language customers read (pages, e-mails, statements; fa is written right to left); the status page speaks it"""
    digits: Literal["persian", "latin"] | None = None
    """persian | latin: the digits of Persian text; default persian"""
    # R-C1: receipts are due by the next business day; one must exist.
    weekend_days: Annotated[list[Weekday], Field(max_length=6),
                            AfterValidator(_each_once)] = ["friday"]
    """days that are not business days for claim receipts (R-C1 Decision); at most six"""
    holidays: list[dt.date] = []
    """extra non-business days, ISO dates (R-C1 Decision)"""
    supported_versions: list[str] = []
    """product versions still supported (R-EX7 Decision); empty: all"""
    operators: list[Email] = []
    """operator e-mail list: duty warnings and failed sends (D-2)"""
    sender: Email | None = None
    """From address of every e-mail, over SMTP or into the Maildir; default without SMTP: sla-monitor@localhost"""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)


class TierSettings(Strict):
    name: Annotated[str, Field(min_length=1, max_length=20)]
    """label shown in reports, e.g. 1w"""
    min_downtime: TierDowntime
    """counted downtime from which the tier applies (inclusive)"""
    credit_days: Annotated[int, _Number, Field(gt=0, le=3660)]
    """days of service credited (R-T2)"""


class PolicySettings(Strict):
    """The SLA policy; the defaults are the contract's (SPEC section 4 and 6)."""

    target_percent: Annotated[Decimal, Field(gt=0, le=100), _AsciiNumber] = Decimal("99.8")
    """R-T0 monthly availability target, percent"""
    tiers: list[TierSettings] = [
        TierSettings(name="1w", min_downtime=5400, credit_days=7),
        TierSettings(name="2w", min_downtime=28800, credit_days=14),
        TierSettings(name="1m", min_downtime=57600, credit_days=30),
    ]
    """R-T1 credit tiers by counted downtime, increasing; each lower bound inclusive (Decision)"""
    detection_deadline: PolicyDuration = 900.0
    """D-1: a failure must be known within this"""
    notification_deadline: PolicyDuration = 7200.0
    """R-N1 / D-2: customers notified within this of an incident start"""
    notification_warning: PolicyDuration = 1800.0
    """D-2: alert operators with this much left"""
    notification_credit_days: Annotated[int, _Number, Field(ge=0, le=366)] = 1
    """R-N1: credit days for an incident not notified in time"""
    maintenance_notice: PolicyDuration = 172800.0
    """R-EX1 / D-3: notice a maintenance window needs to be excluded"""
    claim_deadline: PolicyDuration = 14 * 86400.0
    """R-C1: claims accepted until this long after the month ends"""
    decision_deadline: PolicyDuration = 14 * 86400.0
    """R-C1: claim decision due within this of submission"""
    credit_delay: PolicyDuration = 30 * 86400.0
    """R-C1: approved credit effective a month later"""
    diagnosis_deadline: PolicyDuration = 172800.0
    """R-P1 / R-P2: partial problems diagnosed within this of the report"""
    panel_fix_deadline: PolicyDuration = 3 * 86400.0
    """R-P1: web-panel fix due this long after diagnosis"""
    mobile_fix_deadline: PolicyDuration = 3 * 86400.0
    """R-P2: mobile-app fix due per defect"""
    partial_penalty_fraction: Annotated[Decimal, Field(ge=0, le=1), _AsciiNumber] = Decimal("0.25")
    """R-P1: share of the tier credit owed for a late fix"""
    mobile_refund_percent_per_day: Annotated[Decimal, Field(ge=0, le=100), _AsciiNumber] = Decimal(1)
    """R-P2: percent of the yearly fee refunded per started day late"""
    price_approval_deadline: PolicyDuration = 7 * 86400.0
    """L-5: a raised ticket price not approved within this closes the ticket undone, refunded"""
    deadline_warning: PolicyDuration = 4 * 3600.0
    """D-4 / D-5: alert operators when a claim or ticket deadline is this close"""


def _absolute_http_url(value: str) -> str:
    """A probe's or a webhook's ``url``: absolute, http or https, with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http:// or https:// URL with a host")
    return value


class TLSSettings(Strict):
    verify: bool = True
    """verify the certificate chain and host name (false: its expiry is still read, but it gets no `sla_monitor_certificate_valid` verdict, so `CertificateInvalid` stays silent)"""
    ca_file: PathText | None = None
    """extra CA bundle (PEM) to trust"""
    cert_expiry_warning: CertificateWarning = 14 * 86400.0
    """warn this long before the certificate expires"""
    cert_check_interval: CertificateCadence = 3600.0
    """how often the certificate is read"""


class JSONCondition(Strict):
    """A dotted path into a JSON body (``status``, ``checks.0.ok``) and the value it must equal."""

    path: Annotated[str, Field(min_length=1)]
    """dotted path into the JSON body"""
    equals: str | int | float | bool | None
    """the value found there must equal this"""


class ProbeBase(Strict):
    interval: ProbeInterval = 30.0
    """time between probes; must exceed timeout"""
    timeout: ProbeTimeoutSeconds = 10.0
    """a probe gives up after this"""
    fail_after: Annotated[int, _Number, Field(ge=1, le=100)] = 3
    """consecutive failures that open an incident (R-M1)"""
    recover_after: Annotated[int, _Number, Field(ge=1, le=100)] = 2
    """consecutive successes that close it (R-M1)"""

    @property
    def worst_case_detection(self) -> float:
        """D-1: the longest a failure can go unnoticed, ``interval × fail_after + timeout``."""
        return self.interval * self.fail_after + self.timeout


_STATUS_PATTERN = re.compile(r"^[1-5]xx$")


def _check_status(value: int | str) -> int | str:
    if isinstance(value, int) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and _STATUS_PATTERN.fullmatch(value):
        return value
    raise ValueError("expected an HTTP status 100-599 or a class like '2xx'")


#: The longest request body an HTTP probe sends, in characters.
BODY_LENGTH = 65_536
#: The methods an HTTP probe sends a body with.
BODY_METHODS = ("POST", "PUT")

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HTTPProbe(ProbeBase):
    type: Literal["http"]
    """http"""
    url: Annotated[str, Field(max_length=2048)]
    """absolute http:// or https:// URL"""
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    """GET | HEAD | POST | PUT | OPTIONS"""
    body: Annotated[str, Field(max_length=BODY_LENGTH)] | None = None
    """request body sent with POST or PUT, as UTF-8 (its Content-Type in headers)"""
    expected_status: list[Annotated[int | str, BeforeValidator(_check_status)]] = ["2xx"]
    """status codes or classes like '2xx' that count as up"""
    body_contains: Annotated[str, Field(max_length=10_000)] | None = None
    """substring the body must contain"""
    json_condition: JSONCondition | None = Field(default=None, alias="json")
    """JSON condition {path, equals} on the body (key: json)"""
    max_response_time: ResponseTime | None = None
    """slower answers count as failures (too_slow)"""
    headers: Annotated[dict[str, Annotated[str, Field(max_length=8192)]], Field(max_length=50)] = {}
    """request headers"""
    max_body_bytes: Annotated[int, _Number, Field(ge=0, le=64 * 1024 * 1024)] = 1024 * 1024
    """read at most this much of the body (too_large beyond)"""
    follow_redirects: bool = True
    """follow redirects"""
    max_redirects: Annotated[int, _Number, Field(ge=0, le=20)] = 5
    """redirects followed at most (a loop is a failure)"""
    tls: TLSSettings = TLSSettings()
    """TLS settings"""

    _url = field_validator("url")(_absolute_http_url)

    @property
    def address(self) -> str:
        """What is probed, as the operators read it: the URL."""
        return self.url

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        # What a request can carry (RFC 9110): a name is a token, a value has no control
        # character but a tab. Else the client refused every request (a NUL) or the target
        # answered 400: an outage of the configuration's making.
        for name, text in value.items():
            if any(c in name + text for c in "\r\n"):
                raise ValueError(f"header {name!r} must not contain line breaks")
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not valid: letters, digits and "
                                 "!#$%&'*+-.^_`|~ only (RFC 9110 token)")
            if _CONTROL.search(text):
                raise ValueError(f"header {name!r}: its value must not contain control "
                                 "characters (a tab is allowed)")
        return value


def _tls_switch(value: object) -> object:
    """A TCP probe's ``tls``: ``true`` is TLS with the default settings, ``false`` none."""
    if value is True:
        return {}
    if value is False:
        return None
    if value is not None and not isinstance(value, dict | TLSSettings):
        raise ValueError("expected true, false or TLS settings (verify, ca_file, "
                         "cert_expiry_warning, cert_check_interval)")
    return value


_tls_switch.type_name = "true, false or mapping"  # type: ignore[attr-defined]  # the reference's


class TCPProbe(ProbeBase):
    type: Literal["tcp"]
    """tcp"""
    host: Annotated[str, Field(min_length=1)]
    """host name or address"""
    port: Annotated[int, _Number, Field(ge=1, le=65535)]
    """TCP port"""
    tls: Annotated[TLSSettings | None, BeforeValidator(_tls_switch)] = None
    """true or TLS settings: a TLS handshake after the connect (a port that speaks TLS at once: SMTPS 465, IMAPS 993, LDAPS 636 ...), its certificate verified and its expiry read as an https:// target's; absent: the connect alone"""
    starttls: Literal["smtp"] | None = None
    """smtp: the SMTP dialogue (EHLO, STARTTLS) before the TLS handshake, on a port that upgrades (25, 587); tls true unless given"""

    @model_validator(mode="before")
    @classmethod
    def _starttls_shakes_hands(cls, data: object) -> object:
        # STARTTLS is a handshake after a dialogue: tls is implied, with its defaults.
        if isinstance(data, dict) and data.get("starttls") and data.get("tls") is None:
            return {**data, "tls": True}
        return data

    @property
    def address(self) -> str:
        """What is probed, as the operators read it: ``tcp://HOST:PORT``, ``tls://HOST:PORT``
        with a handshake, ``starttls://HOST:PORT`` with the SMTP dialogue first."""
        scheme = "tcp" if self.tls is None else "starttls" if self.starttls else "tls"
        return f"{scheme}://{self.host}:{self.port}"


DNSRecord = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA"]
#: The record types a DNS probe asks for.
DNS_RECORDS: tuple[str, ...] = get_args(DNSRecord)
#: The most values a DNS probe's ``expected`` lists.
DNS_EXPECTED = 20

_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def domain_name(value: str) -> str:
    """A name a DNS probe asks for: dot-separated labels of letters, digits, '-' and '_'
    (``_sip._tcp.example.com`` for SRV), at most 63 characters each and 253 in all; a
    trailing dot is allowed (the name is always absolute)."""
    name = value[:-1] if value.endswith(".") else value
    if not 0 < len(name) <= 253 or not all(_DNS_LABEL.fullmatch(label)
                                           for label in name.split(".")):
        raise ValueError("expected a domain name: labels of letters, digits, '-' and '_', "
                         "separated by dots, at most 63 characters each and 253 in all "
                         "(an internationalized name in its xn-- form)")
    return value


def nameserver_address(value: str) -> str:
    """A DNS probe's ``server``: an IP address, asked directly (a name would be looked up
    through this monitor's resolver, whose failure R-M2 reads as its own blindness)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("expected an IP address (IPv4 or IPv6): the nameserver is asked "
                         "directly, not found through a resolver") from None
    return value


class DNSProbe(ProbeBase):
    """A nameserver asked one question: up when it answers without an error code, with at
    least one record of the type asked for, holding each ``expected`` value."""

    type: Literal["dns"]
    """dns"""
    server: Annotated[str, AfterValidator(nameserver_address)]
    """the nameserver asked, an IP address"""
    port: Annotated[int, _Number, Field(ge=1, le=65535)] = 53
    """its port (UDP and TCP)"""
    name: Annotated[str, Field(max_length=254), AfterValidator(domain_name)]
    """the domain name asked for"""
    record: DNSRecord = "A"
    """the record type asked for"""
    expected: Annotated[list[Annotated[str, Field(min_length=1, max_length=1024)]],
                        Field(max_length=DNS_EXPECTED)] = []
    """values the answer must hold, each as `dig +short` prints it (names without the final dot, case ignored; an MX also by its host alone; TXT unquoted); none: any record of the type"""
    transport: Literal["udp", "tcp"] = "udp"
    """udp (again over TCP when the answer is truncated) | tcp"""

    @property
    def address(self) -> str:
        """What is probed, as the operators read it: ``dns://SERVER:PORT/NAME?type=A``
        (the form of RFC 4501's DNS URIs)."""
        host = f"[{self.server}]" if ":" in self.server else self.server
        return f"dns://{host}:{self.port}/{self.name}?type={self.record}"

    @field_validator("expected")
    @classmethod
    def _expected(cls, values: list[str], info: ValidationInfo) -> list[str]:
        record = info.data.get("record")
        for value in values:
            if record in ("A", "AAAA"):
                try:
                    address = ipaddress.ip_address(value)
                except ValueError:
                    address = None
                if address is None or address.version != (4 if record == "A" else 6):
                    raise ValueError(f"{value!r} is not an IPv{4 if record == 'A' else 6} "
                                     f"address, which an {record} record holds")
        return values


class PushProbe(ProbeBase):
    """No request from here: the target's own job calls this monitor (``POST
    /api/v1/push/ID`` with a ``push:ID`` token) at least once every ``interval``. Checked
    every ``interval`` in the daemon: up while the last push came within ``interval`` and
    ``timeout`` and said up; ``condition`` when it said down; ``timeout`` when none came."""

    type: Literal["push"]
    """push"""
    interval: ProbeInterval = 60.0
    """how often the job pushes (and how often this monitor looks); must exceed timeout"""
    timeout: ProbeTimeoutSeconds = 10.0
    """how late a push may come before it counts as missing"""

    @property
    def counts_for(self) -> float:
        """Seconds a push counts for: ``interval`` and ``timeout`` (how late the next may
        come); none since then is a missing push (monitor.probes.push)."""
        return self.interval + self.timeout

    @property
    def address(self) -> str:
        """What is watched, as the operators read it: the pushes expected."""
        from monitor.present.formats import format_duration

        return (f"pushes to this monitor, every {format_duration(self.interval)}, at most "
                f"{format_duration(self.timeout)} late")


#: Every kind of probe, by the ``type`` that chooses it.
AnyProbe = HTTPProbe | TCPProbe | DNSProbe | PushProbe
PROBE_MODELS: dict[str, type[AnyProbe]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in (HTTPProbe, TCPProbe, DNSProbe, PushProbe)}
ProbeSettings = Annotated[AnyProbe, Field(discriminator="type")]
#: The probes' ``type`` tags as a refusal lists them: ``'http', 'tcp', 'dns', 'push'``.
PROBE_TYPES = ", ".join(repr(tag) for tag in PROBE_MODELS)


class Canary(Strict):
    """A reference endpoint outside the provider (R-M2): when these fail, we are blind."""

    id: Identifier
    """unique canary id"""
    probe: ProbeSettings
    """how the canary is checked"""


def _check_nameserver(value: str) -> str:
    host, port = value, None
    if value.startswith("["):  # [IPv6]:port
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest else None
    elif value.count(":") == 1:  # IPv4:port
        host, _, port = value.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            "expected an IP address, IP:port or [IPv6]:port, e.g. '9.9.9.9' or '127.0.0.1:5353'"
        ) from None
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("expected a port 1-65535 after the address")
    return value


class ResolverSettings(Strict):
    """The resolver every probe uses, and its canary (R-M2)."""

    nameservers: list[Annotated[str, AfterValidator(_check_nameserver)]] = []
    """DNS servers the probes ask (IP, IP:port), through c-ares; empty: the system's resolver (getaddrinfo: /etc/hosts, /etc/resolv.conf)"""
    canary: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """a host name outside the provider that must resolve, e.g. 'example.org'; while its lookup fails too, host-name targets failing DNS are unknown, not down (R-M2)"""
    canary_interval: Annotated[float, BeforeValidator(parse_duration), Field(ge=1, le=3600)] = 30.0
    """how often the canary name is looked up (also at once before a DNS failure would open an incident)"""


class MonitorSettings(Strict):
    canaries: list[Canary] = []
    """reference endpoints outside the provider (R-M2)"""
    # R-M2: results are 'unknown' while at least this fraction of canaries fails.
    canary_quorum: Annotated[float, _Number, Field(gt=0, le=1)] = 1.0
    """fraction of canaries failing at once that makes results unknown (R-M2)"""
    heartbeat_interval: HeartbeatInterval = 10.0
    """how often the daemon records that it is alive (R-M3)"""
    # R-M3: a gap between heartbeats longer than this is unknown time.
    unknown_after: UnknownAfter = 60.0
    """a longer gap between heartbeats is unknown time (R-M3)"""
    max_concurrency: Annotated[int, _Number, Field(ge=1, le=100_000)] = 1000
    """probes in flight at once"""
    max_body_memory: Annotated[int, _Number, Field(ge=64 * 1024, le=4 * 1024 * 1024 * 1024)] = (
        64 * 1024 * 1024
    )
    """bytes of response bodies all probes may hold at once; at least every probe's max_body_bytes"""
    resolver: ResolverSettings = ResolverSettings()
    """name resolution of the probes and the resolver canary (R-M2)"""
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    """auto: uvloop when installed (Linux), else asyncio's own; uvloop: required; read at start"""
    sla_metrics_interval: Annotated[float, _Duration, _between(1.0, DAY)] = 60.0
    """how often the per-customer SLA metrics of the running month are refreshed"""
    probe_workers: Literal["auto"] | Annotated[int, _Number, Field(ge=0, le=16)] = "auto"
    """processes probing besides the daemon: auto = 1 above 10,000 targets on 2+ CPUs, else 0; none in a cluster; read at start"""


class Server(Strict):
    id: Identifier
    """unique id (shared namespace with services)"""
    name: Name | None = None
    """human name"""
    probe: ProbeSettings
    """how the server is checked; down = its projects down (R-M4)"""


class Service(Strict):
    id: Identifier
    """unique id (shared namespace with servers)"""
    kind: Literal["web_panel", "project", "mobile_api"]
    """web_panel (shared by all customers) | project | mobile_api"""
    name: Name | None = None
    """human name"""
    server: Identifier | None = None
    """the server a project runs on; required for projects"""
    probe: ProbeSettings
    """how the service is checked"""


class Contact(Strict):
    email: Email
    """e-mail address"""
    phone: Annotated[str, Field(max_length=40)] | None = None
    """phone number, for calls an operator logs"""
    name: Name | None = None
    """person's name"""


class Contacts(Strict):
    technical: Contact
    """technical contact: outage, maintenance and claim e-mails"""
    executive: Contact | None = None
    """executive contact: outage e-mails too"""


class Fee(Strict):
    amount: Amount
    """yearly fee (R-T2 money value = days × fee / 365)"""
    currency: Currency
    """ISO 4217 code"""


class Site(Strict):
    domain: Domain
    """the site's domain; belongs to one customer (L-1)"""
    paid_until: dt.date | None = None
    """end of the paid support period; after it the site is suspended (R-EX5)"""
    version: Annotated[str, Field(max_length=64)] | None = None
    """product version the site runs (R-EX7)"""


class Customer(Strict):
    id: Identifier
    """unique customer id"""
    name: Name
    """customer's name (may be Persian)"""
    contacts: Contacts
    """who receives e-mail"""
    fee: Fee
    """yearly fee"""
    services: list[Identifier] = []
    """projects and the mobile API it uses; the web panel is implied"""
    sites: Annotated[list[Site], Field(min_length=1)]
    """domains, each with its own support period and balance (L-1)"""
    clone: bool = False
    """runs a self-hosted clone: no credits at all (R-EX6)"""
    language: Literal["en", "fa"] | None = None
    """en | fa: the language this customer reads; default provider.language"""


class TicketType(Strict):
    """A priced kind of ticket (L-5, seed 000): its price is debited from the site's support
    balance when the ticket is opened, and given back when the diagnosis finds a defect."""

    id: Identifier
    """unique ticket type id, as ticket open --type names it"""
    name: str
    """what the ticket delivers, shown to customers"""
    price: Annotated[Decimal, Field(ge=0), _AsciiNumber]
    """price in the site's currency (the customer's fee currency); 0: free"""


class SMTP(Strict):
    host: str
    """SMTP server"""
    port: Annotated[int, _Number, Field(ge=1, le=65535)] = 587
    """SMTP port"""
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    """starttls (required, no plaintext fallback) | implicit | none"""
    username: str | None = None
    """login name"""
    password_file: SecretFile | None = None
    """file holding the password; ${CREDENTIALS_DIRECTORY}/NAME for a systemd credential"""
    password_env: str | None = None
    """environment variable holding the password"""
    sender: Email | None = None
    """From address over SMTP; required unless provider.sender is set (then it may be left out, or must be equal)"""
    timeout: SMTPTimeout = 30.0
    """timeout of each SMTP operation"""


def _at_least(seconds: float, why: str) -> AfterValidator:
    """A duration bound whose error says it in days and why."""

    def check(value: float) -> float:
        if value < seconds:
            raise ValueError(f"expected at least {seconds / 86400:g} d ({why})")
        return value

    return AfterValidator(check)


Days = Annotated[float, BeforeValidator(parse_duration), Field(le=36500 * 86400.0)]
# R-M7: evidence is kept at least 13 months; the longest 13 consecutive months, Gregorian or
# Jalali, have 397 days.
THIRTEEN_MONTHS = 397 * 86400.0


class RetentionSettings(Strict):
    """How long the probe history is kept (R-M7); older rows are pruned in small batches."""

    evidence: Annotated[
        Days, _at_least(THIRTEEN_MONTHS, "13 months, the longest 13 consecutive months; R-M7")
    ] = 400 * 86400.0
    """failures and probe runs (the evidence) are kept this long; at least 13 months (397 d)"""
    hourly_rollups: Annotated[Days, _at_least(86400.0, "a day of hours")] = 35 * 86400.0
    """hourly latency roll-ups are kept this long, then merged into one row per target and day"""
    daily_rollups: Annotated[Days, _at_least(86400.0, "a day")] = 400 * 86400.0
    """daily latency roll-ups are kept this long (at least hourly_rollups)"""
    interval: Annotated[float, BeforeValidator(parse_duration), Field(ge=1.0, le=3600.0)] = 60.0
    """how often old rows are pruned, a few batches of 2,000 rows at a time"""


class BackupSettings(Strict):
    """Copies of the SQLite database the daemon makes itself (``sla-monitor db backup DIR``
    on a schedule), watched by ``sla_monitor_backup_last_success_timestamp_seconds``."""

    directory: PathText | None = None
    """where the copies go (sla-monitor-<UTC time>.db): an absolute path, or one relative to the database's directory; null: the daemon makes none (SQLite only: PostgreSQL is backed up with pg_dump)"""
    every: Annotated[float, BeforeValidator(parse_duration),
                     Field(ge=1.0, le=7 * 86400.0)] = 86400.0
    """a copy when the newest one there is this old (looked at every tenth of it, at most hourly, and at start)"""
    keep: Annotated[int, _Number, Field(ge=1, le=1000)] = 14
    """the newest copies kept there; older ones (of that name only) are removed"""


class Storage(Strict):
    # Default: SQLite in $STATE_DIRECTORY (systemd) or the current directory.
    url: str | None = None
    """sqlite+aiosqlite:///PATH or postgresql+asyncpg://...; default SQLite in $STATE_DIRECTORY or the current directory"""
    history_checkpoint: Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=3600)] = 300.0
    """how long a continuing run's counters and the hour's latency roll-up may wait to be written (failures and state changes: within seconds; R-M7)"""
    retention: RetentionSettings = RetentionSettings()
    """how long the probe history is kept (R-M7)"""
    busy_timeout: BusyTimeout = 30.0
    """SQLite: how long a write waits for another writer's lock before it fails (and is retried)"""
    backup: BackupSettings = BackupSettings()
    """SQLite: copies of the database the daemon makes on a schedule"""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value


class Webhook(Strict):
    """Operator alerts without SMTP: each operator e-mail (outage, recovery, D-2
    at risk, message given up, late maintenance notice) and the SMTP server's state, POSTed
    as Alertmanager webhook JSON."""

    url: str
    """http:// or https:// URL that takes Alertmanager webhook JSON (version 4)"""
    timeout: WebhookTimeout = 5.0
    """each POST gives up after this (tried again 5 s later)"""
    secret_header: str | None = None
    """header carrying the secret, e.g. Authorization; its value from secret_file or secret_env"""
    secret_file: SecretFile | None = None
    """file holding the header's value (e.g. Bearer TOKEN); ${CREDENTIALS_DIRECTORY}/NAME for a systemd credential"""
    secret_env: str | None = None
    """environment variable holding the header's value"""

    _url = field_validator("url")(_absolute_http_url)

    @field_validator("secret_header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
            raise ValueError("expected a header name like 'Authorization'")
        return value


class HTTPServer(Strict):
    listen: str = "127.0.0.1:9180"
    """HOST:PORT for /metrics, /healthz, /readyz, the API and pages"""
    public_url: str | None = None
    """the pages' address as customers reach it (links, the Atom feed); default http://LISTEN"""
    tokens_file: SecretFile | None = None
    """file of API tokens, one 'SCOPE TOKEN-OR-sha256:HASH [NAME]' per line (see README); ${CREDENTIALS_DIRECTORY}/NAME for a systemd credential"""
    tokens_env: str | None = None
    """environment variable of API tokens, entries as in tokens_file, comma-separated"""
    link_key_file: SecretFile | None = None
    """file of keys signing customer links, one per line, the first signs (rotation: see README)"""
    link_key_env: str | None = None
    """environment variable of link keys, comma-separated, the first signs"""
    link_lifetime: PolicyDuration = 7 * 86400.0
    """how long a signed customer link stays valid"""
    link_max_lifetime: PolicyDuration = YEAR
    """the longest a link made by 'customer link --valid' may stay valid (at least link_lifetime)"""
    header_timeout: Annotated[float, _Duration, _between(0.1, 10 * MINUTE)] = 10.0
    """a connection is closed when it has not sent a complete request header this long after it opened or after its previous answer (slow or idle clients); also how long an idle keep-alive connection stays open (a load balancer reusing connections should drop idle ones sooner); read at start"""
    max_connections: Annotated[int, _Number, Field(ge=1, le=60000)] = 1000
    """HTTP connections open at once; one more is answered 503 with Retry-After and closed (each holds a file descriptor); read at start"""
    max_config_bytes: Annotated[int, _Number, Field(ge=1024, le=1024**3)] = 8 * 1024 * 1024
    """the largest configuration POST /api/v1/config/check reads, in bytes (a larger one: 413)"""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("expected an absolute http:// or https:// URL like "
                             "'https://status.example.com'")
        return value.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise ValueError("expected HOST:PORT, e.g. '127.0.0.1:9180'")
        return value


class Statements(Strict):
    """Monthly SLA statements: ``sla-monitor statement show|send``, and with
    ``auto`` the daemon's own closing and sending."""

    auto: bool = False
    """the daemon closes each ended month, e-mails its statements and reminds customers owed credit"""
    delay: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = 86400.0
    """how long after the month ends (provider's zone) the daemon closes it and sends them"""
    reminder_before: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] | None = (
        3 * 86400.0
    )
    """remind customers owed credit, with no claim, this long before the claim deadline; null: never"""


LeaseTimeout = Annotated[float, _Duration, _between(0.5, HOUR)]


def _default_node() -> str:
    import socket

    name = re.sub(r"[^a-z0-9_.-]", "-", socket.gethostname().lower()).strip("-_.")
    return name[:63] or "node"


class ClusterSettings(Strict):
    """Several daemons on one PostgreSQL: they divide the targets of each vantage,
    take over a lost node's, and confirm outages from several vantages.
    Requires ``storage.url`` on PostgreSQL; without this section the daemon runs alone."""

    node: Identifier = Field(default_factory=_default_node)
    """this daemon's name, unique in the cluster; default: the host name"""
    vantage: Identifier = "default"
    """where this daemon probes from (a network, a data centre); nodes of one vantage divide the targets"""
    vantages: list[Identifier] = []
    """every vantage of the deployment (default: this one); quorum counts among them"""
    quorum: Annotated[int, _Number, Field(ge=1, le=100)] | None = None
    """vantages that must see a target down to open an incident; default: a majority of vantages"""
    lease_timeout: LeaseTimeout = 30.0
    """a node not seen for this long is dead, and its target leases are taken over"""


#: How long a recurring maintenance window may last, in seconds: a minute to a day.
RECURRING_SECONDS = (60.0, DAY)
RecurringDuration = Annotated[float, _Duration, _between(*RECURRING_SECONDS)]
#: How much earlier than the notice period an occurrence is recorded, at least: time for
#: its notice to be sent (and retried) before the notice is late (D-3).
ANNOUNCE_MARGIN = HOUR
AnnounceAhead = Annotated[float, _Duration, _between(HOUR, 60 * DAY)]


#: A time of day as a recurring window's ``at`` takes it: HH:MM, 00:00 to 23:59.
TIME_OF_DAY = r"([01][0-9]|2[0-3]):[0-5][0-9]"


def time_of_day(value: object) -> object:
    """An unquoted ``23:00`` as YAML 1.1 reads it (the sexagesimal number 1380: minutes of
    the day) back to the time it says; ``3:00`` to ``03:00``."""
    if type(value) is int and value >= 0:  # 24:00 or later: refused below, as a time
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and re.fullmatch(r"[0-9]:[0-5][0-9]", value):
        return "0" + value
    return value


def _number_or_last(highest: int, what: str) -> BeforeValidator:
    """A place in a month, 1 to ``highest`` or ``last``: ``what`` names it in a refusal."""

    def check(value: object) -> object:
        if value == "last" or (type(value) is int and 1 <= value <= highest):
            return value
        raise ValueError(f"expected {what}, 1 to {highest}, or last")

    check.type_name = f"1 to {highest} \\| last"  # type: ignore[attr-defined]  # the reference's
    return BeforeValidator(check)


#: A day of a month in a recurring window: its number, or ``last`` (28 to 31, as the month).
MonthDay = Annotated[int | str, _number_or_last(31, "a day of the month")]
#: The first (1) to fifth (5) or ``last`` of a month's weekdays in a recurring window.
MonthWeek = Annotated[int | str, _number_or_last(5, "which of the month's weekdays")]


class RecurringWindow(Strict):
    """A maintenance window that comes back each week, on ``every`` weekday (or only the
    ``weeks_of_month`` of them: the first Friday), or each month, on its ``days_of_month``,
    in the provider's calendar (R-EX1, D-3): every occurrence is
    recorded ``maintenance.announce`` before it begins, as ``maintenance add`` records a
    window, and noticed to the customers as any window."""

    id: Identifier
    """unique id of the schedule"""
    services: Annotated[list[Identifier], Field(min_length=1, max_length=100)]
    """service or server ids it covers (a server's covers its projects)"""
    every: Annotated[list[Weekday], Field(min_length=1, max_length=7),
                     AfterValidator(_each_once)] | None = None
    """the weekdays it begins on, e.g. [sunday]; or days_of_month"""
    weeks_of_month: Annotated[list[MonthWeek], Field(min_length=1, max_length=6),
                              AfterValidator(_each_once)] | None = None
    """with every: only these of each month's weekdays in provider.calendar, 1 to 5 or last, e.g. [1] the first (absent: every week)"""
    days_of_month: Annotated[list[MonthDay], Field(min_length=1, max_length=32),
                             AfterValidator(_each_once)] | None = None
    """the days of the month it begins on in provider.calendar, 1 to 31 or last, e.g. [1, last] (a month without the day has no occurrence); or every"""
    at: Annotated[str, BeforeValidator(time_of_day),
                  _matching(TIME_OF_DAY, "a time of day HH:MM, 00:00 to 23:59")]
    """when it begins, HH:MM in provider.timezone"""
    duration: RecurringDuration
    """how long it lasts, at most 24 h"""
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    """shown to customers"""


class MaintenanceSettings(Strict):
    """Recurring maintenance windows (``maintenance add`` records one-off ones)."""

    recurring: Annotated[list[RecurringWindow], Field(max_length=100)] = []
    """weekly and monthly windows, each occurrence recorded ahead and noticed"""
    announce: AnnounceAhead = 7 * DAY
    """how long before an occurrence it is recorded and noticed; more than policy.maintenance_notice"""


class StatusPage(Strict):
    """The public status page (``/``), its feed, its JSON and its badges."""

    hosted_projects_threshold: Annotated[float, _Number, Field(ge=0, le=100)] = 10.0
    """percent of the customers' hosted projects that must be unavailable before the page-wide status (its banner, the JSON's indicator) reports an outage; at or below it only the hosted projects' own line shows them"""
    refresh: Annotated[float, _Duration, _between(10, HOUR)] | None = None
    """the status page and the incident pages ask browsers to reload them this often (an HTML meta refresh, no JavaScript); null: never"""
    subscriptions: bool = True
    """offer e-mail notices of incidents and maintenance on the status page (a form, double opt-in); needs a link key (http.link_key_file or http.link_key_env) to sign the confirmation and unsubscribe links"""
    subscribe_per_address: Annotated[int, _Number, Field(ge=1, le=1000)] = 3
    """subscription requests (each sends a confirmation e-mail) one e-mail address may make per subscribe_period; more are answered 429 with Retry-After"""
    subscribe_per_client: Annotated[int, _Number, Field(ge=1, le=100000)] = 20
    """subscription requests one client (IP address) may make per subscribe_period; more are answered 429 with Retry-After"""
    subscribe_period: Annotated[float, _Duration, _between(60, 7 * DAY)] = HOUR
    """the period of the subscription rate limits"""
    confirm_within: Annotated[float, _Duration, _between(600, 30 * DAY)] = 2 * DAY
    """how long a subscription's confirmation link stays valid"""


def _channel_url(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://\S+", value):
        raise ValueError("expected an Apprise URL such as ntfy://ntfy.example/alerts or "
                         "json://127.0.0.1:8080/hook")
    return value


ChannelURL = Annotated[str, AfterValidator(_channel_url)]


class Operators(Strict):
    """The operators' channels besides e-mail, through Apprise: every operator alert (an
    outage and its recovery, a duty at risk, a message given up, a late maintenance
    notice) is also sent to each, through the outbox (durable, once per channel, tried
    again for an hour)."""

    notify: list[ChannelURL] = []
    """Apprise URLs (slack://, tgram://, msteams://, matrix://, ntfy://, discord://, json://, form://, ...); put those that hold a token in notify_file"""
    notify_file: SecretFile | None = None
    """a file of Apprise URLs, one per line (a line starting with # is a comment), e.g. ${CREDENTIALS_DIRECTORY}/operator-channels; read at start and on reload"""
    timeout: WebhookTimeout = 10.0
    """each delivery gives up after this (tried again 5 s later)"""


class EvidenceSettings(Strict):
    """The evidence chain (every fact a statement derives from, hash-chained): its checks, and
    the Ed25519 key that signs its head (``sla-monitor evidence``)."""

    check_interval: Annotated[float, _Duration, _between(1.0, DAY)] = 300.0
    """the daemon checks the chain's new entries this often (sla_monitor_evidence_chain_ok)"""
    signing_key: SecretFile | None = None
    """file of the Ed25519 private key (PEM, 'openssl genpkey -algorithm ed25519') that signs the chain's head; under systemd ${CREDENTIALS_DIRECTORY}/evidence-key, loaded from /etc/credstore/sla-monitor.evidence-key; to rotate, replace the file and restart (old public keys stay published); null: no signatures"""
    sign_interval: Annotated[float, _Duration, _between(60.0, 7 * DAY)] = 3600.0
    """the daemon signs the chain's head this often (and each frozen report revision at once)"""


class Config(Strict):
    include: list[str] = []
    """more files whose servers, services, customers and ticket_types are added to this file's: paths, globs (customers.d/*.yaml) or directories (every *.yaml and *.yml in it), relative to this file, read in sorted order; only the main file includes"""
    provider: Provider = Provider()
    """who runs the monitor, time zone and calendar"""
    policy: PolicySettings = PolicySettings()
    """the SLA policy (contract defaults)"""
    monitor: MonitorSettings = MonitorSettings()
    """the monitor's own settings"""
    servers: list[Server] = []
    """servers hosting projects"""
    services: list[Service] = []
    """services customers depend on"""
    customers: list[Customer] = []
    """customers (accounts)"""
    ticket_types: list[TicketType] = []
    """priced ticket types (L-5); tickets without a type are free"""
    smtp: SMTP | None = None
    """SMTP server; without it mail goes to a local Maildir"""
    webhook: Webhook | None = None
    """operator alerts as Alertmanager webhook JSON, a path that does not need SMTP"""
    operators: Operators = Operators()
    """operators' channels besides e-mail (Slack, Telegram, Teams, Matrix, ntfy, ...)"""
    maildir: PathText | None = None
    """where mail goes without SMTP; default <state dir>/Maildir"""
    storage: Storage = Storage()
    """database"""
    http: HTTPServer = HTTPServer()
    """HTTP server"""
    maintenance: MaintenanceSettings = MaintenanceSettings()
    """recurring maintenance windows"""
    statements: Statements = Statements()
    """monthly statements: HTML, PDF and CSV, e-mailed to each customer"""
    status_page: StatusPage = StatusPage()
    """the public status page"""
    cluster: ClusterSettings | None = None
    """several daemons on one PostgreSQL; absent: one daemon alone (SQLite or PostgreSQL)"""
    evidence: EvidenceSettings = EvidenceSettings()
    """the hash-chained evidence: its checks and its signing key"""
