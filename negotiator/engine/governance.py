"""Policies applied to negotiations: the gate every offer passes, and the
outcomes each party's own policies allow it to offer.

The background rounds and the simulator use the same two pieces, so what a
policy owner tries with ``manage.py simulate --playbook`` is what runs live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import feasible, measures
from .offers import Offer
from .policies import CheckContext, CheckResult, PolicySpec, check, decide
from .protocol import GateDecision
from .scenario import Scenario


@dataclass(frozen=True)
class GateRecord:
    offer: Offer
    party: str
    stage: str
    results: tuple[CheckResult, ...]
    verdict: str


@dataclass
class PolicyGate:
    """Checks each candidate offer against the policies and keeps every result."""

    specs: Sequence[PolicySpec]
    profiles: Mapping[str, Mapping[str, Any]]  # role -> that party's own profile (dict form)
    fixed_terms: Mapping[str, Any] = field(default_factory=dict)
    issue_types: Mapping[str, str] = field(default_factory=dict)
    value_rule: str = ""
    risk_rule: str = ""
    # policy id (as text) -> the override that waives its failures in this negotiation
    waivers: Mapping[str, int | str] = field(default_factory=dict)
    records: list[GateRecord] = field(default_factory=list)

    def context(self, party: str, terms: Mapping[str, Any], stage: str) -> CheckContext:
        return CheckContext(
            fixed_terms=dict(self.fixed_terms),
            sender_role=party,
            sender_profile=self.profiles.get(party, {}),
            deal_value=measures.deal_measure(self.value_rule, terms),
            deal_risk=measures.deal_measure(self.risk_rule, terms),
            stage=stage,
            issue_types=self.issue_types,
        )

    def __call__(self, offer: Offer, party: str) -> GateDecision:
        stage = "accept" if offer.performative == "accept" else "send"
        results = check(offer, self.specs, self.context(party, dict(offer.terms), stage))
        if self.waivers:
            results = tuple(self._waived(r) for r in results)
        decision = decide(results)
        self.records.append(GateRecord(offer, party, stage, results, decision.verdict))
        return GateDecision(verdict=decision.verdict, reason=decision.reason)

    def _waived(self, result: CheckResult) -> CheckResult:
        """A failure of a waived policy is recorded as failed and waived, never passed."""
        waiver = self.waivers.get(str(result.policy_id))
        if waiver is None or result.passed:
            return result
        return replace(result, waived_by=waiver)

    def take(self) -> list[GateRecord]:
        """The records since the last take (one run or one round)."""
        records, self.records = self.records, []
        return records


def allowed_masks(
    space,
    specs: Sequence[PolicySpec],
    profiles: Mapping[str, Mapping[str, Any]],
    *,
    fixed_terms: Mapping[str, Any],
    issue_types: Mapping[str, str],
    value_rule: str = "",
    risk_rule: str = "",
) -> dict[str, np.ndarray]:
    """Per party: which enumerated outcomes its policies let it offer."""

    def deal(terms: Mapping[str, Any]) -> tuple[float | None, float | None]:
        return measures.deal_measure(value_rule, terms), measures.deal_measure(risk_rule, terms)

    masks = {}
    for role, profile in profiles.items():
        context = CheckContext(
            fixed_terms=dict(fixed_terms),
            sender_role=role,
            sender_profile=profile,
            issue_types=issue_types,
        )
        masks[role] = feasible.allowed_mask(space, specs, context, deal=deal)
    return masks


def govern(
    scenario: Scenario,
    specs: Sequence[PolicySpec],
    profiles: Mapping[str, Mapping[str, Any]],
    *,
    value_rule: str = "",
    risk_rule: str = "",
) -> tuple[Scenario, PolicyGate]:
    """The scenario with each party's allowed outcomes, and the gate for its runs."""
    issue_types = {issue.name: issue.kind for issue in scenario.space.issues}
    masks = allowed_masks(
        scenario.space,
        specs,
        profiles,
        fixed_terms=scenario.fixed_terms,
        issue_types=issue_types,
        value_rule=value_rule,
        risk_rule=risk_rule,
    )
    parties = tuple(replace(p, allowed=masks.get(p.name)) for p in scenario.parties)
    gate = PolicyGate(
        specs=list(specs),
        profiles=profiles,
        fixed_terms=scenario.fixed_terms,
        issue_types=issue_types,
        value_rule=value_rule,
        risk_rule=risk_rule,
    )
    return replace(scenario, parties=parties), gate
