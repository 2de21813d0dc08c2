"""Order latency from a strategy's decision to ``order_send`` returning, through the actors
(``python -m bench.order_latency``).

A :class:`~bench.decision_probe.DecisionProbe` inside the running daemon plays the Strategy and
times each decision until the broker's final report comes back through the RiskManager: the
check and sizing, the reservation written to SharedState, the approval, the broker's
write-ahead intent, ``order_send`` on the simulated terminal, and the report's way back. The
baseline, in the same run, is the same opens by direct gateway calls in one process.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.broker_orders import measure_direct
from bench.decision_probe import DECISION_PROBE, SYMBOL, DecisionRun
from bench.order_client import probing_daemon
from bench.stats import percentile, summary

__all__ = ["main"]

# Every decision closes at a small loss (the spread): the limits that would stop a run of
# hundreds of them within a minute are lifted; the rest stay at their defaults.
LATENCY_SETTINGS = (
    "risk.rules.min_trade_interval_seconds=0",
    "risk.rules.consecutive_loss_limit=1000000",
    "risk.rules.payoff_min_trades=1000000",
    "risk.sizing.kelly_min_trades=1000000",
    "risk.rules.max_daily_loss_pct=90",
    "risk.kill_switch.max_loss_pct=0",
    "broker.poll_interval_s=0.2",  # the closing deal reaches the RiskManager sooner
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="decisions to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with probing_daemon(root / "data", *LATENCY_SETTINGS,
                            probe_class=DECISION_PROBE) as (client, broker, probe):
            risk = client.address("risk")
            client.run_probe(probe, DecisionRun(10, broker, risk), 300)  # warm-up
            result = client.run_probe(probe, DecisionRun(args.orders, broker, risk), 900)
        if result.failures:
            raise RuntimeError(f"{len(result.failures)} decisions failed: "
                               f"{result.failures[:3]}")
        direct, _ = measure_direct(root / "direct", 2 * args.orders)
    opens = direct[::2]  # measure_direct alternates opens and closes
    actors = list(result.samples)
    print(f"decision → order_send returned ({SYMBOL}, {args.orders} orders): "
          f"through the actors {summary(actors)}; direct gateway order_send {summary(opens)}; "
          f"median ratio {percentile(actors, 0.5) / percentile(opens, 0.5):.1f}x", flush=True)
    # The RiskManager times the broker's part: from its PlaceOrder to the broker's report.
    broker = list(result.legs)
    checks = [total - leg for total, leg in zip(actors, broker, strict=True)]
    print(f"  of which the broker (PlaceOrder → report, write-ahead intent included) "
          f"{summary(broker)}; the RiskManager before it (check, size, reservation written) "
          f"{summary(checks)}", flush=True)


if __name__ == "__main__":
    main()
