"""A statement's PDF renders under the unit's seccomp filters: with
``statements.auto`` the daemon renders PDFs itself, so WeasyPrint (cffi, Pango, HarfBuzz,
fontconfig) must need no memory both writable and executable (``MemoryDenyWriteExecute=``)
and no system call the unit forbids."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.systemd.test_sandbox import in_sandbox, sandbox_spec

pytestmark = pytest.mark.slow

RENDER = """
import sys
from monitor.present.statement import pdf
document = pdf('<!DOCTYPE html><html dir="rtl"><body><p>شرکت بیتا نظرسنجی 99.652 %</p></body></html>')
sys.stdout.write(document[:5].decode())
"""


def test_a_persian_pdf_renders_in_the_sandbox() -> None:
    command, env = in_sandbox(sandbox_spec(), sys.executable, "-c", RENDER)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "%PDF-"
