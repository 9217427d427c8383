"""Builds gearproto's optional C speedups; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # optional: a machine without a C compiler or Python headers gets a working,
        # pure-Python gearproto (a warning, not a failed install).
        Extension("gearproto._speedups", ["gearproto/_speedups.c"], optional=True)
    ]
)
