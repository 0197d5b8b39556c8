"""A person's free text read as a counteroffer for the portal's form. The model
only proposes values; the person sees them in the form and sends (or edits)
them, and the move then meets the same validation as any typed one. A value
outside an issue's range or options is dropped, never sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from negotiator.llm.client import LLMUnavailable, chat_complete, chat_request
from negotiator.llm.config import llm_settings
from negotiator.llm.models import PromptPurpose
from negotiator.llm.prompts import portal_messages
from negotiator.llm.schema import ReplyRejected, reading_schema, reply_parse
from negotiator.llm.services import (
    CallRecord,
    exchange_record_now,
    prompt_version_current,
    tokens_used,
)

MAX_FREE_TEXT = 2000


@dataclass(frozen=True)
class Reading:
    """What the model read: an action, the values it found (checked against each
    issue), a one-line note, and why it read nothing when it failed."""

    action: str = "unclear"
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    dropped: tuple[str, ...] = ()
    failure: str = ""

    @property
    def found(self) -> bool:
        return not self.failure and (bool(self.values) or self.action in ("accept", "reject"))


def _issues(fields: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for f in fields:
        item: dict[str, Any] = {"name": f.name, "label": f.label, "kind": f.kind, "unit": f.unit}
        if f.kind == "numeric":
            item.update(min=_number(f.minimum), max=_number(f.maximum), step=_number(f.step))
        else:
            item["options"] = [value for value, _ in f.options]
        out.append(item)
    return out


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() else value


def _checked(issues: list[dict[str, Any]], terms: dict[str, Any]) -> tuple[dict, tuple[str, ...]]:
    """Values within each issue's bounds (or options); the others are dropped."""
    values, dropped = {}, []
    for issue in issues:
        value = terms.get(issue["name"])
        if value is None:
            continue
        if issue["kind"] == "numeric":
            low, high = issue.get("min"), issue.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                dropped.append(issue["name"])
                continue
            value = int(value) if float(value).is_integer() else value
        elif value not in issue["options"]:
            dropped.append(issue["name"])
            continue
        values[issue["name"]] = value
    return values, tuple(dropped)


def free_text_read(
    *, negotiation_id: int, role: str, fields: Sequence[Any], on_table: bool, text: str
) -> Reading:
    """Ask the model what offer ``text`` describes; the call is stored and audited."""
    config = llm_settings()
    if config is None:
        return Reading(failure="not_configured")
    if tokens_used(negotiation_id) >= config.token_budget:
        # The negotiation's budget covers the person's readings too: a seat
        # cannot run up the model bill by posting text again and again.
        return Reading(failure="token_budget")
    version = prompt_version_current(PromptPurpose.PORTAL)
    issues = _issues(fields)
    current = {f.name: f.value for f in fields} if on_table else None
    messages = portal_messages(version.text, issues=issues, on_table=current, free_text=text)
    schema = reading_schema(issues)
    call = CallRecord(
        purpose=PromptPurpose.PORTAL,
        role=role,
        round=None,
        prompt_version_id=version.pk,
        prompt_version=version.number,
        model=config.model,
        messages=messages,
    )
    reading = _ask(config, call, schema, issues)
    call.chosen = reading.action if not reading.failure else ""
    exchange_record_now(negotiation_id=negotiation_id, call=call)
    return reading


def _ask(config, call: CallRecord, schema: dict, issues: list[dict]) -> Reading:
    try:
        completion = chat_complete(config, chat_request(config, call.messages, schema, "offer"))
    except LLMUnavailable as exc:
        call.fallback, call.detail, call.latency_ms = exc.reason, exc.detail, exc.latency_ms
        return Reading(failure=exc.reason)
    call.response, call.model = completion.text, completion.model
    call.tokens_in, call.tokens_out = completion.tokens_in, completion.tokens_out
    call.latency_ms = completion.latency_ms
    try:
        reply = reply_parse(completion.text, schema)
    except ReplyRejected as exc:
        call.fallback, call.detail = exc.reason, exc.detail
        return Reading(failure=exc.reason)
    values, dropped = _checked(issues, reply["terms"])
    return Reading(action=reply["action"], values=values, note=reply["note"], dropped=dropped)


def fields_prefilled(fields: Sequence[Any], reading: Reading) -> list[Any]:
    """The form's issue fields with the values the model read put in."""
    return [
        replace(f, value=str(reading.values[f.name])) if f.name in reading.values else f
        for f in fields
    ]
