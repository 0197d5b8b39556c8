"""The parts of a seat's message, hostile until checked: how many, of which
kinds, how long, and the offer's data against the seat offer schema."""

from __future__ import annotations

from typing import Any

from a2a.types import Message, Role
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError
from django.conf import settings
from google.protobuf.json_format import MessageToDict

from negotiator.a2a.offers import plain_numbers, schema_problems
from negotiator.services.seats import MAX_MESSAGE_ID, MAX_RATIONALE


def _invalid(message: str, field: str) -> InvalidParamsError:
    return InvalidParamsError(
        message=message, data={"errors": [{"field": field, "message": message}]}
    )


def move_parts(message: Message, *, role: int = Role.ROLE_USER) -> tuple[dict[str, Any], str]:
    """The offer (one data part, schema-checked, numbers made plain) and the
    rationale (the text parts joined). ``role``: the role the sender must speak
    in (a seat calling us is the user; a supplier's agent we call answers as the
    agent). Raises InvalidParamsError naming every problem, or
    ContentTypeNotSupportedError for files."""
    data, rationale = message_parts(message, role=role)
    index = next(i for i, p in enumerate(message.parts) if p.WhichOneof("content") == "data")
    problems = schema_problems(data, f"message.parts[{index}].data")
    if problems:
        listing = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidParamsError(
            message=f"The offer does not follow the seat offer schema: {listing}",
            data={"errors": problems},
        )
    return data, rationale


def message_parts(message: Message, *, role: int = Role.ROLE_USER) -> tuple[dict[str, Any], str]:
    """A message's one data part (numbers made plain) and its text parts joined,
    with the checks every door shares: id, role, how many parts of which kinds,
    how long. The caller checks the data's shape."""
    if not message.message_id or len(message.message_id) > MAX_MESSAGE_ID:
        raise _invalid(
            f"message.messageId of 1 to {MAX_MESSAGE_ID} characters is required",
            "message.messageId",
        )
    if message.role != role:
        raise _invalid(f"message.role must be {Role.Name(role)}", "message.role")
    limit = settings.A2A_MAX_PARTS
    if not 1 <= len(message.parts) <= limit:
        raise _invalid(
            f"a message has 1 to {limit} parts, got {len(message.parts)}", "message.parts"
        )
    data_parts, texts = [], []
    for i, part in enumerate(message.parts):
        kind = part.WhichOneof("content")
        if kind == "data":
            data_parts.append((i, part))
        elif kind == "text":
            texts.append(part.text)
        elif kind is None:
            raise _invalid(f"part {i} is empty", f"message.parts[{i}]")
        else:
            raise ContentTypeNotSupportedError(
                message="Only a data part (the offer, application/json) and text parts "
                f"(its rationale) are accepted; part {i} is a {kind} part."
            )
    if len(data_parts) != 1:
        raise _invalid(
            f"exactly one data part (the offer) is required, got {len(data_parts)}", "message.parts"
        )
    rationale = "\n".join(texts)
    if len(rationale) > MAX_RATIONALE:
        raise _invalid(
            f"the text parts are longer than {MAX_RATIONALE:,} characters", "message.parts"
        )
    _, part = data_parts[0]
    return plain_numbers(MessageToDict(part.data)), rationale
