"""Offers as outside agents send and receive them: the seat-facing JSON Schema
(derived from the engine's offer schema), parsing an A2A data part into a
:class:`MoveInput` with every problem named, and the public form of our offers.

Only public fields of an offer ever leave: never utilities, profiles, policies
or strategy parameters."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from negotiator.engine.offers import offer_schema
from negotiator.models import Offer
from negotiator.services.seats import MAX_RATIONALE, MoveInput

MAX_TERMS = 50
MAX_LIST_ITEMS = 20
MAX_ITEM_CHARS = 500
MAX_VALUE_CHARS = 200
SCHEMA_ID = "https://negotiator.example/schemas/a2a-seat-offer.schema.json"


@cache
def seat_offer_schema() -> dict[str, Any]:
    """What an outside seat puts in the data part of its message: the engine's
    offer fields a seat chooses (our side fills in sender, round, version and id),
    with size limits, and ``in_reply_to`` as the number of our offer it answers.
    docs/a2a-seat-offer.schema.json is this schema (a test keeps them equal)."""
    engine = offer_schema()["properties"]
    short_strings = {"type": "string", "maxLength": MAX_ITEM_CHARS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Seat offer",
        "description": (
            "The data part of an outside seat's A2A message: its move. The optional "
            "text part of the same message is the rationale (at most "
            f"{MAX_RATIONALE} characters). Derived from the engine's offer schema."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["performative"],
        "properties": {
            "performative": engine["performative"],
            "terms": {
                "type": "object",
                "maxProperties": MAX_TERMS,
                "additionalProperties": {
                    "anyOf": [
                        {"type": "number"},
                        {"type": "string", "maxLength": MAX_VALUE_CHARS},
                    ]
                },
            },
            "fixed_terms_hash": engine["fixed_terms_hash"],
            "in_reply_to": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "offer_id of our offer this move answers (checked when given)",
            },
            "expires_at": engine["expires_at"],
            "assumptions": {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": short_strings},
            "dependencies": {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": short_strings},
        },
        "allOf": [
            {
                "if": {"properties": {"performative": {"enum": ["propose", "counter"]}}},
                "then": {
                    "required": ["terms", "fixed_terms_hash"],
                    "properties": {"terms": {"minProperties": 1}},
                },
            }
        ],
    }


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(seat_offer_schema())


def plain_numbers(value: Any) -> Any:
    """JSON numbers come through A2A's data parts as doubles (protobuf Value):
    whole numbers become ints again, so 110000.0 is the integer the issue needs."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def schema_problems(data: Any, where: str) -> list[dict[str, str]]:
    """Every place the data breaks the seat offer schema, as field violations."""
    out = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append({"field": f"{where}{path}", "message": _short(error.message)})
    return out


def _short(message: str) -> str:
    # jsonschema quotes the offending value; a hostile one may be long
    # (the head and the tail: the verdict, e.g. "is too long", is at the end)
    return message if len(message) <= 300 else message[:120] + "…" + message[-120:]


def move_from_data(data: Mapping[str, Any], rationale: str) -> MoveInput:
    """A schema-valid data part (numbers made plain) as the move it asks for."""
    return MoveInput(
        performative=data["performative"],
        terms=dict(data.get("terms") or {}),
        fixed_terms_hash=data.get("fixed_terms_hash") or "",
        rationale=rationale,
        in_reply_to=data.get("in_reply_to"),
        expires_at=data.get("expires_at"),
        assumptions=tuple(data.get("assumptions") or ()),
        dependencies=tuple(data.get("dependencies") or ()),
    )


def offer_public(offer: Offer) -> dict[str, Any]:
    """One offer as any party to the negotiation may see it (no utilities)."""
    return {
        "offer_id": offer.pk,
        "round": offer.round,
        "sender": offer.sender,
        "performative": offer.performative,
        "terms": dict(offer.terms),
        "fixed_terms_hash": offer.fixed_terms_hash,
        "in_reply_to": offer.in_reply_to_id,
        "expires_at": offer.expires_at.isoformat() if offer.expires_at else None,
        "expires_at_round": offer.expires_at_round,
        "assumptions": list(offer.assumptions or []),
        "dependencies": list(offer.dependencies or []),
        "version": offer.version,
    }
