"""Events survive the wire: JSON and msgpack round trips for every event type."""

from __future__ import annotations

import dataclasses
import json
import math
from enum import Enum
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.codec import (
    SCHEMA_VERSION,
    CodecError,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
    from_wire,
    json_frame,
    msgpack_frame,
    to_wire,
)
from messages.events import EVENT_TYPES, Event, PositionRow, PositionUpdate, ScanSummary
from messages.market import Side

finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | st.text()
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    text = str(hint)
    optional = "None" in text
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        base: st.SearchStrategy[Any] = st.lists(records_of(args[0]), max_size=4).map(tuple)
    elif text.startswith("tuple"):
        base = st.lists(st.dictionaries(st.text(), json_value, max_size=4), max_size=4).map(tuple)
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        base = records_of(hint)
    elif isinstance(hint, type) and issubclass(hint, Enum):
        base = st.sampled_from(list(hint))
    elif text.startswith("dict[str, str]"):
        base = st.dictionaries(st.text(), st.text(), max_size=6)
    elif text.startswith("dict"):
        base = st.dictionaries(st.text(), json_value, max_size=6)
    elif hint is bool:
        base = st.booleans()
    elif "float" in text:
        base = finite
    elif "int" in text:
        base = st.integers(-(2**53), 2**53)
    else:
        base = st.text()
    return (st.none() | base) if optional else base


def records_of(cls: type) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    fields = {field.name: _strategy_for(hints[field.name]) for field in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


def events_of(cls: type[Event]) -> st.SearchStrategy[Event]:
    hints = get_type_hints(cls)
    fields = {
        field.name: _strategy_for(hints[field.name])
        for field in dataclasses.fields(cls)
        if field.name != "seq"
    }
    return st.builds(cls, **fields).flatmap(
        lambda event: st.integers(1, 2**53).map(event.numbered)
    )


any_event = st.one_of([events_of(cls) for cls in EVENT_TYPES.values()])


@settings(max_examples=300)
@given(any_event)
def test_json_round_trip_gives_the_same_event(event: Event) -> None:
    assert from_wire(decode_json(encode_json(to_wire(event)))) == event


@settings(max_examples=300)
@given(any_event)
def test_msgpack_round_trip_gives_the_same_event(event: Event) -> None:
    assert from_wire(decode_msgpack(encode_msgpack(to_wire(event)))) == event


@given(st.lists(any_event, max_size=5))
def test_frames_carry_the_events_in_order_with_the_schema_version(events: list[Event]) -> None:
    wires = [to_wire(event) for event in events]
    text_frame = json.loads(json_frame([encode_json(wire) for wire in wires]))
    binary_frame = decode_msgpack(msgpack_frame([encode_msgpack(wire) for wire in wires]))
    for frame in (text_frame, binary_frame):
        assert frame["v"] == SCHEMA_VERSION
        assert [from_wire(item) for item in frame["events"]] == events


def test_wire_form_keeps_the_seed_field_names() -> None:
    wire = to_wire(ScanSummary(timestamp="2026-01-01T00:00:00.000Z", symbols={"EURUSD": "ok"},
                               count=1, candidates=0, strategy="SmaCross").numbered(7))
    assert wire == {"type": "SCAN_SUMMARY", "timestamp": "2026-01-01T00:00:00.000Z", "seq": 7,
                    "symbols": {"EURUSD": "ok"}, "count": 1, "candidates": 0,
                    "duration_ms": None, "strategy": "SmaCross", "market_time": None}


def test_non_finite_numbers_become_null_because_json_has_no_nan() -> None:
    event = ScanSummary(timestamp="t", symbols={}, count=0, candidates=0, duration_ms=math.nan)
    assert decode_json(encode_json(to_wire(event)))["duration_ms"] is None


def test_records_inside_an_event_travel_as_objects_and_come_back_typed() -> None:
    row = PositionRow(ticket=7, symbol="EURUSD", type=1, direction=Side.SELL, volume=0.1,
                      entry_price=1.1, price_current=1.09, sl_price=1.12, tp_price=1.05,
                      profit=10.0, strategy="SmaCross")
    wire = decode_json(encode_json(to_wire(PositionUpdate(timestamp="t", positions=(row,)))))
    assert wire["positions"][0]["direction"] == "SELL"
    assert wire["positions"][0]["strategy"] == "SmaCross"
    back = from_wire(wire)
    assert isinstance(back, PositionUpdate)
    assert back.positions == (row,)
    assert back.positions[0].direction is Side.SELL


def test_a_bad_record_inside_an_event_is_named_by_its_path() -> None:
    good = {"ticket": 7, "symbol": "EURUSD", "type": 1, "direction": "SELL", "volume": 0.1,
            "entry_price": 1.1, "price_current": 1.09, "sl_price": 1.12, "tp_price": 1.05,
            "profit": 10.0}
    wrong_side = r"POSITION_UPDATE\.positions\[1\]\.direction: 'UP' is not one of 'BUY'"
    with pytest.raises(CodecError, match=wrong_side):
        from_wire({"type": "POSITION_UPDATE", "timestamp": "t",
                   "positions": [good, {**good, "direction": "UP"}]})
    with pytest.raises(CodecError, match=r"POSITION_UPDATE\.positions\[0\]: unknown field"):
        from_wire({"type": "POSITION_UPDATE", "timestamp": "t", "positions": [{**good, "x": 1}]})
    with pytest.raises(CodecError, match=r"ACCOUNT_UPDATE\.account: expected an object"):
        from_wire({"type": "ACCOUNT_UPDATE", "timestamp": "t", "account": [1]})


def test_unknown_type_and_unknown_fields_are_named_in_the_error() -> None:
    with pytest.raises(CodecError, match="unknown event type 'NOPE'"):
        from_wire({"type": "NOPE"})
    with pytest.raises(CodecError, match=r"unknown field\(s\) \['bogus'\]"):
        from_wire({"type": "SCAN_START", "timestamp": "t", "count": 1, "bogus": 2})
    with pytest.raises(CodecError, match="SCAN_START"):
        from_wire({"type": "SCAN_START", "timestamp": "t"})


def test_values_that_cannot_travel_are_refused() -> None:
    event = ScanSummary(timestamp="t", symbols={"x": object()}, count=1, candidates=0)  # type: ignore[dict-item]
    with pytest.raises(CodecError, match="cannot go on the wire"):
        to_wire(event)
