"""A statement's PDF renders under the unit's seccomp filters: with
``statements.auto`` the daemon renders PDFs itself, so Typst (a Rust library, the fonts
read from the system's folders) must need no memory both writable and executable
(``MemoryDenyWriteExecute=``) and no system call the unit forbids."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.systemd.test_sandbox import in_sandbox, sandbox_spec

pytestmark = pytest.mark.slow

RENDER = """
import datetime as dt, sys
from decimal import Decimal
from monitor.present.statement import Summary, check_pdf, summary_pdf
check_pdf()
at = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
summary = Summary("شرکت بیتا نظرسنجی", "2026-10", "gregorian", "UTC", at, at, Decimal("99.652"),
                  (), None, None, False, at)
sys.stdout.write(summary_pdf(summary)[:5].decode())
"""


def test_a_persian_pdf_renders_in_the_sandbox() -> None:
    command, env = in_sandbox(sandbox_spec(), sys.executable, "-c", RENDER)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "%PDF-"
