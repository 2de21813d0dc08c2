"""The one codec between events and the wire: JSON (the default) and msgpack.

An event is encoded once, by the Broadcaster, and the encoded text travels on to every client
and into the journal. A WebSocket frame is a batch: ``{"v": SCHEMA_VERSION, "events": [...]}``,
assembled by joining already-encoded events, so a frame costs a join per client, not an encode.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, get_args, get_origin, get_type_hints

import msgpack

from messages.events import EVENT_TYPES, Event

__all__ = [
    "SCHEMA_VERSION",
    "CodecError",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "from_wire",
    "json_frame",
    "msgpack_frame",
    "to_wire",
    "to_wires",
]

SCHEMA_VERSION = 1


class CodecError(ValueError):
    """A wire value that is not a valid event; the message says which part and why."""


def _plain(value: Any) -> Any:
    """A JSON- and msgpack-safe copy: tuples become lists, records become dicts, non-finite
    floats become None (JSON has no NaN), and numpy scalars become Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name))
                for field in dataclasses.fields(value)}
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    raise CodecError(f"value {value!r} of type {type(value).__name__} cannot go on the wire")


def to_wire(event: Event) -> dict[str, Any]:
    """The event as a plain dict: ``type`` first, then its fields."""
    wire: dict[str, Any] = {"type": event.TYPE}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name == "seq" and value is None:
            continue
        wire[field.name] = _plain(value)
    return wire


def to_wires(events: Iterable[Event],
             dropped: Callable[[Event, Exception], None]) -> list[dict[str, Any]]:
    """The events that can go on the wire, in wire form; ``dropped`` is told of each that
    cannot (a producer's bad event must not take the event stream down with it)."""
    wires: list[dict[str, Any]] = []
    for event in events:
        try:
            wires.append(to_wire(event))
        except (CodecError, ValueError, TypeError) as error:
            dropped(event, error)
    return wires


Decode = Callable[[Any, str], Any]
_DECODERS: dict[type, dict[str, Decode]] = {}


def _record(cls: type, wire: Any, where: str, tag: str = "") -> Any:
    """``cls`` (an event or a record inside one) built from its wire dict; ``tag`` is the key
    that names an event's type (records inside have none)."""
    if not isinstance(wire, Mapping):
        raise CodecError(f"{where}: expected an object, got {type(wire).__name__}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = set(wire) - known - {tag}
    if unknown:
        raise CodecError(f"{where}: unknown field(s) {sorted(unknown)}")
    decoders = _decoders(cls)
    kwargs = {
        name: decoders[name](value, f"{where}.{name}") if name in decoders else value
        for name, value in wire.items()
        if name != tag
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise CodecError(f"{where}: {error}") from None


def _decoder(hint: Any) -> Decode | None:
    """How to turn a wire value back into a field of type ``hint``; None keeps it as it is."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple:
        item = _decoder(args[0]) if len(args) == 2 and args[1] is Ellipsis else None
        if item is None:
            return lambda value, where: tuple(value) if isinstance(value, list) else value
        return lambda value, where: tuple(
            item(entry, f"{where}[{index}]") for index, entry in enumerate(_items(value, where))
        )
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda value, where: _member(hint, value, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value, where: _record(hint, value, where)
    return None


def _items(value: Any, where: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise CodecError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _member(enum: type[Enum], value: Any, where: str) -> Enum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise CodecError(f"{where}: {value!r} is not one of {allowed}") from None


def _decoders(cls: type) -> dict[str, Decode]:
    cached = _DECODERS.get(cls)
    if cached is None:
        decoders = {name: _decoder(hint) for name, hint in get_type_hints(cls).items()}
        cached = {name: decode for name, decode in decoders.items() if decode is not None}
        _DECODERS[cls] = cached
    return cached


def from_wire(wire: Mapping[str, Any]) -> Event:
    """The event a wire dict stands for, its records rebuilt; :class:`CodecError` names what
    is wrong and where."""
    type_name = wire.get("type")
    cls = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise CodecError(f"unknown event type {type_name!r} (known: {', '.join(EVENT_TYPES)})")
    event: Event = _record(cls, wire, str(type_name), tag="type")
    return event


def encode_json(wire: Mapping[str, Any]) -> str:
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode_json(text: str | bytes) -> Any:
    return json.loads(text)


def encode_msgpack(wire: Mapping[str, Any]) -> bytes:
    return msgpack.packb(wire, use_bin_type=True)


def decode_msgpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


def json_frame(encoded_events: Iterable[str], **extra: Any) -> str:
    """One WebSocket text frame holding already-encoded events."""
    head = encode_json({"v": SCHEMA_VERSION, **extra})[:-1]
    return f'{head},"events":[{",".join(encoded_events)}]}}'


def msgpack_frame(encoded_events: Sequence[bytes], **extra: Any) -> bytes:
    """One WebSocket binary frame holding already-encoded events (msgpack)."""
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack_map_header(2 + len(extra)), packer.pack("v"), packer.pack(SCHEMA_VERSION)]
    for key, value in extra.items():
        parts += [packer.pack(key), packer.pack(value)]
    parts += [packer.pack("events"), packer.pack_array_header(len(encoded_events))]
    parts.extend(encoded_events)
    return b"".join(parts)
