"""Limits that scale with the account: the daemon's defaults risk at most 0.5 % a trade and
stop new entries at a 2 % daily loss, so one trade never spends more than a quarter of the
day's budget; the seed's absolute numbers are a preset, and a partly configured section keeps
the daemon's defaults for what it leaves out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from actors.app.settings import ConfigError, load_settings
from actors.risk.rules import check_daily_loss, daily_loss_limit
from actors.risk.sizing import approve_order
from actors.risk.state import (
    CountedDeal,
    KillSwitchParams,
    RiskState,
    kill_switch_breach,
    kill_switch_on,
)
from tests.unit.risk.builders import EURUSD_SPEC, market, order, walk_bars

PRESET = Path(__file__).resolve().parents[3] / "presets" / "seed.toml"


@pytest.mark.parametrize("balance", [2_000.0, 10_000.0, 250_000.0])
def test_one_trade_never_spends_more_than_a_quarter_of_the_daily_budget(balance: float) -> None:
    risk = load_settings(environ={}).risk
    limit = daily_loss_limit(risk.rules, balance)
    assert limit == pytest.approx(balance * 0.02)
    candidate = order(market={"symbol": "EURUSD", "bid": 1.10000, "ask": 1.10002,
                              "spec": EURUSD_SPEC, "balance": balance},
                      entry_price=1.10002, stop_loss=1.09802, take_profit=1.10502,
                      balance=balance, equity=balance, confidence=95.0, volume=None,
                      m1_bars={"EURUSD": walk_bars(3, start=1.1)})
    approval = approve_order(candidate, RiskState(), risk.rules, risk.sizing)
    assert approval.allowed, approval.denial
    assert approval.sizing.risk_money <= 0.25 * limit + 1e-9


def test_the_daily_loss_limit_follows_the_balance_and_fails_closed_without_it() -> None:
    rules = load_settings(environ={}).risk.rules
    assert daily_loss_limit(rules, None) is None
    unknown = check_daily_loss(market(floating_pnl=0.0, balance=None), RiskState(), rules)
    assert not unknown.allowed and unknown.code == "MISSING_INPUT"
    losing = check_daily_loss(market(floating_pnl=-201.0, balance=10_000.0), RiskState(), rules)
    assert not losing.allowed and "daily loss limit -200.00" in losing.message
    both = replace(rules, max_daily_loss=150.0)
    assert daily_loss_limit(both, 10_000.0) == 150.0  # with both set, the smaller


def test_the_seed_preset_restores_the_seed_numbers() -> None:
    risk = load_settings(PRESET, environ={}).risk
    assert daily_loss_limit(risk.rules, 10_000.0) == 100.0
    assert (risk.sizing.max_risk_pct, risk.kill_switch.max_loss) == (2.0, 60.0)


def test_a_partly_configured_section_keeps_the_daemons_defaults() -> None:
    risk = load_settings(assignments=["risk.sizing.max_risk_pct=0.4",
                                      "risk.kill_switch.min_deals=5"], environ={}).risk
    assert risk.sizing.max_risk_pct == 0.4
    assert risk.sizing.confidence_bands == ((80.0, 0.5), (65.0, 0.4), (0.0, 0.3))
    assert (risk.kill_switch.max_loss_pct, risk.kill_switch.min_deals) == (5.0, 5)
    assert risk.rules.max_daily_loss is None and risk.rules.max_daily_loss_pct == 2.0


def test_the_broker_offset_is_not_a_configuration_key() -> None:
    with pytest.raises(ConfigError, match=r"broker_utc_offset_seconds: unknown key .the "
                                          r"broker.s UTC offset is measured"):
        load_settings(assignments=["risk.rules.counters.broker_utc_offset_seconds=7200"],
                      environ={})


@pytest.mark.parametrize("balance", [1_000.0, 10_000.0, 100_000.0])
def test_the_kill_switch_trips_at_ten_full_losses_whatever_the_balance(balance: float) -> None:
    """5 % of the balance over the last 15 closing deals: nine losses of the default 0.5 %
    risk do not trip it, eleven do; an absolute 500 would trip after one loss on 100,000 and
    never on 1,000."""
    risk = load_settings(environ={}).risk
    switch = kill_switch_on(risk.kill_switch, balance)
    assert switch.max_loss == pytest.approx(balance * 0.05)
    full_loss = balance * risk.sizing.max_risk_pct / 100.0

    def after(losses: int) -> RiskState:
        deals = tuple(CountedDeal(n, "EURUSD", 1_000.0 + n, True, -full_loss if n < losses
                                  else 0.0) for n in range(12))
        return RiskState(deals=deals)

    assert kill_switch_breach(after(9), switch) is None
    assert kill_switch_breach(after(11), switch) is not None


def test_a_kill_switch_in_percent_waits_for_the_balance_and_the_smaller_limit_wins() -> None:
    percent = KillSwitchParams(max_loss=None, max_loss_pct=5.0)
    assert kill_switch_on(percent, None).max_loss is None  # unknown balance: not judged yet
    both = replace(percent, max_loss=300.0)
    assert kill_switch_on(both, 10_000.0).max_loss == 300.0
    assert kill_switch_on(both, 2_000.0).max_loss == 100.0
    seed = load_settings(PRESET, environ={}).risk.kill_switch
    assert kill_switch_on(seed, 250_000.0).max_loss == 60.0
