"""Shared fixtures of the broker tests: clocks at known market hours, terminals, modules."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.module import build_module
from actors.broker.sim.terminal import SimTerminal
from actors.broker.sim.universe import DEFAULT_UNIVERSE, SymbolSpec
from actors.runtime.clock import ManualClock

# Wednesday 2023-11-15 13:13:20 server time (UTC+2): London session, every symbol trades.
WEDNESDAY_UTC = 1_700_046_800.0
SERVER_OFFSET_S = 2 * 3600
DAY_S = 86_400
# Saturday of the same week: FX, metals and indices are closed; crypto trades.
SATURDAY_UTC = WEDNESDAY_UTC + 3 * DAY_S

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "mt5_api.md"


def reference_text() -> str:
    if not REFERENCE.exists():
        pytest.skip(f"reference {REFERENCE} not available")
    return REFERENCE.read_text(encoding="utf-8")


def reference_struct_fields() -> dict[str, list[str]]:
    """Field lists of every struct, parsed from the reference's §4 tables."""
    text = reference_text().split("## 4. Named-tuple", 1)[1].split("## 5. numpy", 1)[0]
    blocks = re.split(r"^#### `(\w+)` — \d+ fields", text, flags=re.M)
    return {
        blocks[i]: re.findall(r"^\| \d+ \| `(\w+)` \|", blocks[i + 1], flags=re.M)
        for i in range(1, len(blocks), 2)
    }


def reference_constants() -> dict[str, int]:
    text = reference_text().split("## 6. Constants", 1)[1].split("### 6.1", 1)[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^\| `([A-Z_0-9]+)` \| (-?\d+) \|", text, re.M)}


def rule_universe() -> dict[str, SymbolSpec]:
    """The default universe plus variants that exercise particular terminal rules."""
    universe = dict(DEFAULT_UNIVERSE)
    tweaks: dict[str, dict[str, Any]] = {
        "EURCHF": {"trade_mode": c.SYMBOL_TRADE_MODE_DISABLED},
        "EURCAD": {"trade_mode": c.SYMBOL_TRADE_MODE_CLOSEONLY},
        "EURAUD": {"trade_mode": c.SYMBOL_TRADE_MODE_LONGONLY},
        "EURNZD": {"trade_mode": c.SYMBOL_TRADE_MODE_SHORTONLY},
        "GBPCHF": {"exemode": c.SYMBOL_TRADE_EXECUTION_INSTANT, "filling_mode": 1},
        "GBPAUD": {"freeze_level": 200, "stops_level": 20},
        "GBPCAD": {"volume_limit": 0.5},
        "GBPNZD": {"order_mode": 127 & ~c.SYMBOL_ORDER_STOP},
    }
    for name, changes in tweaks.items():
        universe[name] = dataclasses.replace(universe[name], **changes)
    return universe


TerminalFactory = Callable[..., SimTerminal]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(WEDNESDAY_UTC)


@pytest.fixture
def make_terminal(tmp_path: Path, clock: ManualClock) -> Iterator[TerminalFactory]:
    made: list[SimTerminal] = []

    def make(
        *, data_dir: Path | None = None, universe: dict[str, SymbolSpec] | None = None,
        **config: Any,
    ) -> SimTerminal:  # fmt: skip
        terminal = SimTerminal(
            SimConfig(**config),
            data_dir or tmp_path / "sim",
            clock,
            universe=universe if universe is not None else rule_universe(),
        )
        made.append(terminal)
        return terminal

    yield make
    for terminal in made:
        terminal.close()


@pytest.fixture
def terminal(make_terminal: TerminalFactory) -> SimTerminal:
    return make_terminal()


@pytest.fixture
def mt5(terminal: SimTerminal) -> Any:
    module = build_module(terminal)
    assert module.initialize()
    return module


def market_request(mt5: Any, symbol: str, order_type: int, volume: float, **extra: Any) -> dict:
    tick = mt5.symbol_info_tick(symbol)
    price = tick.ask if order_type == c.ORDER_TYPE_BUY else tick.bid
    request = {
        "action": c.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": order_type,
        "price": price,
        "deviation": 20,
        "magic": 4242,
        "comment": "test",
        "type_time": c.ORDER_TIME_GTC,
        "type_filling": c.ORDER_FILLING_FOK,
    }
    request.update(extra)
    return request


@pytest.fixture(scope="module")
def mt5_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A module-scoped initialised sim module (for property tests that run many examples)."""
    terminal = SimTerminal(
        SimConfig(), tmp_path_factory.mktemp("props"), ManualClock(WEDNESDAY_UTC),
        universe=rule_universe(),
    )  # fmt: skip
    module = build_module(terminal)
    module.initialize()
    yield module
    terminal.close()
