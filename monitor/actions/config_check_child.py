"""The child process of :func:`monitor.actions.config_check.check_config_isolated`:
``python -I -m monitor.actions.config_check_child`` reads a configuration's YAML on
stdin and prints its check as JSON, or the ConfigError (one JSON line) and exits 2.
(A module of its own: ``-m`` of a module the package already imported runs it twice.)
"""

from __future__ import annotations

import json
import sys

from monitor.actions.config_check import check_config_text
from monitor.config.isolated import error_line, restrict
from monitor.errors import ConfigError
from monitor.present import as_json

__all__ = ["main"]


def main() -> int:
    """The child: YAML on stdin; the check's JSON on stdout, or the ConfigError and exit 2."""
    restrict()
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        checked = check_config_text(text)
    except ConfigError as exc:
        print(error_line(exc))
        return 2
    sys.stdout.write(json.dumps(as_json(checked), ensure_ascii=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
