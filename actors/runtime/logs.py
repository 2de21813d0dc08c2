"""Structured logging: structlog, one event per line, console or JSON, bound with role and pid.

Every process of the daemon writes its own lines straight to the standard output it inherited
from the daemon (a line is one ``write``, so lines from different processes do not interleave).
That avoids Thespian's logger hop, which costs about a millisecond per record (DESIGN.md §10).
Records that go through the standard ``logging`` module (aiohttp's, and Thespian's own, which
its logger process receives) are rendered by the same processors.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from actors.runtime.brief import brief

__all__ = [
    "StructlogHandler",
    "bind_process",
    "bound_values",
    "configure_logging",
    "get_logger",
    "thespian_log_config",
]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


_PLAIN = (str, int, float, bool, type(None))


def bound_values(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace every value that is not plain text or a number by a bounded text of it, so that
    no message passed to a log call can make the line huge or the rendering raise."""
    for key, value in event_dict.items():
        if not isinstance(value, _PLAIN) and key != "exc_info" and not key.startswith("_"):
            event_dict[key] = brief(value)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        bound_values,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(log_format: str) -> Any:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(log_format: str = "console", level: str = "info") -> None:
    """Set up structlog and the standard library's root logger for this process."""
    numeric_level = _LEVELS[level]
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            _renderer(log_format),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(StructlogHandler(log_format))
    root.setLevel(numeric_level)
    os.environ["ENSEMBLE_LOG_FORMAT"] = log_format
    os.environ["ENSEMBLE_LOG_LEVEL"] = level


def bind_process(**values: Any) -> None:
    """Bind values (role, pid, …) to every later log line of this process."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


class StructlogHandler(logging.Handler):
    """Renders standard ``logging`` records with the same processors as structlog."""

    def __init__(self, log_format: str | None = None) -> None:
        super().__init__()
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _renderer(log_format or os.environ.get("ENSEMBLE_LOG_FORMAT", "console")),
                ],
                foreign_pre_chain=[
                    *_shared_processors(),
                    structlog.stdlib.add_logger_name,
                    structlog.processors.format_exc_info,
                ],
            )
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except Exception:  # a logging failure must never take an actor down
            self.handleError(record)


def thespian_log_config(level: str) -> dict[str, Any]:
    """The ``logDefs`` for Thespian's logger process: its records (and those actors send
    through ``logging``) are rendered by :class:`StructlogHandler` like everything else."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "structlog": {
                "()": "actors.runtime.logs.StructlogHandler",
                "level": _LEVELS[level],
            }
        },
        "root": {"handlers": ["structlog"], "level": _LEVELS[level]},
    }
