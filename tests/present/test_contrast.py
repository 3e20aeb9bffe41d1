"""WCAG 2.1 AA contrast for every text colour of the pages' stylesheet, light and dark
(``prefers-color-scheme``): each ``color`` the stylesheet declares, resolved through its
custom properties, against every surface that text can sit on (its own rule's background,
else the page's surfaces), at least 4.5:1 (success criterion 1.4.3, normal-sized text:
the bold banners are 16 px, not "large")."""

from __future__ import annotations

import re
from importlib import resources

import pytest

CSS = resources.files("monitor.present").joinpath("static", "style.css").read_text("utf-8")
AA = 4.5
# Where text without a background of its own sits: the page, a card, a notice, a figure.
SURFACES = ("html", ".card", ".notice", ".figures div")
# Rules that give a banner its background; the banner's own rule gives the text colour.
BANNERS = (".indicator-", ".incident-")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_DARK = re.compile(r"@media\s*\(prefers-color-scheme:\s*dark\)\s*\{((?:[^{}]*\{[^{}]*\})*)\s*\}")


def _declarations(body: str) -> dict[str, str]:
    found = {}
    for part in re.sub(r"/\*.*?\*/", "", body, flags=re.S).split(";"):
        name, colon, value = part.partition(":")
        if colon:
            found[name.strip()] = value.strip()
    return found


def rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule outside the dark scheme's block."""
    plain = _DARK.sub("", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    plain = re.sub(r"@media[^{]*\{", "", plain)  # other media blocks: their rules count too
    return [(selector.strip(), _declarations(body)) for selector, body in _RULE.findall(plain)]


def variables(css: str, scheme: str) -> dict[str, str]:
    found = {k: v for selector, d in rules(css) if selector == ":root"
             for k, v in d.items() if k.startswith("--")}
    if scheme == "dark":
        [dark] = _DARK.findall(re.sub(r"/\*.*?\*/", "", css, flags=re.S))
        for selector, body in _RULE.findall(dark):
            if selector.strip() == ":root":
                found.update((k, v) for k, v in _declarations(body).items())
    return found


def resolve(value: str, names: dict[str, str]) -> str | None:
    """A solid colour as ``#rrggbb``; None for what is not one (a gradient, ``none``)."""
    value = value.strip()
    found = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if found:
        return resolve(names[found[1]], names)
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:]).lower()
    if re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return value.lower()
    return None


def luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def pairs(css: str, scheme: str) -> list[tuple[str, str, str]]:
    """(where, text colour, background) for every text colour and its surfaces."""
    names = variables(css, scheme)
    declared = rules(css)

    def background(d: dict[str, str]) -> str | None:
        return resolve(d.get("background-color", d.get("background", "")), names)

    surfaces = [background(d) for s, d in declared if s in SURFACES]
    surfaces = [s for s in surfaces if s is not None]
    assert len(surfaces) >= 3, surfaces
    banner = next(resolve(d["color"], names) for s, d in declared if s == ".banner")
    found = []
    for selector, d in declared:
        own = background(d)
        text = resolve(d["color"], names) if "color" in d else None
        if selector == ".banner":
            continue  # its backgrounds are the banners' rules, paired below
        if selector.startswith(BANNERS) and own is not None:
            found.append((selector, text or banner or "", own))
        elif text is not None:
            for surface in [own] if own is not None else surfaces:
                found.append((selector, text, surface))
    return found


def test_the_ratio_is_wcags() -> None:
    assert round(ratio("#000000", "#ffffff"), 2) == 21.0
    assert round(ratio("#ef6c00", "#ffffff"), 2) == 3.08  # the orange text of the issue
    assert round(ratio("#767676", "#ffffff"), 2) == 4.54  # the lightest AA grey on white


def test_the_check_finds_a_colour_below_aa() -> None:
    css = CSS.replace(".state-partial_outage { color: var(--partial-text); }",
                      ".state-partial_outage { color: #ef6c00; }")
    assert css != CSS
    low = {(w, t) for w, t, b in pairs(css, "light") if ratio(t, b) < AA}
    assert low == {(".state-partial_outage", "#ef6c00")}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_meets_aa(scheme: str) -> None:
    found = pairs(CSS, scheme)
    assert len(found) > 20
    low = [(where, text, surface, round(ratio(text, surface), 2))
           for where, text, surface in found if ratio(text, surface) < AA]
    assert low == []
    assert {".indicator-major", ".state-partial_outage", "a", ".muted, .updated"} <= {
        w for w, _, _ in found}


def test_dark_mode_follows_the_readers_setting() -> None:
    light, dark = variables(CSS, "light"), variables(CSS, "dark")
    changed = {k for k in dark if dark[k] != light.get(k)}
    assert {"--ink", "--paper", "--soft", "--link"} <= changed
