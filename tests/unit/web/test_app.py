"""The app's shape: route modules import without the factory (no cycle), and nothing in the
web app imports an actor module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROUTE_MODULES = tuple(f"web.{path.stem}" for path in
                      sorted((Path(__file__).parents[3] / "web").glob("*_routes.py")))


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)


def test_the_route_modules_import_without_the_app_factory() -> None:
    assert "web.trading_routes" in ROUTE_MODULES
    result = run_python(f"import sys, web.core, {', '.join(ROUTE_MODULES)}; "
                        "assert 'web.app' not in sys.modules, 'web.app was imported'")
    assert result.returncode == 0, result.stderr


def test_the_app_imports_no_actor_module() -> None:
    result = run_python("import sys, web.app; bad = sorted(m for m in sys.modules if "
                        "m.startswith('actors.') and m.endswith('.actor')); assert not bad, bad")
    assert result.returncode == 0, result.stderr
