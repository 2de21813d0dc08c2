"""What this installation of Ensemble is and where it keeps its data.

The version is the installed distribution's (package metadata, from ``setup.cfg``), so
``--version``, ``/api/health`` and the wheel agree. The data directory defaults to ``var/`` in
a checkout (a source tree with its ``.git``, run from there or installed with ``pip install
-e``) and otherwise, for an installed package, to the user's data directory as the platform
defines it (``platformdirs``: ``~/.local/share/ensemble`` on Linux, ``%LOCALAPPDATA%\\ensemble``
on Windows).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import platformdirs

__all__ = ["DISTRIBUTION", "checkout_root", "default_data_dir", "version"]

DISTRIBUTION = "ensemble"
# actors/runtime/distribution.py → the directory that holds actors/, messages/ and web/.
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def version() -> str:
    """The installed distribution's version, or ``"0+unknown"`` when running from a source
    tree that was never installed (no package metadata to read)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def checkout_root(source_root: Path = _SOURCE_ROOT) -> Path | None:
    """The source checkout this code runs from, or None for an installed package."""
    if (source_root / ".git").exists() and (source_root / "setup.cfg").is_file():
        return source_root
    return None


def default_data_dir(source_root: Path = _SOURCE_ROOT) -> str:
    """``<checkout>/var`` in a checkout, else the user's data directory for Ensemble."""
    root = checkout_root(source_root)
    if root is not None:
        return str(root / "var")
    return platformdirs.user_data_dir(DISTRIBUTION, appauthor=False)
