"""Finding a strategy from its spec and building it from its configuration section.

A spec is ``path/to/file.py:ClassName`` (a file anywhere, loaded under a private module name)
or ``package.module:ClassName`` (importable from ``sys.path``). Every problem, from a missing
file to a parameter out of range, is a :class:`StrategyError` that names the spec, the key and
what is allowed, so ``run_system.py`` can refuse to start with one clear line.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from actors.strategy.api import Strategy

__all__ = ["BUILTIN_SPEC", "LoadedStrategy", "StrategyError", "load_strategies",
           "load_strategy_class", "strategy_child_name"]

BUILTIN_SPEC = "actors.strategy.confluence:Confluence"
RESERVED_KEYS = frozenset({"symbols"})


def strategy_child_name(strategy_name: str) -> str:
    """Each strategy's actor is ``strategy.<its name>`` in the tree and the directory."""
    return f"strategy.{strategy_name}"


class StrategyError(ValueError):
    """A strategy that cannot be loaded or configured, worded for the person who wrote it."""


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    spec: str
    name: str
    strategy: Strategy
    symbols: tuple[str, ...] | None
    """What it trades; ``None`` = the configured universe."""


def load_strategy_class(spec: str) -> type[Strategy]:
    module_part, separator, class_name = spec.rpartition(":")
    if not separator or not module_part or not class_name:
        raise StrategyError(f"--strategy {spec!r}: expected PATH/file.py:ClassName or "
                            "package.module:ClassName")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _module_from_file(spec, Path(module_part))
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as error:
            raise StrategyError(f"--strategy {spec!r}: cannot import {module_part}: "
                                f"{error}") from None
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, Strategy)) or found is Strategy:
        raise StrategyError(f"--strategy {spec!r}: {class_name} in {module_part} is not a "
                            "subclass of actors.strategy.api.Strategy")
    return found


def _module_from_file(spec: str, path: Path) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise StrategyError(f"--strategy {spec!r}: no such file {path}")
    # One private module name per file, so the same file loaded twice is one module and two
    # files with the same name do not collide.
    name = "ensemble_strategy_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise StrategyError(f"--strategy {spec!r}: {path} is not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise StrategyError(f"--strategy {spec!r}: {path} failed to load: "
                            f"{type(error).__name__}: {error}") from None
    return module


def load_strategies(specs: tuple[str, ...], sections: dict[str, dict[str, Any]],
                    settings: Any) -> list[LoadedStrategy]:
    """Every configured strategy, built and validated; the built-in when ``specs`` is empty."""
    loaded: list[LoadedStrategy] = []
    for spec in specs or (BUILTIN_SPEC,):
        cls = load_strategy_class(spec)
        name = cls.display_name()
        if any(other.name == name for other in loaded):
            raise StrategyError(f"--strategy {spec!r}: another strategy is already named "
                                f"{name!r}; give one of them a different `name`")
        section = dict(sections.get(name, {}))
        symbols = section.pop("symbols", None)
        if symbols is not None and not (isinstance(symbols, list | tuple)
                                        and all(isinstance(s, str) and s for s in symbols)):
            raise StrategyError(f"strategy.params.{name}.symbols = {symbols!r}: expected a list "
                                "of symbol names")
        try:
            params = cls.params_from(section, settings)
        except ValidationError as error:
            problems = "; ".join(
                f"strategy.params.{name}.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                f" (got {item.get('input')!r})" for item in error.errors())
            raise StrategyError(f"invalid configuration: {problems}") from None
        except ValueError as error:
            raise StrategyError(f"strategy.params.{name}: {error}") from None
        chosen = tuple(symbols) if symbols is not None else cls.symbols
        loaded.append(LoadedStrategy(spec, name, cls(params), chosen))
    unknown = set(sections) - {item.name for item in loaded}
    if unknown:
        raise StrategyError(f"strategy.params.{sorted(unknown)[0]}: no strategy of that name is "
                            f"running (running: {', '.join(i.name for i in loaded)})")
    return loaded
