"""Where a round meets the language model: each participant's strategy (the
LLM-assisted one with a picker bound to this negotiation's prompt version and
token budget), and the round's model calls turned into stored exchanges and
audit entries for the round's own transaction."""

from __future__ import annotations

from collections.abc import Mapping

from negotiator.audit import AuditEntry
from negotiator.engine.strategies import Strategy, make_strategy
from negotiator.llm.config import LLM_STRATEGY, llm_settings
from negotiator.llm.models import PromptPurpose
from negotiator.llm.seat import calls_taken, seat_picker, seat_strategy
from negotiator.llm.services import exchanges_record, prompt_version_current, tokens_used
from negotiator.models import Negotiation, Participant


def participant_strategy(participant: Participant, negotiation: Negotiation) -> Strategy:
    """The strategy that plays a built-in seat this round."""
    if participant.strategy != LLM_STRATEGY:
        return make_strategy(participant.strategy, **(participant.strategy_params or {}))

    def picker_for(role: str):
        version = prompt_version_current(PromptPurpose.SEAT)
        config = llm_settings()
        spec_issues = negotiation.playbook_version.spec.get("issues", [])
        return seat_picker(
            role,
            prompt_text=version.text,
            prompt_version_id=version.pk,
            prompt_version=version.number,
            issue_labels={i["name"]: i for i in spec_issues},
            budget_left=(config.token_budget - tokens_used(negotiation.pk)) if config else 0,
        )

    return seat_strategy(
        role=participant.role,
        strategy=participant.strategy,
        params=participant.strategy_params,
        picker_for=picker_for,
    )


def round_llm_audit(
    negotiation: Negotiation, strategies: Mapping[str, Strategy]
) -> list[AuditEntry]:
    """Store the round's model calls; their audit entries join the round's."""
    calls = calls_taken(strategies)
    if not calls:
        return []
    return exchanges_record(negotiation_id=negotiation.pk, calls=calls)
