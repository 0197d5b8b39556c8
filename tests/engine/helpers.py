"""Builders shared by the engine tests."""

from __future__ import annotations

import random
from pathlib import Path

from negotiator.engine.outcomes import CategoricalIssue, NumericIssue, OrdinalIssue, OutcomeSpace
from negotiator.engine.preferences import (
    IssueValue,
    LinearValue,
    PreferenceProfile,
    TableValue,
)
from negotiator.engine.protocol import NegotiationSetup, Party

GENIUS_DIR = Path(__file__).resolve().parents[1] / "data" / "genius"


def random_space(rng: random.Random, issues: int = 3, values: int = 10) -> OutcomeSpace:
    return OutcomeSpace(
        tuple(
            CategoricalIssue(f"i{j}", tuple(f"v{k}" for k in range(values))) for j in range(issues)
        )
    )


def random_profile(
    rng: random.Random, space: OutcomeSpace, reservation: float = 0.0
) -> PreferenceProfile:
    criteria = {}
    weights = {}
    for issue in space.issues:
        raw = [rng.random() for _ in issue.values]
        top = max(raw) or 1.0
        criteria[issue.name] = (
            IssueValue(
                issue.name, TableValue({v: x / top for v, x in zip(issue.values, raw, strict=True)})
            ),
        )
        weights[issue.name] = rng.random() + 0.01
    return PreferenceProfile(weights=weights, criteria=criteria, reservation=reservation)


def random_setup(
    seed: int,
    parties: int = 2,
    issues: int = 3,
    values: int = 10,
    reservation: float = 0.0,
    **kwargs,
) -> NegotiationSetup:
    rng = random.Random(seed)
    space = random_space(rng, issues, values)
    return NegotiationSetup(
        space=space,
        parties=tuple(
            Party(f"p{k}", random_profile(rng, space, reservation)) for k in range(parties)
        ),
        **kwargs,
    )


def deal_space() -> OutcomeSpace:
    return OutcomeSpace(
        (
            NumericIssue("price", 20, 100, step=5, unit="USD"),
            NumericIssue("delivery_days", 7, 35, step=7, integer=True, unit="days"),
            CategoricalIssue("channel", ("email", "phone", "portal")),
            OrdinalIssue("support", ("basic", "standard", "premium")),
        )
    )


def buyer_profile(reservation: float = 0.3) -> PreferenceProfile:
    return PreferenceProfile(
        weights={"cost": 0.5, "speed": 0.2, "quality": 0.2, "risk": 0.1},
        criteria={
            "cost": (IssueValue("price", LinearValue(increasing=False)),),
            "speed": (IssueValue("delivery_days", LinearValue(increasing=False)),),
            "quality": (
                IssueValue("support", TableValue({"basic": 0, "standard": 0.6, "premium": 1})),
            ),
            "risk": (
                IssueValue("channel", TableValue({"email": 0.5, "phone": 0.2, "portal": 1.0})),
            ),
        },
        reservation=reservation,
        private_values={"budget_cap": 100000, "reservation_price": 95000},
    )


def seller_profile(reservation: float = 0.3) -> PreferenceProfile:
    return PreferenceProfile(
        weights={"cost": 0.6, "speed": 0.2, "quality": 0.2},
        criteria={
            "cost": (IssueValue("price", LinearValue(increasing=True)),),
            "speed": (IssueValue("delivery_days", LinearValue(increasing=True)),),
            "quality": (
                IssueValue("support", TableValue({"basic": 1, "standard": 0.7, "premium": 0})),
                IssueValue(
                    "channel", TableValue({"email": 1, "phone": 0.3, "portal": 0.6}), weight=0.5
                ),
            ),
        },
        reservation=reservation,
        private_values={"unit_cost": 80000},
    )


def deal_setup(**kwargs) -> NegotiationSetup:
    return NegotiationSetup(
        space=deal_space(),
        parties=(Party("buyer", buyer_profile()), Party("seller", seller_profile())),
        fixed_terms={"governing_law": "England and Wales", "liability_cap_usd": 1_000_000},
        **kwargs,
    )
