"""Packaging glue that pyproject.toml cannot express: the migrations live in ``alembic/``
in the checkout (the layout operators know) and ship as ``monitor/migrations`` in the
wheel, so that ``sla-monitor db upgrade`` works from an installed package."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["monitor", "monitor.*"]),
        "monitor.migrations",
        "monitor.migrations.versions",
    ],
    package_dir={"monitor.migrations": "alembic"},
    package_data={
        "monitor": ["py.typed"],
        # The one Jinja2 environment's templates and the pages' stylesheet (monitor.present.html).
        "monitor.present": ["templates/*", "static/*"],
        "monitor.migrations": ["script.py.mako"],
    },
)
