"""Install with one command: a clean clone of this repository (its committed HEAD, as CI sees
it), ``pip install .`` into a fresh venv with no npm on the PATH, then the installed
``ensemble`` command, run outside the checkout, serves a dashboard that loads in headless
Chromium with its charts and no console error.

About 20 s with a warm pip cache (the dependencies' wheels), up to a minute on a cold one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import FAST_MARKET, Watched, open_dashboard, wait_js
from tests.support.daemon import REPO, Daemon

pytestmark = [pytest.mark.browser, pytest.mark.install]

INSTALL_TIMEOUT_S = 300


class InstalledDaemon(Daemon):
    """The daemon started by the venv's ``ensemble`` console script, from a directory that is
    not a checkout, so nothing can come from the source tree."""

    def __init__(self, venv: Path, workdir: Path, *settings: str) -> None:
        super().__init__(workdir / "data", *settings)
        self.venv = venv
        self.cwd = workdir

    def command(self, *extra: str) -> list[str]:
        checkout_command = super().command(*extra)
        return [str(self.venv / "bin" / "ensemble"), *checkout_command[2:]]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT_S, check=False)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fresh venv that `pip install .` of a clean clone made; returns the venv."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    work = tmp_path_factory.mktemp("install")
    clone, venv = work / "clone", work / "venv"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True,
                   timeout=120)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # No npm (nor node) on the PATH: only the venv's own bin. pip's settings (index, wheel
    # cache) come through.
    path = str(venv / "bin")
    assert shutil.which("npm", path=path) is None and shutil.which("node", path=path) is None
    env = {key: value for key, value in os.environ.items()
           if key.startswith("PIP_") or key in ("HOME", "LANG", "TMPDIR", "SSL_CERT_FILE")}
    env["PATH"] = path
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "."], clone, env)
    return venv


@pytest.fixture(scope="module")
def daemon(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """Replaces the checkout's daemon for this module's ``watch`` pages."""
    workdir = tmp_path_factory.mktemp("installed-run")
    started = InstalledDaemon(installed, workdir, *FAST_MARKET).start()
    yield started
    started.stop()


def test_the_installed_package_serves_a_dashboard_that_loads_with_its_charts(
        watch: Any, daemon: Daemon, installed: Path) -> None:
    site = next((installed / "lib").glob("python3*/site-packages"))
    assert (site / "web" / "static" / "vendor" / "lightweight-charts.mjs").is_file()
    assert (site / "web" / "static" / "vendor" / "lightweight-charts.LICENSE").is_file()
    assert any(site.glob("ensemble-*.dist-info/licenses/LICENSE"))
    assert not (site / "run_system.py").exists()
    watched: Watched = watch()
    page = open_dashboard(watched, daemon)
    assert page.locator("#boot-error").is_hidden()
    assert page.get_attribute("#chart-candles", "data-chart") == "ready"
    wait_js(page, "() => document.querySelectorAll('#chart-candles canvas').length > 0")
    wait_js(page, "() => Number(document.getElementById('chart-candles').dataset.bars) > 0")
    wait_js(page, "() => document.querySelectorAll('#scanner-cards .scan-card').length > 0")
    health = daemon.get("/api/health", token=None)
    version = _run([str(installed / "bin" / "ensemble"), "--version"], daemon.cwd, {})
    assert version.strip() == f"ensemble {health['version']}" == "ensemble 0.1.0"
    watched.screenshot("installed-package", full_page=False)


def test_an_installed_package_keeps_its_data_in_the_users_data_directory(
        installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = "from actors.app.settings import Settings; print(Settings().runtime.data_dir)"
    env = {"HOME": str(home), "PATH": str(installed / "bin")}
    out = _run([str(installed / "bin" / "python"), "-c", code], tmp_path, env)
    assert out.strip() == str(home / ".local" / "share" / "ensemble")
