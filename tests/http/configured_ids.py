"""Schemathesis hooks for the positive-data run of ``tests/http/test_openapi.py``: a
generated body's ids become the test site's configured ones (``tests/http/site.py``), as
``schemathesis.toml``'s ``[parameters]`` make the query's and the path's. A public
document does not list the configuration's ids, so a generated one is refused as unknown,
and the checks that come after it (the body's times, amounts, months, texts) would never
be reached. Loaded by schemathesis from this file's path (``SCHEMATHESIS_HOOKS``), not
imported by the tests."""

from __future__ import annotations

from typing import Any

import schemathesis

#: A body's field -> the configured id it takes: ACME's, and a shared service the status
#: page offers (``services``: a maintenance window's and a subscription's alike).
CONFIGURED: dict[str, Any] = {
    "customer": "acme",
    "site": "acme.example",
    "service": "acme-shop",
    "services": ["panel"],
    "customers": ["acme"],
}


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    if isinstance(body, dict):
        body.update({name: value for name, value in CONFIGURED.items() if name in body})
        body.pop("type", None)  # the site configures no ticket types: a ticket without one
    return body
