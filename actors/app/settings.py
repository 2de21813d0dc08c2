"""The daemon's configuration: defaults, a TOML file, ``ENSEMBLE_*`` variables and ``--set``.

Precedence, lowest first: the documented defaults, the TOML file (``--config``), environment
variables ``ENSEMBLE_<SECTION>__<KEY>``, ``--set section.key=value``, and the dedicated command
line flags. Every key is validated at start; an unknown key or a bad value stops start-up with
a :class:`ConfigError` that names the key, the value and what is allowed (DESIGN.md §7).

Sections are pydantic models (frozen, extra keys forbidden): pydantic gives the type coercion,
range checks and error locations that a hand-written validator would have to repeat.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from actors.broker.sim.config import SimConfig
from actors.broker.sim.faults import FaultConfig
from actors.critic.scoring import CriticParams
from actors.notify.config import NotifySettings
from actors.researcher.analyst import AnalystParams
from actors.researcher.llm import LLMConfig
from actors.risk.news import NewsParams
from actors.risk.rules import RiskParams, SpreadLimits
from actors.risk.sizing import SizingParams
from actors.risk.state import CounterParams, KillSwitchParams
from actors.runtime.config_section import Section
from actors.runtime.distribution import default_data_dir
from actors.strategy.indicators import RegimeParams
from actors.strategy.management import ManagementParams
from actors.strategy.signals import SignalParams
from messages.server_time import NEW_YORK_CLOSE, parse_server_time

# The pure modules' parameter dataclasses are the single source of their defaults; pydantic
# validates them in place, and this makes an unknown key an error there too.
for _params in (SimConfig, FaultConfig, CriticParams, AnalystParams, LLMConfig, RiskParams,
                SpreadLimits, SizingParams, CounterParams, KillSwitchParams, NewsParams,
                RegimeParams, ManagementParams, SignalParams):
    _params.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]

__all__ = [
    "BroadcasterSettings",
    "BrokerSettings",
    "ConfigError",
    "CriticSettings",
    "LogSettings",
    "ResearcherSettings",
    "RiskSettings",
    "RuntimeSettings",
    "Settings",
    "StrategySettings",
    "SupervisionSettings",
    "WebSettings",
    "load_settings",
    "parse_assignment",
]

ENV_PREFIX = "ENSEMBLE_"
ENV_SEPARATOR = "__"


class RuntimeSettings(Section):
    admin_port: int = Field(1900, ge=1024, le=65535, description="Thespian's admin port")
    data_dir: str = Field(
        default_factory=default_data_dir, min_length=1,
        description="state.db, events.db, token (var/ in a checkout, else the user's data dir)",
    )
    liveness_interval_s: float = Field(
        1.0, gt=0, le=10, description="how often each actor checks that its daemon is alive"
    )
    start_timeout_s: float = Field(30.0, gt=0, le=600, description="tree start-up limit")
    stop_timeout_s: float = Field(8.0, gt=0, le=60, description="graceful stop limit")
    publish_window_ms: float = Field(
        0.0, ge=0, le=1000, description="an actor sends its events to the Broadcaster at "
        "most once this often: a burst's events go as one Publish (0: every call sends)"
    )


# A host name or an IP address, without scheme or port (``dashboard.example``, ``10.0.0.5``).
HostName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:\[\]-]+$", max_length=253,
                                            to_lower=True)]


class WebSettings(Section):
    host: str = Field("127.0.0.1", min_length=1, description="the web front's bind address")
    port: int = Field(8000, ge=0, le=65535, description="the web front's port (0: any free)")
    allowed_origins: tuple[str, ...] = Field(
        (), description="extra Origins allowed on /ws besides the page's own"
    )
    allowed_hosts: tuple[HostName, ...] = Field(
        (), description="host names the browser may use for the web front, besides the bind "
        "address and localhost (any other Host header gets 421, against DNS rebinding)"
    )
    flush_interval_ms: float = Field(
        10.0, ge=0, le=1000, description="how long a client's batch may wait to fill"
    )
    client_queue_limit: int = Field(
        20_000, ge=100, le=1_000_000, description="events queued per client before resync"
    )
    request_timeout_s: float = Field(5.0, gt=0, le=60, description="REST → actor reply limit")
    max_batch_events: int = Field(2000, ge=1, le=100_000, description="events per frame")
    ops_max_keys: int = Field(
        1000, ge=1, le=1_000_000, description="keys under ops. that operators may create"
    )
    ops_max_value_bytes: int = Field(
        65_536, ge=16, le=1_048_576, description="the largest value of an ops. key, as JSON"
    )


class LogSettings(Section):
    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


class SupervisionSettings(Section):
    max_restarts: int = Field(5, ge=0, le=1000, description="restarts allowed in period_s")
    period_s: float = Field(30.0, gt=0, le=86_400, description="the intensity window")
    backoff_initial_s: float = Field(0.05, ge=0, le=60, description="delay of a 2nd restart")
    backoff_max_s: float = Field(5.0, ge=0, le=600, description="longest restart delay")
    jitter: float = Field(0.2, ge=0, le=1, description="± fraction of random jitter")
    stop_timeout_s: float = Field(3.0, gt=0, le=60, description="wait for a child to exit")


class BroadcasterSettings(Section):
    snapshot_events: int = Field(200, ge=1, le=100_000, description="events in the snapshot")
    snapshot_trades: int = Field(50, ge=1, le=10_000, description="recent trades in it")
    journal_keep: int = Field(
        500_000, ge=1000, le=100_000_000, description="events kept in events.db"
    )
    journal_quotes: bool = Field(
        False, description="number and journal QUOTE events like any other (they are many: "
        "by default they go live only, the latest per symbol, and ?since= skips them)"
    )


class StateSettings(Section):
    retention_days: float = Field(
        30.0, gt=0, le=36_500,
        description="market days kept of decisions, final intents and report/review claims",
    )
    prune_interval_s: float = Field(
        300.0, gt=0, le=86_400, description="wall-clock time between two prune passes"
    )


class BrokerSettings(Section):
    kind: Literal["sim", "mt5", "mt5linux"] = Field(
        "sim", description="the simulated terminal, the MetaTrader5 module, or mt5linux"
    )
    magic: int = Field(234000, ge=1, le=2**63 - 1, description="our orders' magic number")
    poll_interval_s: float = Field(1.0, gt=0, le=60, description="positions/account polling")
    quote_interval_ms: float = Field(
        250.0, ge=0, le=60_000, description="live QUOTE events of the watched symbols: at most "
        "one per symbol this often, only when its bid or ask changed (0: none)"
    )
    login: int | None = Field(None, description="account login to check (mt5, mt5linux)")
    server: str | None = Field(None, description="trade server name (mt5, mt5linux)")
    password_env: str = Field(
        "ENSEMBLE_MT5_PASSWORD", description="environment variable holding the password"
    )
    terminal_path: str | None = Field(None, description="terminal64.exe path (mt5)")
    mt5linux_host: str = Field("127.0.0.1", description="mt5linux RPyC host")
    mt5linux_port: int = Field(18812, ge=1, le=65535, description="mt5linux RPyC port")
    mt5linux_client: Literal["ensemble", "mt5linux"] = Field(
        "ensemble", description="the RPyC client for mt5linux: Ensemble's own (one round trip "
        "per call, about 15x faster per poll) or the mt5linux package's (a proxy per result, "
        "a round trip per field read; pip install 'ensemble[mt5linux]')"
    )
    call_timeout_s: float = Field(30.0, gt=0, le=600, description="a terminal call's limit")
    order_timeout_s: float = Field(60.0, gt=0, le=600, description="order_send's limit")
    reconnect_initial_s: float = Field(1.0, gt=0, le=600, description="first reconnect delay")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="longest reconnect delay")
    commission_per_lot: float | None = Field(
        None, ge=0, description="round-turn commission per lot (None: unknown; sim: sim's)"
    )
    allow_real_account: bool = Field(
        False, description="trade an account whose trade mode is real (not demo)"
    )
    max_slippage_points: float = Field(
        100.0, ge=0, le=1_000_000, description="refuse an opening order (PRICE_MOVED) when the "
        "quote is further than this from the decision's price; SL/TP are re-based on the quote"
    )
    require_approval: bool = Field(
        True, description="send an opening order only from the RiskManager with its valid "
        "approval; false lets anyone place orders on a demo account, for testing the broker "
        "alone (never on a real one)"
    )
    server_time: str = Field(
        NEW_YORK_CLOSE, description="the trade server's clock rule (mt5, mt5linux; sim: "
        "sim.server_time): 'new-york-close' (UTC+2, UTC+3 in US summer time, most FX brokers), "
        "an IANA zone or '+HH:MM'; the offset is measured from ticks, the rule gives the DST "
        "switches before the first measurement ('': none, the first offset measured stands)"
    )

    @field_validator("server_time")
    @classmethod
    def _a_clock_rule(cls, value: str) -> str:
        if value.strip():
            parse_server_time(value, "broker.server_time")
        return value.strip()


class StrategySettings(Section):
    scan_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="market time between scans (a faster sim scans more)"
    )
    min_wall_interval_s: float = Field(
        1.0, gt=0, le=3600, description="the shortest wall-clock time between scans"
    )
    max_orders_per_cycle: int = Field(1, ge=0, le=100, description="orders one scan may place")
    research_concurrency: int = Field(2, ge=1, le=32, description="research at once")
    symbols: tuple[str, ...] = Field((), description="the universe (empty: the broker's)")
    plugins: tuple[str, ...] = Field(
        (), description="strategies to run, as PATH/file.py:Class or package.module:Class "
        "(--strategy; empty: the built-in Confluence)")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="each strategy's own parameters by its name ([strategy.params.<name>]), "
        "validated by its Params model; `symbols` there overrides the strategy's own")
    bars: int = Field(300, ge=120, le=5000, description="closed bars per timeframe")
    min_stop_spread_multiple: float = Field(
        3.0, ge=0, le=100, description="a signal's stop and target are at least this many "
        "spreads away")
    min_stop_level_multiple: float = Field(
        1.5, ge=1, le=100, description="... and this many times the symbol's stops level")
    signals: SignalParams = SignalParams()
    management: ManagementParams = ManagementParams()
    regime: RegimeParams = RegimeParams()


class RiskSettings(Section):
    """Defaults a newcomer can watch trade: at most 0.5 % of the balance at risk per trade,
    new entries stop at a 2 % daily loss (so one trade never spends more than a quarter of
    the day's budget), and a kill switch that a normal losing hour does not trip (5 % of the
    balance over the last 15 closing deals: ten full losses). The pure modules' own
    defaults are the seed's numbers, which ``presets/seed.toml`` restores."""

    rules: RiskParams = RiskParams(  # includes the spread limits and the counters' settings
        max_daily_loss=None, max_daily_loss_pct=2.0)
    sizing: SizingParams = SizingParams(
        max_risk_pct=0.5, confidence_bands=((80.0, 0.5), (65.0, 0.4), (0.0, 0.3)))
    kill_switch: KillSwitchParams = KillSwitchParams(max_loss=None, max_loss_pct=5.0)
    news: NewsParams = NewsParams()


class ResearcherSettings(Section):
    analyst: AnalystParams = AnalystParams()
    llm: LLMConfig | None = Field(None, description="an OpenAI-compatible model (optional)")


class CriticSettings(Section):
    scoring: CriticParams = CriticParams()


class Settings(Section):
    """Everything the daemon and its actors are configured with."""

    runtime: RuntimeSettings = RuntimeSettings()
    web: WebSettings = WebSettings()
    log: LogSettings = LogSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    broadcaster: BroadcasterSettings = BroadcasterSettings()
    state: StateSettings = StateSettings()
    broker: BrokerSettings = BrokerSettings()
    sim: SimConfig = SimConfig()
    strategy: StrategySettings = StrategySettings()
    risk: RiskSettings = RiskSettings()
    researcher: ResearcherSettings = ResearcherSettings()
    critic: CriticSettings = CriticSettings()
    notify: NotifySettings = NotifySettings()

    @property
    def data_path(self) -> Path:
        return Path(self.runtime.data_dir).resolve()


class ConfigError(ValueError):
    """A configuration problem, worded for the person who has to fix it."""


# Keys Ensemble measures instead of reading them from the configuration.
_MEASURED = {
    ("risk", "rules", "counters", "broker_utc_offset_seconds"):
        "the broker's UTC offset is measured from the terminal's clock (GET /api/broker), "
        "DST included",
}


def _with_section_defaults(model: type[BaseModel], tree: dict[str, Any]) -> dict[str, Any]:
    """Where a section's default differs from its record type's own defaults (the risk
    section's newcomer limits against the seed's numbers), a partly configured section keeps
    the section's defaults for the keys it leaves out, not the record type's."""
    merged = dict(tree)
    for name, info in model.model_fields.items():
        default = info.default
        given = tree.get(name, {})
        if not isinstance(given, dict):
            continue
        if isinstance(default, BaseModel):
            merged[name] = _with_section_defaults(type(default), given)
        elif dataclasses.is_dataclass(default) and not isinstance(default, type) and given:
            plain = type(default)()
            changed = {field.name: getattr(default, field.name)
                       for field in dataclasses.fields(default)
                       if getattr(default, field.name) != getattr(plain, field.name)}
            merged[name] = {**changed, **given}
    return {key: value for key, value in merged.items() if value != {} or key in tree}


def _refuse_runtime_keys(tree: dict[str, Any]) -> None:
    for path, why in _MEASURED.items():
        node: Any = tree
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            raise ConfigError(f"{'.'.join(path)}: unknown key ({why})")


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
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        allowed = _allowed_keys(model, location[:-1])
        return f"{key}: unknown key (allowed: {', '.join(allowed)})"
    return f"{key} = {error['input']!r}: {error['msg']}"


def _fields_of(kind: Any) -> dict[str, Any]:
    """Field name → annotation, for a pydantic model or a dataclass (None: neither)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {name: info.annotation for name, info in kind.model_fields.items()}
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return {field.name: hints[field.name] for field in dataclasses.fields(kind)}
    for member in typing.get_args(kind):  # Optional[...]: look inside
        if member is not type(None) and (fields := _fields_of(member)):
            return fields
    return {}


def _allowed_keys(model: type[BaseModel], section: tuple[str, ...]) -> list[str]:
    current: Any = model
    for part in section:
        current = _fields_of(current).get(part)
        if current is None:
            return []
    return sorted(_fields_of(current))


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
    _refuse_runtime_keys(tree)
    tree = _with_section_defaults(Settings, tree)
    try:
        return Settings.model_validate(tree)
    except ValidationError as error:
        problems = "; ".join(_describe(item, Settings) for item in error.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
