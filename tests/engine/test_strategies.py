import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiator.engine.offers import Performative
from negotiator.engine.preferences import IssueValue, PreferenceProfile, TableValue
from negotiator.engine.protocol import GateDecision, NegotiationSetup, Party, run
from negotiator.engine.strategies import (
    STRATEGIES,
    PartyView,
    concession_target,
    describe_strategies,
    make_strategy,
)

from .helpers import deal_setup, random_setup

NAMES = sorted(STRATEGIES)


def view_for(
    setup, party=0, *, t=0.5, rnd=50, standing=None, standing_outcome=None, forbidden=frozenset()
):
    return PartyView(
        name=setup.party_names[party],
        party_index=party,
        profile=setup.parties[party].profile,
        space=setup.space,
        table=setup.tables[party],
        history=(),
        proposal_senders=np.zeros(0, dtype=np.int64),
        proposal_outcomes=np.zeros(0, dtype=np.int64),
        standing=standing,
        standing_outcome=standing_outcome,
        round=rnd,
        max_rounds=100,
        t=t,
        seed=1,
        forbidden=forbidden,
        fixed_terms_hash=setup.fixed_hash,
    )


def test_registry_has_documented_strategies():
    assert {
        "boulware",
        "linear",
        "conceder",
        "tit-for-tat",
        "tradeoff",
        "hardliner",
        "default",
    } <= set(STRATEGIES)
    for name, doc in describe_strategies().items():
        assert doc, name


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_docstrings_name_the_parameters_the_code_uses(name):
    # operators choose strategies by these docstrings (the new-negotiation form)
    doc = STRATEGIES[name].__doc__
    documented = {k: float(v) for k, v in re.findall(r"\b([a-z_]+)=([0-9]+(?:\.[0-9]+)?)\b", doc)}
    built = make_strategy(name)
    for param, value in documented.items():
        assert getattr(built, param) == value, f"{name} docstring says {param}={value:g}"
    # every parameter the factory sets away from its class's defaults is documented
    changed = {
        f.name
        for f in dataclasses.fields(built)
        if f.name != "label" and getattr(built, f.name) != getattr(type(built)(), f.name)
    }
    assert changed <= set(documented), (
        f"{name} docstring does not mention {changed - set(documented)}"
    )


def test_make_strategy_rejects_unknown_names_and_parameters():
    with pytest.raises(ValueError, match="unknown strategy 'haggle'"):
        make_strategy("haggle")
    with pytest.raises(ValueError, match="bad parameters"):
        make_strategy("boulware", speed=3)
    with pytest.raises(ValueError, match="e must be positive"):
        make_strategy("conceder", e=0)
    with pytest.raises(ValueError, match=r"early must lie in \[0, 1\]"):
        make_strategy("default", early=1.5)


@settings(max_examples=60, deadline=None)
@given(
    e=st.floats(0.05, 10),
    k=st.floats(0, 0.9),
    pmin=st.floats(0, 0.5),
    span=st.floats(0, 0.5),
    ts=st.lists(st.floats(0, 1), min_size=2, max_size=10),
)
def test_time_dependent_target_is_monotone_non_increasing(e, k, pmin, span, ts):
    targets = [concession_target(t, e, pmin, pmin + span, k) for t in sorted(ts)]
    assert all(a >= b - 1e-12 for a, b in zip(targets, targets[1:], strict=False))
    assert all(pmin - 1e-12 <= x <= pmin + span + 1e-12 for x in targets)


def test_boulware_holds_out_longer_than_conceder():
    assert (
        concession_target(0.5, 0.2, 0, 1)
        > concession_target(0.5, 1.0, 0, 1)
        > concession_target(0.5, 2.0, 0, 1)
    )


@pytest.mark.parametrize("name", NAMES)
def test_first_move_is_a_proposal_with_a_rationale(name):
    setup = deal_setup()
    offer = make_strategy(name)(view_for(setup, t=0.0, rnd=0))
    assert offer.performative == Performative.PROPOSE
    assert offer.rationale
    assert offer.fixed_terms_hash == setup.fixed_hash
    assert (
        setup.tables[0].utilities[setup.space.index_of(setup.space.outcome_of(offer.terms))] >= 0.3
    )


def test_hardliner_never_concedes():
    setup = deal_setup()
    best = setup.tables[0].max_utility
    for t in (0.0, 0.5, 0.99):
        offer = make_strategy("hardliner")(view_for(setup, t=t, rnd=int(t * 99)))
        idx = setup.space.index_of(setup.space.outcome_of(offer.terms))
        assert setup.tables[0].utilities[idx] == pytest.approx(best)


def test_tradeoff_rationale_names_the_issue_it_traded():
    setup = random_setup(3)
    result = run(setup, [make_strategy("tradeoff"), make_strategy("tradeoff")])
    assert any("offers suggest it cares about" in o.rationale for o in result.state.history)


def test_tit_for_tat_mirrors_concessions():
    setup = random_setup(4)
    result = run(setup, [make_strategy("tit-for-tat"), make_strategy("linear")])
    mine = [o for o in result.state.history if o.sender == "p0" and o.performative != "accept"]
    utils = [
        setup.tables[0].utilities[setup.space.index_of(setup.space.outcome_of(o.terms))]
        for o in mine
    ]
    assert utils[0] == pytest.approx(setup.tables[0].max_utility)
    assert utils[-1] < utils[0]


def test_accepts_an_offer_at_least_as_good_as_its_next_one():
    setup = random_setup(5)
    table = setup.tables[0]
    best = int(table.order[0])
    from negotiator.engine.offers import Offer

    standing = Offer(
        Performative.PROPOSE,
        "p1",
        setup.space.terms_of(setup.space.outcome_at(best)),
        setup.fixed_hash,
        3,
    )
    for name in NAMES:
        action = make_strategy(name)(
            view_for(setup, t=0.1, rnd=10, standing=standing, standing_outcome=best)
        )
        assert action.performative == Performative.ACCEPT, name
        assert action.in_reply_to == standing.id


@pytest.mark.parametrize("name", NAMES)
def test_forbidden_outcomes_are_never_proposed_or_accepted(name):
    setup = random_setup(6)
    table = setup.tables[0]
    top = [setup.space.outcome_at(int(i)) for i in table.order[:5]]
    forbidden = frozenset(top)
    from negotiator.engine.offers import Offer

    best = int(table.order[0])
    standing = Offer(Performative.PROPOSE, "p1", setup.space.terms_of(top[0]), setup.fixed_hash, 3)
    action = make_strategy(name)(
        view_for(setup, t=0.0, rnd=0, standing=standing, standing_outcome=best, forbidden=forbidden)
    )
    assert action.performative == Performative.COUNTER
    assert setup.space.outcome_of(action.terms) not in forbidden


@pytest.mark.parametrize("name", NAMES)
def test_walks_away_when_nothing_reaches_the_reservation(name):
    base = random_setup(7)
    picky = PreferenceProfile(
        weights={"quality": 1},
        criteria={"quality": (IssueValue("i0", TableValue({"v0": 0.5})),)},
        reservation=0.6,
    )
    setup = NegotiationSetup(space=base.space, parties=(Party("p0", picky), base.parties[1]))
    action = make_strategy(name)(view_for(setup, t=0.5))
    assert action.performative == Performative.WITHDRAW
    assert "Walked away" in action.rationale


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    names=st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)),
    reservation=st.floats(0.0, 0.8),
    block_every=st.integers(0, 4),
)
def test_never_offers_or_accepts_below_reservation(seed, names, reservation, block_every):
    setup = random_setup(seed, values=5, reservation=reservation, max_rounds=30)
    calls = {"n": 0}

    def gate(offer, party):
        calls["n"] += 1
        if block_every and calls["n"] % (block_every + 1) == 0:
            return GateDecision("block", "policy says no")
        return GateDecision("allow")

    result = run(setup, [make_strategy(n) for n in names], gate=gate, seed=seed)
    for offer in result.state.history:
        if offer.performative in (Performative.PROPOSE, Performative.COUNTER, Performative.ACCEPT):
            k = setup.party_names.index(offer.sender)
            u = setup.parties[k].profile.utility(offer.terms, setup.space)
            assert u >= reservation - 1e-9, (offer, u)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), names=st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)))
def test_rationales_reveal_no_private_numbers(seed, names):
    """Rationales travel to the other party: no utilities, targets or reservations."""
    import re

    from negotiator.engine.protocol import run

    setup = random_setup(seed, reservation=0.3)
    result = run(setup, [make_strategy(n) for n in names], seed=seed)
    for offer in result.state.history:
        assert not re.search(r"\d\.\d", offer.rationale), offer.rationale
