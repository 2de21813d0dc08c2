"""The simulated terminal's fault switches as plain data: reading them, and checking a change
that comes from outside (the operator's ``POST /api/sim/faults``) before it is applied.

The switches are :class:`~actors.broker.sim.faults.FaultConfig`'s fields. A change names some of
them; every name must exist and every value must have the field's type (a JSON ``1`` is not a
boolean) and pass the config's own range checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from actors.broker.sim.faults import FaultConfig

__all__ = ["FaultChangeError", "checked_fault_changes", "fault_switches"]

_KINDS: dict[str, str] = {field.name: str(field.type) for field in dataclasses.fields(FaultConfig)}


class FaultChangeError(ValueError):
    """A change that cannot be applied; the message names the switch and what is allowed."""


def fault_switches(config: FaultConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def checked_fault_changes(changes: Mapping[str, Any],
                          base: FaultConfig | None = None) -> dict[str, Any]:
    """``changes`` checked against the switches (applied to ``base`` to run the range checks);
    raises :class:`FaultChangeError` naming the first problem."""
    unknown = sorted(set(changes) - set(_KINDS))
    if unknown:
        raise FaultChangeError(f"unknown fault switch(es) {', '.join(map(repr, unknown))}; "
                               f"known: {', '.join(_KINDS)}")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        kind = _KINDS[name]
        if kind == "bool":
            if not isinstance(value, bool):
                raise FaultChangeError(f"{name} must be true or false, got {value!r}")
            checked[name] = value
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FaultChangeError(f"{name} must be a whole number, got {value!r}")
            checked[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value
            ):
                raise FaultChangeError(f"{name} must be a number, got {value!r}")
            checked[name] = float(value)
    try:
        dataclasses.replace(base or FaultConfig(), **checked)
    except ValueError as error:
        raise FaultChangeError(str(error)) from None
    return checked
