"""The ways in: ``run_system.py``, ``python -m ensemble`` and the ``ensemble`` script all print
the installed version; the data directory is var/ in a checkout and the user's data directory
for an installed package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import platformdirs
import pytest

from actors.app.settings import Settings
from actors.runtime.distribution import checkout_root, default_data_dir, version

REPO = Path(__file__).resolve().parents[2]


def test_the_version_is_the_installed_distributions() -> None:
    assert version() == metadata.version("ensemble")


@pytest.mark.parametrize("command", [
    [sys.executable, str(REPO / "run_system.py"), "--version"],
    [sys.executable, "-m", "ensemble", "--version"],
    [str(Path(sys.executable).with_name("ensemble")), "--version"],
])
def test_every_entry_point_prints_the_version(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)
    assert (done.returncode, done.stdout.strip()) == (0, f"ensemble {version()}")


def test_the_help_names_every_command_and_the_backtest_s_own_help() -> None:
    run = [sys.executable, str(REPO / "run_system.py")]
    main = subprocess.run([*run, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    main = " ".join(main.split())  # argparse wraps to the terminal's width
    assert "{run,status,stop}" in main and "run_system.py backtest --help" in main
    assert "data download --help" in main
    backtest = subprocess.run([*run, "backtest", "--help"], cwd=REPO, capture_output=True,
                              text=True, timeout=60, check=True).stdout
    assert "--symbols" in backtest and "--sweep" in backtest


def test_in_a_checkout_data_goes_to_its_var_directory(tmp_path: Path) -> None:
    assert checkout_root() == REPO and Settings().runtime.data_dir == str(REPO / "var")
    (tmp_path / ".git").mkdir()
    (tmp_path / "setup.cfg").write_text("[metadata]\n", encoding="utf-8")
    assert default_data_dir(tmp_path) == str(tmp_path / "var")


def test_an_installed_package_keeps_its_data_in_the_users_data_directory(tmp_path: Path
                                                                         ) -> None:
    shutil.copy(REPO / "setup.cfg", tmp_path / "setup.cfg")  # site-packages has no .git
    assert checkout_root(tmp_path) is None
    expected = platformdirs.user_data_dir("ensemble", appauthor=False)
    assert default_data_dir(tmp_path) == expected and expected.endswith("ensemble")


def test_the_startup_line_shows_the_token_only_on_a_terminal(tmp_path: Path) -> None:
    from actors.app.daemon import startup_line
    from actors.app.settings import load_settings

    settings = load_settings(assignments=["web.host='0.0.0.0'", "web.port=8000"], environ={})
    token_file = tmp_path / "api_token"
    shown = startup_line(settings, "s3cret", token_file, on_terminal=True)
    assert shown.endswith("http://localhost:8000/?token=s3cret")  # a name the Host check takes
    logged = startup_line(settings, "s3cret", token_file, on_terminal=False)
    assert "s3cret" not in logged and str(token_file) in logged
