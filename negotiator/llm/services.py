"""Writes of the language-model integration: prompt versions, each call's
exchange row with its audit entry, and the purge after the retention period."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from negotiator.audit import AuditEntry, audit_append
from negotiator.llm.models import LLMExchange, Prompt, PromptPurpose, PromptVersion
from negotiator.llm.prompts import DEFAULT_PORTAL_PROMPT, DEFAULT_SEAT_PROMPT

DEFAULT_TEXTS = {
    PromptPurpose.SEAT: DEFAULT_SEAT_PROMPT,
    PromptPurpose.PORTAL: DEFAULT_PORTAL_PROMPT,
}


@dataclass
class CallRecord:
    """One model call (or a turn that skipped it), before it is stored."""

    purpose: str
    role: str
    round: int | None
    prompt_version_id: int | None
    prompt_version: int | None
    model: str
    messages: list[dict[str, str]]
    response: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    candidates: list[dict[str, Any]] = field(default_factory=list)
    chosen: str = ""
    fallback: str = ""
    detail: str = ""

    @property
    def prompt_sha256(self) -> str:
        return sha256_text(json.dumps(self.messages, sort_keys=True, ensure_ascii=False))

    @property
    def response_sha256(self) -> str:
        return sha256_text(self.response) if self.response else ""


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_version_current(purpose: str) -> PromptVersion:
    """The prompt version in force for a purpose (version 1 is the built-in text)."""
    prompt = Prompt.objects.filter(purpose=purpose).select_related("current_version").first()
    if prompt is not None and prompt.current_version is not None:
        return prompt.current_version
    return prompt_version_add(purpose=purpose, text=DEFAULT_TEXTS[purpose], note="built-in text")


def prompt_version_add(*, purpose: str, text: str, note: str = "", user=None) -> PromptVersion:
    """A new version of a purpose's prompt, in force from now; earlier ones stay."""
    text = text.strip()
    if not text:
        raise ValueError("A prompt needs text.")
    with transaction.atomic():
        prompt, _ = Prompt.objects.select_for_update().get_or_create(purpose=purpose)
        last = prompt.versions.order_by("-number").first()
        if last is not None and last.text == text and prompt.current_version_id == last.pk:
            return last
        version = PromptVersion.objects.create(
            prompt=prompt,
            number=(last.number + 1) if last else 1,
            text=text,
            note=note[:200],
            created_by=user if getattr(user, "pk", None) else None,
        )
        prompt.current_version = version
        prompt.save(update_fields=["current_version"])
    return version


def tokens_used(negotiation_id: int) -> int:
    """Tokens this negotiation's model calls have spent so far."""
    totals = LLMExchange.objects.filter(negotiation_id=negotiation_id).aggregate(
        i=Sum("tokens_in"), o=Sum("tokens_out")
    )
    return (totals["i"] or 0) + (totals["o"] or 0)


def call_audit_payload(call: CallRecord, exchange_id: int | None) -> dict[str, Any]:
    return {
        "purpose": call.purpose,
        "role": call.role,
        "round": call.round,
        "exchange": exchange_id,
        "prompt_version": call.prompt_version,
        "model": call.model,
        "prompt_sha256": call.prompt_sha256,
        "response_sha256": call.response_sha256,
        "tokens_in": call.tokens_in,
        "tokens_out": call.tokens_out,
        "latency_ms": call.latency_ms,
        "candidates": [c["id"] for c in call.candidates],
        "chosen": call.chosen,
        "fallback": call.fallback,
        "fallback_detail": call.detail[:200],
    }


def exchanges_record(
    *, negotiation_id: int | None, calls: Sequence[CallRecord]
) -> list[AuditEntry]:
    """Store each call in full and return its audit entries (for the caller's
    transaction: the round appends them with its own events)."""
    entries = []
    for call in calls:
        exchange = LLMExchange.objects.create(
            negotiation_id=negotiation_id,
            purpose=call.purpose,
            role=call.role,
            round=call.round,
            prompt_version_id=call.prompt_version_id,
            model=call.model,
            request={"messages": call.messages},
            response=call.response,
            prompt_sha256=call.prompt_sha256,
            response_sha256=call.response_sha256,
            tokens_in=call.tokens_in,
            tokens_out=call.tokens_out,
            latency_ms=call.latency_ms,
            candidates=call.candidates,
            chosen=call.chosen,
            fallback=call.fallback,
        )
        entries.append(
            AuditEntry(
                kind="llm.call", actor="system", payload=call_audit_payload(call, exchange.pk)
            )
        )
    return entries


def exchange_record_now(*, negotiation_id: int | None, call: CallRecord) -> None:
    """Store one call outside a round (the portal), with its audit event."""
    with transaction.atomic():
        (entry,) = exchanges_record(negotiation_id=negotiation_id, calls=[call])
        audit_append(
            kind=entry.kind, actor=entry.actor, payload=entry.payload, negotiation=negotiation_id
        )


def exchanges_purge(*, now: datetime | None = None, retention_days: int) -> int:
    """Delete full prompts and replies older than the retention period; their
    hashes, tokens and outcome stay in the audit trail. Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    deleted, _ = LLMExchange.objects.filter(created_at__lt=cutoff).delete()
    return deleted
