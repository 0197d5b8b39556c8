"""The LLM-assisted seat in offline simulation (``simulate --llm``): one role's
strategy wrapped so the configured model picks among its candidates, and a tally
of what the policy gate saw, so both seats can be compared on compliance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from negotiator.engine.candidates import Guided
from negotiator.engine.governance import PolicyGate
from negotiator.engine.offers import Offer
from negotiator.engine.protocol import GateDecision
from negotiator.engine.strategies import Strategy, make_strategy
from negotiator.llm.config import llm_settings
from negotiator.llm.models import Prompt, PromptPurpose
from negotiator.llm.prompts import DEFAULT_SEAT_PROMPT
from negotiator.llm.seat import SeatPicker


def seat_prompt_text() -> str:
    """The seat prompt in force, read without writing (the built-in text if none)."""
    prompt = Prompt.objects.filter(purpose=PromptPurpose.SEAT).select_related("current_version")
    found = prompt.first()
    return found.current_version.text if found and found.current_version else DEFAULT_SEAT_PROMPT


def llm_players(
    names: Sequence[str], parties: Sequence[str], role: str, runs: int
) -> tuple[list[Strategy | str], SeatPicker]:
    """The strategies for ``simulate``, ``role``'s wrapped in :class:`Guided`."""
    config = llm_settings()
    if config is None:
        raise ValueError("no model is configured: set LLM_BASE_URL and LLM_MODEL")
    picker = SeatPicker(
        role=role,
        config=config,
        prompt_text=seat_prompt_text(),
        budget_left=config.token_budget * runs,
    )
    players: list[Strategy | str] = list(names)
    k = list(parties).index(role)
    players[k] = Guided(make_strategy(names[k]), picker)
    return players, picker


@dataclass
class GateTally:
    """The gate, counting what it let through against a blocking policy (a
    breach; zero unless the gate is broken) and what it stopped."""

    gate: PolicyGate
    breaches: int = 0
    blocked: int = 0
    checked: int = 0
    reasons: Counter = field(default_factory=Counter)

    def __call__(self, offer: Offer, party: str) -> GateDecision:
        decision = self.gate(offer, party)
        self.checked += 1
        record = self.gate.records[-1] if self.gate.records else None
        failed_block = record is not None and any(
            not r.passed and str(r.severity) == "block" for r in record.results
        )
        if decision.verdict == "block":
            self.blocked += 1
        elif failed_block:
            self.breaches += 1
        return decision

    def take(self):
        return self.gate.take()

    def context(self, *args, **kwargs):
        return self.gate.context(*args, **kwargs)
