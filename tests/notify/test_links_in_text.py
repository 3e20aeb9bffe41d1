"""A signed link in an e-mail's plain text stays on one line: its base64url signature may
hold a hyphen, and wrapping there (textwrap's default) cut the link in two, so that a
mail client opened only the first half (found by the subscription tests, where about
one confirmation link in four failed)."""

from __future__ import annotations

from monitor.notify.layout import Para, Style, compose

LINK = ("https://status.example/customer/acme?expires=1767225600&key=0a1b2c3d"
        "&sig=Zm9vYmFy-YmF6cXV4_cXV1eGNvcmdlZ3JhdWx0-Z2FycGx5")


def test_a_link_with_hyphens_is_never_wrapped() -> None:
    rendered = compose(Style("Demo Hosting"), "Your link", [
        Para("Open your page with this link, valid for seven days:"), Para(LINK),
        Para(f"Or copy it: {LINK} and paste it into your browser's address bar.")])
    lines = rendered.text.splitlines()
    assert LINK in lines
    assert sum(LINK in line for line in lines) == 2
