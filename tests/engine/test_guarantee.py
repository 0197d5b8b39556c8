"""The guarantee: no negotiation ends in an agreement that violates an active
block policy — over random scenarios, strategies and policies, through the
simulator path (the same gate and allowed-outcome masks the live rounds use)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiator.engine.governance import govern
from negotiator.engine.offers import Offer
from negotiator.engine.outcomes import (
    CategoricalIssue,
    NumericIssue,
    OutcomeSpace,
    fixed_terms_hash,
)
from negotiator.engine.policies import CheckContext, PolicySpec, check
from negotiator.engine.preferences import (
    IssueValue,
    LinearValue,
    PreferenceProfile,
    TableValue,
    profile_to_dict,
)
from negotiator.engine.scenario import Scenario, ScenarioParty
from negotiator.engine.simulator import simulate
from negotiator.engine.strategies import STRATEGIES

PARTIES = ("buyer", "seller", "broker")
FIXED = {"governing_law": "England"}


def build_space(rng: random.Random) -> OutcomeSpace:
    return OutcomeSpace(
        (
            NumericIssue("price", 10, 100, step=10, integer=True, unit="USD"),
            NumericIssue("days", 1, 9, step=2, integer=True, unit="days"),
            CategoricalIssue("tier", ("bronze", "silver", "gold")),
        )
    )


def random_profile(
    rng: random.Random, space: OutcomeSpace, reservation: float
) -> PreferenceProfile:
    criteria = {}
    for issue in space.issues:
        if isinstance(issue, NumericIssue):
            function = LinearValue(increasing=rng.random() < 0.5)
        else:
            function = TableValue({v: rng.random() for v in issue.values})
        criteria[issue.name] = (IssueValue(issue.name, function),)
    weights = {issue.name: rng.random() + 0.05 for issue in space.issues}
    return PreferenceProfile(weights=weights, criteria=criteria, reservation=reservation)


@st.composite
def policies(draw, parties: tuple[str, ...]) -> list[PolicySpec]:
    specs = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(
            st.sampled_from(["cap", "floor", "range", "allowed_values", "sla", "expression"])
        )
        severity = draw(st.sampled_from(["block", "block", "escalate", "warn"]))
        role = draw(st.sampled_from([None, *parties]))
        if kind == "cap":
            params = {"issue": "price", "max": draw(st.integers(10, 100))}
        elif kind == "floor":
            params = {"issue": "price", "min": draw(st.integers(10, 100))}
        elif kind == "range":
            lo = draw(st.integers(10, 100))
            params = {"issue": "price", "min": lo, "max": draw(st.integers(lo, 100))}
        elif kind == "allowed_values":
            values = draw(
                st.lists(st.sampled_from(["bronze", "silver", "gold"]), min_size=1, unique=True)
            )
            params = {"issue": "tier", "values": values}
        elif kind == "sla":
            params = {"issue": "days", "max": draw(st.integers(1, 9))}
        else:
            limit = draw(st.integers(20, 180))
            params = {"expression": f"terms.price + 10.0 * terms.days <= {limit}.0"}
        specs.append(
            PolicySpec(
                policy_id=i,
                version=1,
                name=f"{kind}-{i}",
                category="financial",
                kind=kind,
                parameters=params,
                severity=severity,
                scope_role=role,
            )
        )
    return specs


@st.composite
def cases(draw):
    n = draw(st.sampled_from([2, 2, 3]))
    parties = PARTIES[:n]
    seed = draw(st.integers(0, 10_000))
    strategies = [draw(st.sampled_from(sorted(STRATEGIES))) for _ in parties]
    return parties, seed, strategies, draw(policies(parties))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_agreement_violates_an_active_block_policy(case):
    parties, seed, strategies, specs = case
    rng = random.Random(seed)
    space = build_space(rng)
    profiles = {p: random_profile(rng, space, reservation=rng.choice([0.0, 0.2])) for p in parties}
    scenario = Scenario(
        name="random",
        space=space,
        parties=tuple(ScenarioParty(p, profiles[p]) for p in parties),
        fixed_terms=FIXED,
        max_rounds=30,
    )
    profile_dicts = {p: profile_to_dict(profiles[p]) for p in parties}
    governed, gate = govern(scenario, specs, profile_dicts)
    for result in simulate(governed, strategies, runs=2, seed=seed, gate=gate):
        gate.take()
        if not result.agreement:
            continue
        agreed = Offer(
            performative="accept",
            sender="x",
            terms=result.terms,
            fixed_terms_hash=fixed_terms_hash(FIXED),
            round=0,
        )
        # Every party handled the agreement (proposed or accepted it): none of
        # its block policies may fail on it.
        for party in parties:
            context = CheckContext(
                fixed_terms=FIXED,
                sender_role=party,
                sender_profile=profile_dicts[party],
                stage="accept",
            )
            failed = [
                r for r in check(agreed, specs, context) if not r.passed and r.severity == "block"
            ]
            assert not failed, (party, result.terms, [r.message for r in failed])


def test_the_gate_is_what_holds_the_guarantee():
    """Without the gate, the buyer accepts a seller's price below the buyer's own
    floor (the buyer's policies do not bind the seller's offers); with it, never."""
    rng = random.Random(0)
    space = build_space(rng)
    parties = ("buyer", "seller")
    profiles = {p: random_profile(rng, space, reservation=rng.choice([0.0, 0.2])) for p in parties}
    scenario = Scenario(
        name="floor",
        space=space,
        parties=tuple(ScenarioParty(p, profiles[p]) for p in parties),
        fixed_terms=FIXED,
        max_rounds=30,
    )
    floor = PolicySpec(
        0, 1, "floor", "financial", "floor", {"issue": "price", "min": 11}, "block", "buyer"
    )
    governed, gate = govern(scenario, [floor], {p: profile_to_dict(profiles[p]) for p in parties})
    ungated = list(simulate(governed, ["boulware", "boulware"], runs=2, seed=0))
    assert [(r.agreement, r.terms["price"]) for r in ungated] == [(True, 10)] * 2
    gated = list(simulate(governed, ["boulware", "boulware"], runs=2, seed=0, gate=gate))
    assert [(r.agreement, r.terms["price"]) for r in gated] == [(True, 20)] * 2
