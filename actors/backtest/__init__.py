"""Backtests: a strategy run over history through the same actors as live trading, on a
market clock that a driver moves bar by bar (DESIGN.md §6)."""
