"""The suite tests the product people install, not the checkout (issue: the daemon package was
missing from the wheel while every test passed).

* ``monitor`` must come from the installed distribution: pytest runs with
  ``--import-mode=importlib`` (pyproject.toml), so the checkout is never put on
  ``sys.path``, and ``tests/conftest.py`` stops the session if it is.
* Every directory of ``monitor/`` holding ``.py`` files must be a package inside the
  wheel that ``pip wheel .`` builds from this checkout, and every other file of
  ``monitor/`` (templates, the pages' stylesheet and icon, ``py.typed``) ships too: a
  template left out passes every test of a checkout and fails the installed daemon.
"""

from __future__ import annotations

import gettext
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import monitor
from tests.support import editable_install_of, sla_monitor_command

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wheel_installed() -> None:
    """These tests prove the installed wheel. An editable install (development) *is* the
    checkout: skipped there, and an error in CI, which always installs the wheel."""
    if editable_install_of(CHECKOUT):
        if os.environ.get("CI"):
            pytest.fail("CI must test the built wheel, not an editable install")
        pytest.skip("proves the installed wheel; this is an editable install (CI runs it)")


def _data_files() -> set[str]:
    """Paths (as in the wheel) of every file of monitor/ that is not Python source."""
    return {
        path.relative_to(CHECKOUT).as_posix()
        for path in (CHECKOUT / "monitor").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
    }


def _source_packages() -> set[str]:
    """Dotted names of every folder of monitor/ holding .py files (caches and data aside)."""
    found = set()
    for path in (CHECKOUT / "monitor").rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        found.add(".".join(path.parent.relative_to(CHECKOUT).parts))
    return found


def test_monitor_is_imported_from_the_installed_distribution(wheel_installed: None) -> None:
    installed = Path(monitor.__file__).resolve()
    # The checkout's source is ./monitor; a venv inside the checkout (.venv/) is an installation.
    assert not installed.is_relative_to(CHECKOUT / "monitor"), (
        f"monitor was imported from the checkout ({installed}), not from the installed package"
    )
    assert "site-packages" in installed.parts


def test_console_script_is_the_venvs_own() -> None:
    done = subprocess.run(
        [*sla_monitor_command(), "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"sla-monitor {monitor.__version__}"


def test_every_source_package_is_in_the_wheel(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools builds in-tree, and a stale build/ left in a
    # checkout would put a package in the wheel that a clean clone leaves out.
    source = tmp_path / "source"
    shutil.copytree(
        CHECKOUT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis", ".venv"
        ),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("sla_monitor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    in_wheel = {
        name.rsplit("/", 1)[0].replace("/", ".") for name in names if name.endswith("/__init__.py")
    }
    expected = _source_packages()
    assert expected, "found no source packages: is CHECKOUT right?"
    missing = sorted(expected - in_wheel)
    assert not missing, f"packages left out of the wheel (no __init__.py?): {missing}"
    for package in sorted(expected):
        # Every module of the checkout ships too, not only the __init__.py.
        for path in (CHECKOUT / package.replace(".", "/")).glob("*.py"):
            assert f"{package.replace('.', '/')}/{path.name}" in names
    # The migrations ship inside the package, so `sla-monitor db upgrade` works when installed.
    assert "monitor/migrations/env.py" in names
    # Exactly the checkout's migrations: the one of 0.1.0 (initial_schema) and any after it.
    shipped = {n for n in names if n.startswith("monitor/migrations/versions/")}
    assert shipped == {f"monitor/migrations/versions/{path.name}"
                       for path in (CHECKOUT / "alembic" / "versions").glob("*.py")}
    assert "monitor/migrations/versions/initial_schema.py" in shipped
    assert "monitor/migrations/script.py.mako" in names
    data = _data_files()
    assert {"monitor/py.typed", "monitor/present/templates/status.html",
            "monitor/present/templates/statement.html",
            "monitor/present/static/style.css"} <= data
    missing_data = sorted(data - set(names))
    assert not missing_data, f"data files left out of the wheel: {missing_data}"
    # The Persian catalog compiled at build time (setup.py), and it reads as gettext does.
    compiled = "monitor/locale/fa/LC_MESSAGES/messages.mo"
    assert compiled in names, "the compiled Persian catalog is not in the wheel"
    with zipfile.ZipFile(wheel) as archive:
        persian = gettext.GNUTranslations(io.BytesIO(archive.read(compiled)))
    assert persian.gettext("Services") == "سرویس‌ها"


def test_the_installed_package_loads_its_compiled_catalogs(wheel_installed: None) -> None:
    """Each language's catalog is installed compiled (``.mo``, built by setup.py) and is
    the one the package reads: a message and a plural in Persian."""
    from monitor.present.language import catalog

    installed = Path(monitor.__file__).resolve().parent
    for source in sorted((CHECKOUT / "monitor/locale").glob("*/LC_MESSAGES/messages.po")):
        code = source.parts[-3]
        assert (installed / "locale" / code / "LC_MESSAGES" / "messages.mo").is_file(), code
    persian = catalog("fa")
    assert isinstance(persian, gettext.GNUTranslations)
    assert persian.gettext("Your claims") == "درخواست‌های شما"
    assert persian.ngettext("%(num)s day with an outage", "%(num)s days with an outage",
                            3) == "%(num)s روز با قطعی"


def test_the_installed_package_has_its_templates_and_static_files(wheel_installed: None) -> None:
    """The installed daemon renders from its own files: each one of the checkout is there,
    byte for byte (a stale install would render yesterday's page)."""
    installed = Path(monitor.__file__).resolve().parent
    for relative in sorted(_data_files()):
        copy = installed / Path(relative).relative_to("monitor")
        assert copy.is_file(), f"{relative} is not installed"
        assert copy.read_bytes() == (CHECKOUT / relative).read_bytes(), f"{relative} differs"


@pytest.mark.parametrize("package", sorted(_source_packages()))
def test_every_source_package_is_installed(package: str, wheel_installed: None) -> None:
    __import__(package)
    module = sys.modules[package]
    location = Path(module.__file__ or "").resolve()
    assert not location.is_relative_to(CHECKOUT / "monitor") and "site-packages" in location.parts
