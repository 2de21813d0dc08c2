"""Configuration: defaults, precedence, and errors that name the key, the value and what is
allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.app.settings import ConfigError, load_settings, parse_assignment


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings(environ={})
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8000)
    assert settings.runtime.admin_port == 1900
    # this test runs in a checkout: var/ at its top (tests/unit/test_entry_points.py: installed)
    assert settings.runtime.data_dir == str(Path(__file__).resolve().parents[3] / "var")
    assert (settings.supervision.max_restarts, settings.supervision.period_s) == (5, 30.0)
    assert (settings.broadcaster.snapshot_events, settings.broadcaster.snapshot_trades) == (200, 50)


def test_file_then_environment_then_set_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "ensemble.toml"
    config.write_text("[web]\nport = 8100\nhost = '127.0.0.2'\n[log]\nformat = 'json'\n")
    settings = load_settings(
        config,
        ["web.port=8300"],
        environ={"ENSEMBLE_WEB__PORT": "8200", "ENSEMBLE_SUPERVISION__PERIOD_S": "12.5"},
        overrides={"log.format": "console"},
    )
    assert settings.web.port == 8300
    assert settings.web.host == "127.0.0.2"
    assert settings.supervision.period_s == 12.5
    assert settings.log.format == "console"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("web.prot=1", "web.prot: unknown key (allowed: allowed_hosts, allowed_origins, "
                       "client_queue_limit"),
        ("web.port=70000", "web.port = 70000: Input should be less than or equal to 65535"),
        ("web.port=abc", "web.port = 'abc': Input should be a valid integer"),
        ("log.format=xml", "log.format = 'xml': Input should be 'console' or 'json'"),
        ("nope.x=1", "nope: unknown key (allowed: broadcaster, broker, critic, log, notify, "
                     "researcher, risk, runtime, sim, state, strategy, supervision, web)"),
        ("sim.faults.requote_rate=3", "sim.faults.requote_rate must be within 0..1, got 3"),
        ("risk.rules.max_dialy_loss=1", "risk.rules.max_dialy_loss: unknown key (allowed: "),
        ("sim.speed=fast", "sim.speed = 'fast': Input should be a valid number"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(assignment: str,
                                                               message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(assignments=[assignment], environ={})
    assert message in str(caught.value)


def test_environment_errors_are_reported_too() -> None:
    with pytest.raises(ConfigError, match=r"runtime\.admin_port = 80"):
        load_settings(environ={"ENSEMBLE_RUNTIME__ADMIN_PORT": "80"})


def test_malformed_set_and_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        parse_assignment("webport")
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[web\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_set_values_are_read_as_toml_when_they_are() -> None:
    assert parse_assignment("a.b=3") == (("a", "b"), 3)
    assert parse_assignment("a.b=true") == (("a", "b"), True)
    assert parse_assignment("a.b=json") == (("a", "b"), "json")
    assert parse_assignment('a.b=["x", "y"]') == (("a", "b"), ["x", "y"])
