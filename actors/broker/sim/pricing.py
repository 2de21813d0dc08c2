"""Money arithmetic of the simulated account: currency conversion, margin, profit, equity.

:class:`Pricing` answers what a position or a new order is worth in the account currency at a
given server time: ``order_calc_margin`` and ``order_calc_profit`` (reference mt5_api.md §2.8
formulas), the hedged account margin (per symbol the larger of the buy and sell legs) and the
account's figures (balance, floating P&L, equity, margin, free margin, margin level). It reads
quotes from the market and the account's currency and leverage; it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from actors.broker.sim import constants as c
from actors.broker.sim.checks import ORDER_MODE_FLAG, price_of
from actors.broker.sim.errors import TerminalError
from actors.broker.sim.ledger import AccountState, Position
from actors.broker.sim.market import PointTick, SimulatedMarket
from actors.broker.sim.universe import SymbolSpec

__all__ = ["Figures", "Pricing", "virtual_position"]

Figures = tuple[float, float, float, float, float, float]
"""(balance, floating profit incl. swaps, equity, margin, free margin, margin level)."""


def virtual_position(symbol: str, order_type: int, volume: float, price: float) -> Position:
    """A position that does not exist yet, to price the margin an order would need."""
    return Position(0, 0, 0, order_type, 0, 0, 0, volume, price, 0.0, 0.0, 0.0, symbol, "")


class Pricing:
    """Conversion, margin and P&L for one account on one market."""

    def __init__(self, market: SimulatedMarket, account: AccountState) -> None:
        self.market = market
        self.account = account

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.market.universe[symbol]
        except KeyError:
            raise TerminalError(c.RES_E_NOT_FOUND, "Terminal: Not found") from None

    def check_currency(self, symbols: Iterable[str], specs: Mapping[str, SymbolSpec]) -> None:
        """Refuse an account currency that some shown symbol's currencies cannot convert into."""
        shown = set(symbols)
        needed = {s.currency_profit for s in specs.values() if s.name in shown}
        needed |= {s.currency_margin for s in specs.values() if s.name in shown}
        for currency in needed:
            if self.conversion_path(currency, self.account.currency) is None:
                raise ValueError(
                    f"sim.currency {self.account.currency!r}: no symbol converts {currency} into it"
                )

    def conversion_path(self, source: str, target: str) -> list[tuple[str, bool]] | None:
        """Symbols that convert ``source`` into ``target``: (symbol, multiply?) steps."""
        if source == target:
            return []
        universe = self.market.universe
        if source + target in universe:
            return [(source + target, True)]
        if target + source in universe:
            return [(target + source, False)]
        if "USD" not in (source, target):
            first = self.conversion_path(source, "USD")
            second = self.conversion_path("USD", target)
            if first is not None and second is not None:
                return first + second
        return None

    def rate(
        self, source: str, now_ms: int, own: SymbolSpec | None = None, own_price: float = 0.0
    ) -> float:
        """How many account-currency units one ``source`` unit is worth now. A symbol that
        itself converts the currency uses its own deal price (as MT5 does for USDJPY profits)."""
        target = self.account.currency
        if source == target:
            return 1.0
        if own is not None and own_price > 0:
            if own.currency_base == source and own.currency_profit == target:
                return own_price
            if own.currency_base == target and own.currency_profit == source:
                return 1.0 / own_price
        path = self.conversion_path(source, target)
        if path is None:
            raise TerminalError(c.RES_E_FAIL, "Terminal: Call failed")
        rate = 1.0
        for symbol, multiply in path:
            spec = self.market.universe[symbol]
            quote = self.market.quote(symbol, now_ms)
            if quote is None:
                price_bid = price_ask = spec.reference_price
            else:
                price_bid, price_ask = quote.bid * spec.point, quote.ask * spec.point
            rate = rate * price_bid if multiply else rate / price_ask
        return rate

    def rate_or_one(self, source: str, now_ms: int, own: SymbolSpec, price: float) -> float:
        try:
            return self.rate(source, now_ms, own, price)
        except TerminalError:
            return 1.0

    def calc_margin(
        self, order_type: int, symbol: str, volume: float, price: float, now_ms: int
    ) -> float:
        """Margin of a new position in account currency (reference §2.8 formulas)."""
        spec = self.spec(symbol)
        if order_type not in ORDER_MODE_FLAG:
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        leverage = self.account.leverage
        lots_units = volume * spec.contract_size
        mode = spec.calc_mode
        if mode == c.SYMBOL_CALC_MODE_FOREX:
            margin = lots_units / leverage * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE:
            margin = lots_units * spec.margin_rate
        elif mode in (c.SYMBOL_CALC_MODE_CFD, c.SYMBOL_CALC_MODE_EXCH_STOCKS):
            margin = lots_units * price * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_CFDINDEX:
            tick_price = spec.tick_size * spec.contract_size
            margin = lots_units * price * tick_price / spec.tick_size * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_CFDLEVERAGE:
            margin = lots_units * price / leverage * spec.margin_rate
        else:
            raise TerminalError(c.RES_E_UNSUPPORTED, "Terminal: Unsupported function")
        return round(margin * self.rate(spec.currency_margin, now_ms, spec, price), 2)

    def calc_profit(
        self,
        order_type: int,
        symbol: str,
        volume: float,
        price_open: float,
        price_close: float,
        now_ms: int,
    ) -> float:
        """Profit in account currency of ``volume`` lots from ``price_open`` to
        ``price_close``; ``order_type`` BUY or SELL (reference §2.8)."""
        spec = self.spec(symbol)
        if order_type not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        direction = 1.0 if order_type == c.ORDER_TYPE_BUY else -1.0
        raw = direction * (price_close - price_open) * spec.contract_size * volume
        return round(raw * self.rate(spec.currency_profit, now_ms, spec, price_close), 2)

    def closing_price(self, position: Position, quote: PointTick) -> float:
        """The price a position would close at now: the bid for a buy, the ask for a sell."""
        spec = self.market.universe[position.symbol]
        is_buy = position.type == c.POSITION_TYPE_BUY
        return price_of(spec, quote.bid if is_buy else quote.ask)

    def position_profit(self, position: Position, quote: PointTick | None, now_ms: int) -> float:
        if quote is None:
            return 0.0
        return self.calc_profit(
            position.type, position.symbol, position.volume, position.price_open,
            self.closing_price(position, quote), now_ms,
        )  # fmt: skip

    def margin(self, positions: Iterable[Position], now_ms: int) -> float:
        """Account margin: per symbol the larger of the buy and the sell legs (hedged volume
        is not charged twice, ``margin_hedged_use_leg``)."""
        legs: dict[tuple[str, int], float] = {}
        for p in positions:
            key = (p.symbol, p.type)
            legs[key] = legs.get(key, 0.0) + self.calc_margin(
                p.type, p.symbol, p.volume, p.price_open, now_ms
            )
        symbols = {symbol for symbol, _ in legs}
        return round(
            0.0
            + sum(
                max(
                    legs.get((s, c.POSITION_TYPE_BUY), 0.0),
                    legs.get((s, c.POSITION_TYPE_SELL), 0.0),
                )
                for s in symbols
            ),
            2,
        )

    def figures(self, positions: Iterable[Position], now_ms: int) -> Figures:
        """(balance, floating profit incl. swaps, equity, margin, free margin, margin level)."""
        positions = list(positions)
        floating = 0.0
        for position in positions:
            quote = self.market.quote(position.symbol, now_ms)
            floating += self.position_profit(position, quote, now_ms) + position.swap
        balance = self.account.balance
        equity = round(balance + self.account.credit + floating, 2)
        margin = self.margin(positions, now_ms)
        free = round(equity - margin, 2)
        level = round(equity / margin * 100.0, 2) if margin else 0.0
        return balance, round(floating, 2), equity, margin, free, level
