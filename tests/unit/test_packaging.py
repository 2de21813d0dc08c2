"""What ships with the package: the vendored chart library is the lockfile's version, whole,
with its licence."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "web" / "static" / "vendor"


def test_the_vendored_chart_library_is_the_pinned_version_with_its_licence() -> None:
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/lightweight-charts"]["version"]
    declared = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    assert declared["dependencies"]["lightweight-charts"] == pinned
    library = (VENDOR / "lightweight-charts.mjs").read_text(encoding="utf-8")
    header = re.search(r"TradingView Lightweight Charts™ v(\S+)", library[:400])
    assert header is not None and header.group(1) == pinned
    assert "export{" in library.replace(" ", "")[-5000:]  # the whole module, not a stub
    licence = (VENDOR / "lightweight-charts.LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    assert f"`lightweight-charts` {pinned}" in (VENDOR / "README.md").read_text(encoding="utf-8")
