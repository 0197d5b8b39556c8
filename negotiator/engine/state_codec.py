"""The JSON form of :class:`~negotiator.engine.protocol.NegotiationState`.

The service layer stores the engine state after every round and loads it for the
next, so the stored form must hold everything :func:`~negotiator.engine.protocol.step`
reads, or a live negotiation plays differently from the simulator. The codec is
therefore derived from ``dataclasses.fields(NegotiationState)`` and each field's
annotation; a field of a type it cannot convert fails when this module is imported.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from .offers import Offer, Terms, offer_from_dict, offer_to_dict
from .protocol import NegotiationState, proposal_record

Convert = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class FieldCodec:
    name: str
    to_json: Convert
    from_json: Convert
    required: bool


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _each(convert: Convert, collect: Callable[[Any], Any]) -> Convert:
    return lambda values: collect(convert(v) for v in values)


def type_codec(annotation: Any) -> tuple[Convert, Convert]:
    """(to JSON, from JSON) for one field annotation; TypeError for types it does not know."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        to_json, from_json = type_codec(inner)
        return _optional(to_json), _optional(from_json)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        to_json, from_json = type_codec(args[0])
        return _each(to_json, list), _each(from_json, tuple)
    if isinstance(annotation, type) and origin is None:
        if issubclass(annotation, Enum):
            return (lambda member: member.value), annotation
        if annotation is Offer:
            return offer_to_dict, offer_from_dict
        if annotation is Terms:
            return dict, Terms
        if annotation in (bool, int, float, str):
            return annotation, annotation
    raise TypeError(
        f"no JSON form for fields of type {annotation!r}; "
        "teach negotiator.engine.state_codec.type_codec to convert it"
    )


def dataclass_codecs(cls: type) -> tuple[FieldCodec, ...]:
    """One :class:`FieldCodec` per field of the dataclass ``cls``, in field order."""
    hints = typing.get_type_hints(cls)
    return tuple(
        FieldCodec(
            f.name,
            *type_codec(hints[f.name]),
            required=f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    )


_STATE_FIELDS = dataclass_codecs(NegotiationState)


def state_to_dict(state: NegotiationState) -> dict[str, Any]:
    """Every field of ``state`` as JSON-safe values (and nothing else)."""
    return {f.name: f.to_json(getattr(state, f.name)) for f in _STATE_FIELDS}


def state_from_dict(data: Mapping[str, Any]) -> NegotiationState:
    """Inverse of :func:`state_to_dict`.

    Keys that are not fields are ignored (the service layer stores its own next to
    them); missing fields take their defaults. States stored before the proposal
    record was kept get it rebuilt from the history, as step() would have kept it.
    """
    values: dict[str, Any] = {}
    for f in _STATE_FIELDS:
        if f.name in data:
            values[f.name] = f.from_json(data[f.name])
        elif f.required:
            raise KeyError(f"stored negotiation state has no {f.name!r}")
    if "proposal_senders" not in data or "proposal_outcomes" not in data:
        senders, outcomes = proposal_record(
            values["parties"], values.get("history", ()), values.get("history_outcomes", ())
        )
        values["proposal_senders"], values["proposal_outcomes"] = senders, outcomes
    return NegotiationState(**values)
