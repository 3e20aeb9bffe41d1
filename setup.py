"""Packaging glue that pyproject.toml cannot express: the migrations live in ``alembic/``
in the checkout (the layout operators know) and ship as ``monitor/migrations`` in the
wheel, so that ``sla-monitor db upgrade`` works from an installed package.

Folders of data without Python (the Jinja2 templates, the pages' stylesheet) are listed
as namespace packages with their files as package data, as setuptools asks for data
folders ("Package would be ignored" otherwise); ``tests/packaging`` checks that every
file of ``monitor/`` ships."""

from setuptools import find_namespace_packages, setup

setup(
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
    },
)
