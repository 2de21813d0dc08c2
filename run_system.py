#!/usr/bin/env python3
"""Ensemble's command line, run from a checkout: ``python run_system.py [run|status|stop]``.

The same as the installed ``ensemble`` command and ``python -m ensemble``; the code is in
:mod:`ensemble.cli`. This file defines nothing, so no message class can end up in
``__main__`` (DESIGN.md §10).
"""

from __future__ import annotations

import sys

from ensemble.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="run_system.py"))
