"""Writes ``ensemble.example.toml``: every configuration key with its default, generated from
the settings models so that it cannot drift from them (``tests/unit/test_example_config.py``
checks that the committed file is this module's output and that it parses to the defaults).

Run ``python -m ensemble.example_config > ensemble.example.toml`` (``make example-config``)
after changing a settings model. Keys whose default is "not set" (None), or depends on the
machine (the data directory), and the optional ``[researcher.llm]`` section are written
commented out; every other key is written with its default value, so the file as shipped
configures exactly what no file configures.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import sys
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from actors.app.settings import Settings
from actors.risk.state import RUNTIME

__all__ = ["LLM_EXAMPLE", "render"]

HEADER = """\
# Ensemble's configuration: every key, with its default. Generated from the settings models by
# `python -m ensemble.example_config`; do not edit by hand (tests check it is in sync).
#
# Use: copy it, change what you need (or delete what you keep at its default), and start with
#   ensemble --config my.toml
# Precedence, lowest first: these defaults, the file, ENSEMBLE_<SECTION>__<KEY> environment
# variables, --set section.key=value, then the dedicated flags (--port, --data-dir, ...).
# Lines starting with "# key =" are not set by default; uncomment them to set them.
"""
# Values for the optional model section's required keys, shown commented out.
LLM_EXAMPLE = {"base_url": "http://127.0.0.1:8080/v1", "model": "your-model-name"}


def _toml(value: Any) -> str:
    """One value as TOML (inline tables for records inside arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _toml(value.value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.time):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return _toml(sorted(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if dataclasses.is_dataclass(value) or isinstance(value, BaseModel):
        return _toml({name: item for name, item, _ in _fields(value)})
    if isinstance(value, dict):
        pairs = (f"{_key(name)} = {_toml(item)}" for name, item in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"no TOML form for {value!r} ({type(value).__name__})")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _fields(value: Any) -> Iterator[tuple[str, Any, str]]:
    """(name, default value, description) of a pydantic model or dataclass instance."""
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield name, getattr(value, name), info.description or ""
    else:
        for field in dataclasses.fields(value):
            if not field.metadata.get(RUNTIME):
                yield field.name, getattr(value, field.name), ""


def _is_section(value: Any) -> bool:
    return dataclasses.is_dataclass(value) or isinstance(value, BaseModel)


def _optional_model(model: type[BaseModel], name: str) -> type[Any] | None:
    """The model class of an optional section field (``X | None`` with X a record type)."""
    annotation = model.model_fields[name].annotation
    for member in typing.get_args(annotation):
        if member is not type(None) and (
            dataclasses.is_dataclass(member) or issubclass(member, BaseModel)
        ):
            return member
    return None


def _doc(value: Any) -> str:
    doc = (type(value).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _comment(text: str, width: int = 98) -> list[str]:
    lines: list[str] = []
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    return [*lines, line] if line != "#" else lines


def _section(path: str, value: Any, out: list[str], commented: bool = False) -> None:
    prefix = "# " if commented else ""
    out.append("")
    doc = _doc(value)
    if doc and not doc.startswith(type(value).__name__):
        out.extend(_comment(doc))
    out.append(f"{prefix}[{path}]")
    later: list[tuple[str, Any, bool]] = []
    for name, default, description in _fields(value):
        if _is_section(default):
            later.append((name, default, commented))
            continue
        if default is None and isinstance(value, BaseModel) and (
            kind := _optional_model(type(value), name)
        ):
            placeholder = kind(**LLM_EXAMPLE) if name == "llm" else kind()
            later.append((name, placeholder, True))
            continue
        if description:
            out.extend(_comment(description))
        factory = (isinstance(value, BaseModel)
                   and type(value).model_fields[name].default_factory is not None)
        if commented and name in LLM_EXAMPLE:
            out.append(f"# {name} = {_toml(default)}  # required")
        elif default is None:
            out.append(f"# {name} =  # not set by default")
        elif factory:
            out.append(f"# {name} = {_toml(default)}  # default depends on the installation")
        else:
            out.append(f"{prefix}{name} = {_toml(default)}")
    for name, default, hidden in later:
        _section(f"{path}.{name}", default, out, hidden)


def render(settings: Settings | None = None) -> str:
    """The example file's text for these settings (the defaults when None). The data
    directory's default depends on the installation, so it is shown as ``var``."""
    defaults = settings or Settings(runtime={"data_dir": "var"})
    out = [HEADER.rstrip("\n")]
    for name, section, _ in _fields(defaults):
        _section(name, section, out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
