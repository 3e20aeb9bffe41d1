"""Packaging glue that pyproject.toml cannot express: the migrations live in ``alembic/``
in the checkout (the layout operators know) and ship as ``monitor/migrations`` in the
wheel, so that ``sla-monitor db upgrade`` works from an installed package.

Folders of data without Python (the Jinja2 templates, the pages' stylesheet) are listed
as namespace packages with their files as package data, as setuptools asks for data
folders ("Package would be ignored" otherwise); ``tests/packaging`` checks that every
file of ``monitor/`` ships.

The gettext catalogs (``monitor/locale/<language>/LC_MESSAGES/messages.po``, README
"Languages") are compiled to ``messages.mo`` into the build by Babel, as ``pybabel
compile`` does (fuzzy messages left out): the wheel ships both, and the package loads the
compiled one (:func:`monitor.present.language.catalog`)."""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class build_py_with_catalogs(build_py):
    """``build_py``, then every ``messages.po`` of ``monitor/locale`` compiled beside it."""

    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for source in sorted(Path("monitor/locale").glob("*/LC_MESSAGES/messages.po")):
            target = Path(self.build_lib) / source.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with source.open("rb") as po:
                catalog = read_po(po, locale=source.parts[-3])
            with target.open("wb") as mo:
                write_mo(mo, catalog)


setup(
    cmdclass={"build_py": build_py_with_catalogs},
    packages=[
        *find_namespace_packages(include=["monitor", "monitor.*"], exclude=["*.__pycache__"]),
        "monitor.migrations",
        "monitor.migrations.versions",
    ],
    package_dir={"monitor.migrations": "alembic"},
    package_data={
        "monitor": ["py.typed"],
        # The one Jinja2 environment's templates and the pages' stylesheet and icon
        # (monitor.present.html, monitor.http).
        "monitor.present.templates": ["*"],
        "monitor.present.static": ["*"],
        "monitor.migrations": ["script.py.mako"],
        # The translations' sources; their compiled .mo files are added by the build.
        "monitor.locale": ["messages.pot"],
        **{f"monitor.locale.{folder.parent.name}.LC_MESSAGES": ["messages.po"]
           for folder in Path("monitor/locale").glob("*/LC_MESSAGES")},
    },
)
