"""What a round and the award read: a tender's rows as engine values (rules,
scoring rule, bidders with their private costs, the standing bids, the policy
checker). Private costs go to the bidders' strategies only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from negotiator.engine.auctions import Bid, Bidder, RoundState, ScoringRule
from negotiator.engine.auctions import TenderRules as EngineRules
from tenders.models import Tender, TenderBidder
from tenders.services.checks import BidChecker, bid_checker_for
from tenders.services.setup import TenderConfig, scoring_rule, tender_config_parse


@dataclass(frozen=True)
class RoundInputs:
    tender: Tender
    config: TenderConfig
    rules: EngineRules
    scoring: ScoringRule
    bidders: list[Bidder]
    rows: dict[str, TenderBidder]
    state: RoundState

    @cached_property
    def checker(self) -> BidChecker:
        """The playbook's policies on bids: read only by what checks them (a round,
        the award), not by a bidder's page."""
        tender = self.tender
        return bid_checker_for(
            tender.playbook,
            tender.playbook_version.spec,
            self.config.bidder_role,
            self.config.price_issue,
        )


def engine_bidders(rows: list[TenderBidder]) -> list[Bidder]:
    return [
        Bidder(r.supplier.name, r.strategy, r.private_cost or 0.0, dict(r.terms), r.fixed_price)
        for r in rows
    ]


def standing_bids(tender: Tender, price_issue: str) -> tuple[Bid, ...]:
    return tuple(
        Bid(b.bidder.supplier.name, dict(b.terms), b.round, b.at, price_issue)
        for b in tender.bids.filter(accepted=True).select_related("bidder__supplier")
    )


def round_inputs(tender: Tender) -> RoundInputs:
    spec = tender.playbook_version.spec
    config = tender_config_parse(tender.config)
    rows = list(tender.bidders.select_related("supplier"))
    state = RoundState(
        round=tender.round,
        close_at=tender.close_at,
        extensions=tender.extensions,
        bids=standing_bids(tender, config.price_issue),
    )
    return RoundInputs(
        tender=tender,
        config=config,
        rules=config.rules,
        scoring=scoring_rule(spec, config),
        bidders=engine_bidders(rows),
        rows={r.supplier.name: r for r in rows},
        state=state,
    )
