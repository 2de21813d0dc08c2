"""The simulated account's password, and fault switches kept within bounds."""

from __future__ import annotations

from typing import Any

import pytest

from actors.app.settings import ConfigError, load_settings
from actors.broker.fault_switches import FaultChangeError, checked_fault_changes
from actors.broker.sim.faults import FaultConfig
from actors.broker.sim.module import build_module
from actors.broker.sim.terminal import SimTerminal
from tests.unit.broker.conftest import TerminalFactory

AUTH_FAILED = (-6, "Terminal: Authorization failed")


def fresh_module(terminal: SimTerminal) -> Any:
    return build_module(terminal)


def test_a_wrong_password_fails_initialize_and_login(
    make_terminal: TerminalFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_ACCOUNT_PASSWORD", "s3cret!")
    terminal = make_terminal(password_env="SIM_ACCOUNT_PASSWORD")
    mt5 = fresh_module(terminal)
    login = terminal.account.login
    assert mt5.initialize(login=login, password="guess", server=terminal.config.server) is False
    assert mt5.last_error() == AUTH_FAILED
    assert mt5.account_info() is None  # not connected
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.initialize(login=login, password="s3cret!") is True
    assert mt5.account_info().login == login
    assert mt5.login(login, password="s3cret") is False
    assert mt5.last_error() == AUTH_FAILED
    assert mt5.login(login, password="s3cret!") is True
    assert mt5.last_error() == (1, "Success")
    # Without a password the terminal uses the one it has saved.
    assert mt5.initialize() is True


def test_an_unset_password_variable_refuses_every_password(
    make_terminal: TerminalFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIM_ACCOUNT_PASSWORD", raising=False)
    mt5 = fresh_module(make_terminal(password_env="SIM_ACCOUNT_PASSWORD"))
    assert mt5.initialize(password="") is False and mt5.last_error() == AUTH_FAILED
    assert mt5.initialize(password="anything") is False and mt5.last_error() == AUTH_FAILED


def test_without_a_password_variable_any_password_is_accepted(
    make_terminal: TerminalFactory,
) -> None:
    terminal = make_terminal()
    mt5 = fresh_module(terminal)
    assert mt5.initialize(login=terminal.account.login, password="whatever") is True
    assert mt5.login(terminal.account.login, password="other") is True
    assert mt5.login(terminal.account.login + 1, password="other") is False
    assert mt5.last_error() == AUTH_FAILED


def test_the_password_variable_must_be_a_variable_name() -> None:
    with pytest.raises(ConfigError, match=r"sim\.password_env must name an environment variable"):
        load_settings(assignments=["sim.password_env=not a name"], environ={})
    settings = load_settings(assignments=["sim.password_env=SIM_PW"], environ={})
    assert settings.sim.password_env == "SIM_PW"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"call_delay_s": 1e300}, "call_delay_s must be within 0..600 seconds, got 1e+300"),
        ({"call_delay_s": -1.0}, "call_delay_s must be within 0..600 seconds, got -1.0"),
        ({"call_delay_s": float("nan")}, "call_delay_s must be within 0..600 seconds, got nan"),
        ({"requote_rate": 1.5}, "requote_rate must be within 0..1, got 1.5"),
        ({"price_off_rate": -0.01}, "price_off_rate must be within 0..1, got -0.01"),
        ({"disconnect": 1}, "disconnect must be true or false, got 1"),
    ],
)
def test_fault_switches_out_of_range_are_refused_by_name_value_and_range(
    terminal: SimTerminal, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^sim\.faults\.") as error:
        FaultConfig(**changes)
    assert message in str(error.value)
    before = terminal.fault_config
    with pytest.raises(ValueError) as error:
        terminal.set_faults(**changes)
    assert message in str(error.value)
    assert terminal.fault_config == before  # nothing applied


def test_the_bounds_themselves_are_accepted_and_a_hung_terminal_stays_bounded(
    terminal: SimTerminal,
) -> None:
    assert terminal.set_faults(call_delay_s=600.0, requote_rate=1.0).call_delay_s == 600.0
    terminal.faults.clear()
    # The operator's route refuses the crash value with a message naming the switch.
    with pytest.raises(FaultChangeError, match=r"call_delay_s must be within 0\.\.600"):
        checked_fault_changes({"call_delay_s": 1e300}, terminal.fault_config)
    with pytest.raises(ConfigError, match=r"call_delay_s must be within 0\.\.600"):
        load_settings(assignments=["sim.faults.call_delay_s=601"], environ={})


def test_the_rpyc_terminal_takes_the_realism_options_and_refuses_bad_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from actors.broker.sim.rpyc_server import config_from_args

    config, data_dir, port = config_from_args([
        "--port", "0", "--data-dir", "d", "--server-time", "+03:00", "--password-env", "PW",
        "--comment-rewrite", "replace", "--stops-level-scale", "0",
    ])  # fmt: skip
    assert (data_dir, port) == ("d", 0)
    assert (config.server_time, config.password_env, config.comment_rewrite) == (
        "+03:00", "PW", "replace",
    )
    assert config.stops_level_scale == 0.0
    with pytest.raises(SystemExit):
        config_from_args(["--port", "0", "--data-dir", "d", "--server-time", "Mars/Base"])
    assert "sim.server_time must be 'new-york-close'" in capsys.readouterr().err


def test_a_hung_terminal_serves_again_once_the_delay_is_lowered(mt5: Any) -> None:
    import threading

    terminal = mt5._sim
    terminal.set_faults(call_delay_s=600.0)
    answers: list[Any] = []
    caller = threading.Thread(target=lambda: answers.append(mt5.account_info()), daemon=True)
    caller.start()
    caller.join(0.2)
    assert caller.is_alive() and answers == []  # held by the hung terminal
    terminal.set_faults(call_delay_s=0.0)
    caller.join(30.0)  # released at once; the bound only keeps a broken build from hanging
    assert not caller.is_alive()
    assert answers[0].login == terminal.account.login
