"""The LLM-assisted seat in the worker: the strategy for a participant, and the
picker that asks the model to choose among the engine's candidate moves. The
engine computes the candidates and checks the pick; every way the model can
fail (no configuration, budget spent, timeout, refusal, invalid or unknown
reply) plays the deterministic move and is recorded for the audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from negotiator.engine.candidates import Candidate, Guided, Pick
from negotiator.engine.disclosure import find_disclosures
from negotiator.engine.strategies import PartyView, Strategy, make_strategy
from negotiator.llm.client import LLMUnavailable, chat_complete, chat_request
from negotiator.llm.config import LLM_STRATEGY, LLMSettings, llm_settings
from negotiator.llm.prompts import public_history, public_issues, seat_messages
from negotiator.llm.schema import ReplyRejected, choice_schema, reply_parse
from negotiator.llm.services import CallRecord


@dataclass
class SeatPicker:
    """Asks the model for one turn's pick; keeps a record of every call."""

    role: str
    config: LLMSettings | None
    prompt_text: str
    prompt_version_id: int | None = None
    prompt_version: int | None = None
    issue_labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    budget_left: int = 0
    calls: list[CallRecord] = field(default_factory=list)

    def __call__(self, view: PartyView, candidates: Sequence[Candidate]) -> Pick | None:
        messages = seat_messages(
            self.prompt_text,
            issues=public_issues(view.space, self.issue_labels),
            history=public_history(view.history, view.name),
            candidates=candidates,
            round_number=view.round,
        )
        call = CallRecord(
            purpose="seat",
            role=self.role,
            round=view.round,
            prompt_version_id=self.prompt_version_id,
            prompt_version=self.prompt_version,
            model=self.config.model if self.config else "",
            messages=messages,
            candidates=[{"id": c.id, "terms": dict(c.offer.terms)} for c in candidates],
        )
        self.calls.append(call)
        if self.config is None:
            return _fallback(call, "not_configured")
        if view.attempt > 0:
            # the gate blocked this turn's pick (its terms or its message): the
            # retry is the strategy's own, so a model cannot loop a turn into
            # an escalation
            return _fallback(call, "gate_blocked")
        if self.budget_left <= 0:
            return _fallback(call, "token_budget")
        return self._ask(call, candidates, view)

    def _ask(
        self, call: CallRecord, candidates: Sequence[Candidate], view: PartyView
    ) -> Pick | None:
        schema = choice_schema([c.id for c in candidates])
        body = chat_request(self.config, call.messages, schema, "candidate_choice")
        try:
            completion = chat_complete(self.config, body)
        except LLMUnavailable as exc:
            call.latency_ms = exc.latency_ms
            return _fallback(call, exc.reason, exc.detail)
        call.response = completion.text
        call.model = completion.model
        call.tokens_in, call.tokens_out = completion.tokens_in, completion.tokens_out
        call.latency_ms = completion.latency_ms
        self.budget_left -= completion.tokens_in + completion.tokens_out
        try:
            reply = reply_parse(completion.text, schema)
        except ReplyRejected as exc:
            return _fallback(call, exc.reason, exc.detail)
        call.chosen = reply["candidate_id"]
        return Pick(reply["candidate_id"], _message_kept(call, reply["message"], view))

    def take(self) -> list[CallRecord]:
        calls, self.calls = self.calls, []
        return calls


def _message_kept(call: CallRecord, message: str, view: PartyView) -> str:
    """The model's message, or "" when it names a number within 1 % of one of the
    seat's private values. Stricter than the disclosure policy, which lets a message
    restate the offer's own terms: a model's text is untrusted, and "our limit is
    about 112k" next to an offered 112,000 tells where the limit is. The pick stands;
    the offer goes out with the engine's rationale, and the call says why."""
    private = {**view.profile.private_values, "reservation": view.profile.reservation}
    found = sorted({f.key for f in find_disclosures([("message", message)], private)})
    if not found:
        return message
    call.detail = f"message withheld: it named a number near the private {', '.join(found)}"
    return ""


def _fallback(call: CallRecord, reason: str, detail: str = "") -> None:
    call.fallback = reason
    call.detail = detail
    call.chosen = "c1"
    return None


def seat_strategy(
    *,
    role: str,
    strategy: str,
    params: Mapping[str, Any] | None,
    picker_for: Any = None,
) -> Strategy:
    """A participant's strategy. The LLM-assisted one wraps its base strategy
    (``params["base"]``, default "default"; the other params go to the base) in
    :class:`Guided` with the picker ``picker_for(role)`` builds."""
    params = dict(params or {})
    if strategy != LLM_STRATEGY:
        return make_strategy(strategy, **params)
    base = make_strategy(str(params.pop("base", "default")), **params)
    return Guided(base, picker_for(role))


def seat_picker(
    role: str,
    *,
    prompt_text: str,
    prompt_version_id: int | None,
    prompt_version: int | None,
    issue_labels: Mapping[str, Mapping[str, Any]],
    budget_left: int | None = None,
) -> SeatPicker:
    config = llm_settings()
    return SeatPicker(
        role=role,
        config=config,
        prompt_text=prompt_text,
        prompt_version_id=prompt_version_id,
        prompt_version=prompt_version,
        issue_labels=issue_labels,
        budget_left=(config.token_budget if config else 0) if budget_left is None else budget_left,
    )


def calls_taken(strategies: Mapping[str, Strategy]) -> list[CallRecord]:
    """The calls the LLM-assisted seats among ``strategies`` made since last asked."""
    out: list[CallRecord] = []
    for strategy in strategies.values():
        if isinstance(strategy, Guided) and isinstance(strategy.picker, SeatPicker):
            out.extend(strategy.picker.take())
    return out
