"""The daemon's configuration: defaults, a TOML file, ``ENSEMBLE_*`` variables and ``--set``.

Precedence, lowest first: the documented defaults, the TOML file (``--config``), environment
variables ``ENSEMBLE_<SECTION>__<KEY>``, ``--set section.key=value``, and the dedicated command
line flags. Every key is validated at start; an unknown key or a bad value stops start-up with
a :class:`ConfigError` that names the key, the value and what is allowed (DESIGN.md §7).

Sections are pydantic models (frozen, extra keys forbidden): pydantic gives the type coercion,
range checks and error locations that a hand-written validator would have to repeat.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "BroadcasterSettings",
    "ConfigError",
    "LogSettings",
    "RuntimeSettings",
    "Settings",
    "SupervisionSettings",
    "WebSettings",
    "load_settings",
    "parse_assignment",
]

ENV_PREFIX = "ENSEMBLE_"
ENV_SEPARATOR = "__"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class RuntimeSettings(_Section):
    admin_port: int = Field(1900, ge=1024, le=65535, description="Thespian's admin port")
    data_dir: str = Field("./var", min_length=1, description="state.db, events.db, token")
    liveness_interval_s: float = Field(
        1.0, gt=0, le=10, description="how often each actor checks that its daemon is alive"
    )
    start_timeout_s: float = Field(30.0, gt=0, le=600, description="tree start-up limit")
    stop_timeout_s: float = Field(8.0, gt=0, le=60, description="graceful stop limit")


class WebSettings(_Section):
    host: str = Field("127.0.0.1", min_length=1, description="the web front's bind address")
    port: int = Field(8000, ge=0, le=65535, description="the web front's port (0: any free)")
    allowed_origins: tuple[str, ...] = Field(
        (), description="extra Origins allowed on /ws besides the page's own"
    )
    flush_interval_ms: float = Field(
        10.0, ge=0, le=1000, description="how long a client's batch may wait to fill"
    )
    client_queue_limit: int = Field(
        20_000, ge=100, le=1_000_000, description="events queued per client before resync"
    )
    request_timeout_s: float = Field(5.0, gt=0, le=60, description="REST → actor reply limit")
    max_batch_events: int = Field(2000, ge=1, le=100_000, description="events per frame")


class LogSettings(_Section):
    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


class SupervisionSettings(_Section):
    max_restarts: int = Field(5, ge=0, le=1000, description="restarts allowed in period_s")
    period_s: float = Field(30.0, gt=0, le=86_400, description="the intensity window")
    backoff_initial_s: float = Field(0.05, ge=0, le=60, description="delay of a 2nd restart")
    backoff_max_s: float = Field(5.0, ge=0, le=600, description="longest restart delay")
    jitter: float = Field(0.2, ge=0, le=1, description="± fraction of random jitter")
    stop_timeout_s: float = Field(3.0, gt=0, le=60, description="wait for a child to exit")


class BroadcasterSettings(_Section):
    snapshot_events: int = Field(200, ge=1, le=100_000, description="events in the snapshot")
    snapshot_trades: int = Field(50, ge=1, le=10_000, description="recent trades in it")
    journal_keep: int = Field(
        500_000, ge=1000, le=100_000_000, description="events kept in events.db"
    )


class Settings(_Section):
    """Everything the daemon and its actors are configured with."""

    runtime: RuntimeSettings = RuntimeSettings()
    web: WebSettings = WebSettings()
    log: LogSettings = LogSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    broadcaster: BroadcasterSettings = BroadcasterSettings()

    @property
    def data_path(self) -> Path:
        return Path(self.runtime.data_dir).resolve()


class ConfigError(ValueError):
    """A configuration problem, worded for the person who has to fix it."""


def parse_assignment(assignment: str) -> tuple[tuple[str, ...], Any]:
    """``section.key=value`` → ``(("section", "key"), value)``. The value is read as a TOML
    value when it is one (numbers, booleans, strings in quotes, arrays) and as a bare string
    otherwise."""
    path, sep, raw = assignment.partition("=")
    keys = tuple(part.strip() for part in path.split("."))
    if not sep or len(keys) < 2 or not all(keys):
        raise ConfigError(
            f"--set {assignment!r}: expected section.key=value, for example --set web.port=8080"
        )
    return keys, _read_value(raw.strip())


def _read_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _assign(tree: dict[str, Any], keys: tuple[str, ...], value: Any, origin: str) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {'.'.join(keys)}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def _env_assignments(environ: Mapping[str, str]) -> Iterable[tuple[tuple[str, ...], Any, str]]:
    for name, raw in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and ENV_SEPARATOR in name:
            keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_SEPARATOR))
            yield keys, _read_value(raw), f"environment variable {name}"


def _describe(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    location = tuple(str(part) for part in error["loc"])
    key = ".".join(location)
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, location[:-1])
        return f"{key}: unknown key (allowed: {', '.join(allowed)})"
    return f"{key} = {error['input']!r}: {error['msg']}"


def _allowed_keys(model: type[BaseModel], section: tuple[str, ...]) -> list[str]:
    current: type[BaseModel] = model
    for part in section:
        annotation = current.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return sorted(current.model_fields)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    assignments: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the settings. ``overrides`` maps ``"section.key"`` to a value and is
    applied last (the dedicated command line flags)."""
    tree: dict[str, Any] = {}
    if config_file is not None:
        try:
            tree = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"--config {config_file}: no such file") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"--config {config_file}: not valid TOML: {error}") from None
    for keys, value, origin in _env_assignments(os.environ if environ is None else environ):
        _assign(tree, keys, value, origin)
    for assignment in assignments:
        keys, value = parse_assignment(assignment)
        _assign(tree, keys, value, f"--set {assignment}")
    for dotted, value in (overrides or {}).items():
        _assign(tree, tuple(dotted.split(".")), value, dotted)
    try:
        return Settings.model_validate(tree)
    except ValidationError as error:
        problems = "; ".join(_describe(item, Settings) for item in error.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
