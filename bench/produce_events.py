"""Command line for :mod:`bench.producer`. A module of its own, so that the producer's message
classes are never defined in ``__main__``, which actors could not unpickle (DESIGN.md §2)."""

from __future__ import annotations

import sys

from bench.producer import main

if __name__ == "__main__":
    sys.exit(main())
