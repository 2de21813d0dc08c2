"""The risk path's cost: approvals per second with reserved risk, against the same approvals
without reservations, in one run (``python -m bench.risk_path``).

Both sides judge the same orders with the daemon's default settings against one other open
exposure: the baseline has it in the books and calls the sizer and rules alone (what the
RiskManager did before reservations); the measured side holds it as a reservation and adds the
ledger (expire, see the books, add the reservations, reserve on approval). Every order is on
the same symbol, so a held reservation would deny the next one early (a cheaper path): each
approval starts from the same ledger, and both sides approve every order. Rounds alternate so
that both share the machine's noise.
"""

from __future__ import annotations

import argparse
import time

from actors.app.settings import load_settings
from actors.risk.reservations import Ledger, Reservation, approve_and_reserve
from actors.risk.sizing import approve_order
from actors.risk.state import RiskState
from bench.stats import percentile
from tests.unit.risk.builders import EURUSD_SPEC, exposure, order, walk_bars

OTHER = exposure(symbol="GBPJPY")  # one other position: in the books, or reserved


def _orders(count: int, books: tuple = ()) -> list:
    bars = {"EURUSD": walk_bars(3, start=1.1), "GBPJPY": walk_bars(4, start=190.0)}
    return [order(market={"symbol": "EURUSD", "bid": 1.1, "ask": 1.10002, "spec": EURUSD_SPEC,
                          "balance": 10_000.0, "exposures": books},
                  entry_price=1.10002, stop_loss=1.09802, take_profit=1.10502,
                  balance=10_000.0, equity=10_000.0, volume=None, m1_bars=bars)
            for _ in range(count)]


def run(rounds: int, per_round: int) -> dict[str, float]:
    risk = load_settings(environ={}).risk
    state = RiskState()
    candidates = _orders(per_round)
    with_other_in_books = _orders(per_round, (OTHER,))
    plain, reserved = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for candidate in with_other_in_books:
            assert approve_order(candidate, state, risk.rules, risk.sizing).allowed
        plain.append(per_round / (time.perf_counter() - started))
        other = Ledger().reserve(Reservation("E-other", OTHER, 10.0, 0.0))
        started = time.perf_counter()
        for n, candidate in enumerate(candidates):
            approval, _ = approve_and_reserve(candidate, f"E{n}", other, state, risk.rules,
                                              risk.sizing, 0.0)
            assert approval.allowed, approval.denial
        reserved.append(per_round / (time.perf_counter() - started))
    return {"plain": percentile(plain, 0.5), "reserved": percentile(reserved, 0.5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args(argv)
    result = run(args.rounds, args.orders)
    print(f"approvals/s, median of {args.rounds} rounds of {args.orders}: "
          f"without reservations {result['plain']:.0f}, with {result['reserved']:.0f} "
          f"(ratio {result['plain'] / result['reserved']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
