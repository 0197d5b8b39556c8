"""Policy checks on bids: the playbook's policies, evaluated by the engine on a
bid as on any offer, turned into the verdict the auction's award rule needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from negotiator.engine import policies as engine_policies
from negotiator.engine.auctions import Bid, Verdict
from negotiator.engine.policies import CheckResult, PolicySpec
from negotiator.models import PolicyVersion
from negotiator.services.policies import playbook_policy_versions, policy_spec_of


@dataclass(frozen=True)
class BidOffer:
    """A bid as the policy engine sees an offer."""

    terms: Mapping[str, Any]
    sender: str
    rationale: str = ""
    assumptions: Sequence[str] = field(default_factory=tuple)
    performative: str = "propose"
    fixed_terms_hash: str = ""


@dataclass(frozen=True)
class BidChecker:
    versions: list[PolicyVersion]
    specs: list[PolicySpec]
    fixed_terms: Mapping[str, Any]
    bidder_role: str
    price_issue: str

    def results(self, terms: Mapping[str, Any]) -> tuple[CheckResult, ...]:
        context = engine_policies.CheckContext(
            fixed_terms=self.fixed_terms,
            sender_role=self.bidder_role,
            deal_value=terms.get(self.price_issue),
            stage="accept",
        )
        offer = BidOffer(terms=terms, sender=self.bidder_role)
        return engine_policies.check(offer, self.specs, context)

    def verdict(self, bid: Bid) -> Verdict:
        decision = engine_policies.decide(self.results(bid.terms))
        return Verdict(decision.verdict, decision.reason)

    @property
    def gate(self) -> Callable[[Bid], Verdict]:
        return self.verdict


def bid_checker_for(playbook, spec: Mapping[str, Any], bidder_role: str, price_issue: str):
    versions = playbook_policy_versions(playbook)
    return BidChecker(
        versions=versions,
        specs=[policy_spec_of(v) for v in versions],
        fixed_terms=dict(spec.get("fixed_terms", {})),
        bidder_role=bidder_role,
        price_issue=price_issue,
    )
