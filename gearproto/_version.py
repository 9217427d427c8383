"""The package version, single source for pyproject and ``gearproto.__version__``."""

__version__ = "0.1.0.dev0"
