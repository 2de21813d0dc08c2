"""``python -m ensemble``: the command line (:mod:`ensemble.cli`). Defines nothing of its own:
a message class defined in a module run with ``-m`` would live in ``__main__`` and fail to
unpickle in the actors (DESIGN.md §10)."""

from __future__ import annotations

import sys

from ensemble.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main(prog="python -m ensemble"))
