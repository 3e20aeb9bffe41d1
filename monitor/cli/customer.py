"""``sla-monitor customer link ID`` and ``customer link-key``; ``sla-monitor token new``."""

from __future__ import annotations

import argparse

from monitor.actions.links import load_link_keys, new_link_key, page_link
from monitor.actions.pushes import push_targets
from monitor.cli.commands import summary
from monitor.cli.common import config_path, keep_typed, load_settings, print_json
from monitor.clock import SystemClock
from monitor.config import Settings, parse_duration
from monitor.errors import ConfigError, InputError
from monitor.http.auth import Principal, TokenSet, hash_line, new_token
from monitor.present import format_duration, format_time


def _link(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    valid = None
    if args.valid is not None:
        keep_typed(args, "valid", args.valid)  # its bounds are page_link's
        try:
            valid = parse_duration(args.valid)
        except ValueError as exc:
            raise InputError("valid", args.valid, str(exc)) from None
    link = page_link(settings, load_link_keys(settings.http), args.id, now=SystemClock().now(),
                     valid=valid)
    if args.format == "json":
        print_json({"customer": args.id, "url": link.url, "expires": link.expires})
    else:
        print(link.url)
        lifetime = settings.http.link_lifetime if valid is None else valid
        print(f"valid for {format_duration(lifetime)}, until "
              f"{format_time(link.expires, settings.timezone, settings.calendar)}")
    return 0


def _link_key(args: argparse.Namespace) -> int:
    key = new_link_key()
    if args.format == "json":
        print_json({"key": key})
    else:
        print(key)
    return 0


def _scope_allowed(settings: Settings | None) -> str:
    if settings is None:
        return ("read, write, customer:ID with a configured customer's id or push:ID with a "
                "configured push target's")
    customers = sorted(settings.topology.customers)
    pushed = sorted(push_targets(settings))
    return ("read, write, customer:ID with a configured customer's id ("
            + (", ".join(f"customer:{c}" for c in customers) or "none configured")
            + ") or push:ID with a configured push target's ("
            + (", ".join(f"push:{t}" for t in pushed) or "none configured") + ")")


def _read_back(line: str) -> Principal | None:
    """The one principal the tokens file's loader reads from ``line`` (its own rules,
    :meth:`TokenSet.parse`), or None when it refuses it or reads something else."""
    try:
        entries = TokenSet.parse(line, "line").entries
    except ConfigError:
        return None
    return entries[0][1] if len(entries) == 1 else None


def _loadable(args: argparse.Namespace, token: str) -> str:
    """The tokens-file line for ``token``, once the loader reads back the scope and name
    asked for: a line the daemon would refuse at its next start (or read otherwise, e.g.
    a name cut at a '#') is never printed. With a configuration file, a customer scope
    names a configured customer and a push scope a configured push target (the loader
    refuses the others, :func:`load_tokens`)."""
    scope, name = args.scope, args.name
    settings = load_settings(args) if config_path(args) is not None else None
    alone = _read_back(hash_line(scope, token, "client"))
    if (alone is None or scope != alone.scope_text
            or (settings is not None and alone.customer is not None
                and alone.customer not in settings.topology.customers)
            or (settings is not None and alone.target is not None
                and alone.target not in push_targets(settings))):
        raise InputError("scope", scope, _scope_allowed(settings))
    line = hash_line(scope, token, name)
    found = _read_back(line)
    if found is None or (found.name, found.scope) != (name, alone.scope):
        raise InputError("name", name, "a name http.tokens_file reads back: letters, digits, "
                         "'_', '.', '@', '-', starting with a letter or digit, at most 80 "
                         "characters")
    return line


def _token(args: argparse.Namespace) -> int:
    token = new_token()
    line = _loadable(args, token)
    if args.format == "json":
        print_json({"token": token, "line": line})
    else:
        print(f"token (give it to the client; it is not stored anywhere): {token}")
        print(f"line for http.tokens_file: {line}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "customer", help=summary("customer"),
        description="Customer pages (/customer/ID): print a signed, expiring link to a "
        "customer's page, or a fresh link key for http.link_key_file.")
    sub = parser.add_subparsers(dest="customer_command", metavar="COMMAND", required=True)
    link = sub.add_parser(
        "link", help="print a signed, expiring link to a customer's page",
        description="Print a signed link to the customer's page, for its technical contact. "
        "It expires after http.link_lifetime (7 days by default) or --valid.")
    link.add_argument("id", metavar="ID", help="customer id")
    link.add_argument("--valid", help="how long the link stays valid, e.g. 7d, 12h")
    link.add_argument("--format", choices=["text", "json"], default="text")
    link.set_defaults(handler=_link)
    key = sub.add_parser(
        "link-key", help="print a new random link key",
        description="Print a new random key for http.link_key_file (put it on the first "
        "line to sign with it; keep the old one below it until its links expire).")
    key.add_argument("--format", choices=["text", "json"], default="text")
    key.set_defaults(handler=_link_key)

    tokens = commands.add_parser(
        "token", help=summary("token"), description="API tokens for http.tokens_file.")
    tsub = tokens.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    new = tsub.add_parser(
        "new", help="print a new token and its line for http.tokens_file",
        description="Print a new random token and the line (with its SHA-256, never the "
        "token) to add to http.tokens_file; SCOPE is read, write, customer:ID or push:ID "
        "(the job of push target ID).")
    new.add_argument("scope", metavar="SCOPE", help="read, write, customer:ID or push:ID")
    new.add_argument("--name", default="client", help="name for the audit log (default: client)")
    new.add_argument("--format", choices=["text", "json"], default="text")
    new.set_defaults(handler=_token)
