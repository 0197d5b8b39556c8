"""The only replies a model may give, as JSON Schemas, and their strict parsing:
the text must be one JSON object that validates, or the caller falls back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator

MAX_MESSAGE = 600
MAX_NOTE = 300


class ReplyRejected(Exception):
    """The reply is not what the schema admits; ``reason`` goes to the audit trail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def choice_schema(candidate_ids: Sequence[str]) -> dict[str, Any]:
    """A candidate's id and the message to the counterpart; nothing else."""
    return {
        "type": "object",
        "properties": {
            "candidate_id": {"type": "string", "enum": list(candidate_ids)},
            "message": {"type": "string", "maxLength": MAX_MESSAGE},
        },
        "required": ["candidate_id", "message"],
        "additionalProperties": False,
    }


def reading_schema(issues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a person's free text proposes: an action and a value (or null) per issue."""
    properties: dict[str, Any] = {}
    for issue in issues:
        if issue["kind"] == "numeric":
            properties[issue["name"]] = {"type": ["number", "null"]}
        else:
            properties[issue["name"]] = {"enum": [*issue["options"], None]}
    return {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["counter", "accept", "reject", "unclear"]},
            "terms": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
            "note": {"type": "string", "maxLength": MAX_NOTE},
        },
        "required": ["action", "terms", "note"],
        "additionalProperties": False,
    }


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: Python's parser takes them, a reply may not."""
    raise ValueError(f"{name} is not a JSON number")


def reply_parse(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The reply as a dict that validates against ``schema``, or ReplyRejected."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ReplyRejected("invalid_json", text[:120]) from None
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "reply"
        reason = "unknown_candidate" if "candidate_id" in where else "schema_mismatch"
        raise ReplyRejected(reason, f"{where}: {errors[0].message}"[:200])
    return data
