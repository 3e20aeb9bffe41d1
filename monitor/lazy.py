"""A package's names imported when first used (PEP 562's module ``__getattr__``), not with
the package: ``from monitor.actions import list_incidents`` loads the module that defines
it and what that needs, not every action; a probe worker importing
:mod:`monitor.config.schema` does not bring the loader, the SLA engine and YAML with the
package. The package lists each name's module once, for type checkers under
``TYPE_CHECKING`` and for :func:`exports` in a mapping."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: a name of ``homes`` (name -> the module
    defining it) imported at its first use, then kept in the package's namespace (later
    uses do not come here); any other name is an ``AttributeError``."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
