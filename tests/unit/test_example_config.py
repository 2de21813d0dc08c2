"""ensemble.example.toml: generated from the settings models, in sync with them, listing every
key, and parsing to exactly the defaults (its optional model section too, once uncommented)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from actors.app.settings import Settings, load_settings
from actors.researcher.llm import LLMConfig
from actors.risk.state import RUNTIME
from ensemble.example_config import LLM_EXAMPLE, render

EXAMPLE = Path(__file__).resolve().parents[2] / "ensemble.example.toml"
KEY = re.compile(r"^(?:# )?([a-z_][a-z0-9_]*) =")
TABLE = re.compile(r"^(?:# )?\[([a-z_.]+)\]$")


def _keys_in_file(text: str) -> set[str]:
    keys: set[str] = set()
    table = ""
    for line in text.splitlines():
        if found := TABLE.match(line):
            table = found.group(1)
        elif table and (found := KEY.match(line)):
            keys.add(f"{table}.{found.group(1)}")
    return keys


def _keys_of(section: Any, prefix: str) -> set[str]:
    """Every key under a section instance: records (models, dataclasses) are sub-sections."""
    names = (type(section).model_fields if isinstance(section, BaseModel)
             else [field.name for field in dataclasses.fields(section)
                   if not field.metadata.get(RUNTIME)])
    keys: set[str] = set()
    for name in names:
        value = getattr(section, name)
        if isinstance(value, BaseModel) or dataclasses.is_dataclass(value):
            keys |= _keys_of(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_the_committed_file_is_the_generators_output() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render(), (
        "ensemble.example.toml is out of date: run `make example-config` and commit it")


def test_it_parses_to_exactly_the_defaults() -> None:
    loaded = load_settings(EXAMPLE, environ={})
    assert loaded == Settings()


def test_it_lists_every_key_of_every_section() -> None:
    expected = _keys_of(Settings(), "") - {"researcher.llm"}
    expected |= _keys_of(LLMConfig(**LLM_EXAMPLE), "researcher.llm.")
    assert _keys_in_file(EXAMPLE.read_text(encoding="utf-8")) == expected


def test_its_model_section_uncommented_is_a_valid_model_configuration(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    head, _, rest = text.partition("# [researcher.llm]\n")
    block, _, tail = rest.partition("\n\n")
    uncommented = "[researcher.llm]\n" + "\n".join(
        line.removeprefix("# ") for line in block.splitlines()) + "\n\n"
    config = tmp_path / "with-model.toml"
    config.write_text(head + uncommented + tail, encoding="utf-8")
    assert tomllib.loads(config.read_text(encoding="utf-8"))["researcher"]["llm"]
    loaded = load_settings(config, environ={})
    assert loaded.researcher.llm == LLMConfig(**LLM_EXAMPLE)
