"""contrib/: the systemd unit passes systemd's own checker, and the unit and the Dockerfile name
only settings that exist and copy every package that setup.cfg installs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from actors.app.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "contrib" / "ensemble.service"
DOCKERFILE = REPO / "contrib" / "Dockerfile"
SETTING = re.compile(r"\b(ENSEMBLE_[A-Z0-9_]+__[A-Z0-9_]+)=(\S+)")


@pytest.mark.parametrize("path", [UNIT, DOCKERFILE], ids=["unit", "dockerfile"])
def test_every_setting_they_set_exists_and_takes_their_value(path: Path) -> None:
    # Quotes are the Dockerfile's and systemd's own, not the value's.
    found = {name: value.strip("'\"") if value[:1] == "'" else value
             for name, value in SETTING.findall(path.read_text(encoding="utf-8"))}
    assert found, "no ENSEMBLE_* setting found"
    settings = load_settings(environ=found)  # a ConfigError names any unknown key
    for name, value in found.items():
        section, key = name.removeprefix("ENSEMBLE_").lower().split("__")
        actual = getattr(getattr(settings, section), key)
        if isinstance(actual, tuple):  # a list, written as TOML
            assert list(actual) == tomllib.loads(f"v = {value}")["v"]
        else:
            assert str(actual) == value


def test_the_unit_keeps_the_data_directory_private() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    assert unit["Service"]["StateDirectoryMode"] == "0700"  # the daemon's files are 0600


def test_the_image_copies_every_package_that_setup_cfg_installs() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    packages = {line.strip().rstrip("*") for line in
                config["options.packages.find"]["include"].split() if line.strip()}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE.read_text(encoding="utf-8"),
                            re.MULTILINE))
    assert copied == packages


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    ensemble = Path(sys.executable).with_name("ensemble")
    text = UNIT.read_text(encoding="utf-8").replace("/opt/ensemble/bin/ensemble", str(ensemble))
    assert str(ensemble) in text
    unit = tmp_path / "ensemble.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr.strip()) == (0, "")
