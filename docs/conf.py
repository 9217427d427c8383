"""Sphinx configuration for the gearproto documentation."""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gearproto import __version__  # noqa: E402

project = "gearproto"
author = "The gearproto developers"
copyright = "2026, The gearproto developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
html_static_path: list[str] = []
exclude_patterns = ["_build"]


def _hide_private_bases(
    app: Sphinx, name: str, obj: object, options: object, bases: list[object]
) -> None:
    """Show ``object`` instead of the I/O-free base classes in ``transports._core``."""
    for i, base in enumerate(bases):
        module = getattr(getattr(base, "__origin__", base), "__module__", "")
        if module.startswith("transports._core"):
            bases[i] = object


def setup(app: Sphinx) -> None:
    """Register the hooks above."""
    app.connect("autodoc-process-bases", _hide_private_bases)
