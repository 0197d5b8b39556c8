"""Candidate moves and the Guided strategy: a picker chooses among moves that
concede no more than the deterministic strategy, are allowed by the party's
policies and were not blocked; anything else plays the deterministic move."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from negotiator.engine.candidates import (
    DEFAULT_BAND,
    Guided,
    Pick,
    candidate_moves,
    first_candidate,
    guided_choice,
)
from negotiator.engine.offers import Performative
from negotiator.engine.protocol import GateDecision, NegotiationSetup, run
from negotiator.engine.strategies import make_strategy
from tests.engine.helpers import random_setup


def _masked(setup: NegotiationSetup, seed: int) -> NegotiationSetup:
    """The first party may offer only about two thirds of the outcomes."""
    rng = np.random.default_rng(seed)
    mask = rng.random(setup.space.cardinality) < 0.66
    first = replace(setup.parties[0], allowed=mask)
    return NegotiationSetup(
        space=setup.space, parties=(first, *setup.parties[1:]), max_rounds=setup.max_rounds
    )


class Recorder:
    """A picker that checks every list it is shown, then picks at random."""

    def __init__(self, seed: int, base, mask=None) -> None:
        self.mask = mask
        self.rng = random.Random(seed)
        self.base = base
        self.seen = 0
        self.offered: list[tuple] = []

    def __call__(self, view, candidates):
        deterministic = self.base(view)
        assert candidates[0].offer == deterministic and candidates[0].deterministic
        if deterministic.performative in (Performative.PROPOSE, Performative.COUNTER):
            names = view.space.names
            u_det = view.utility_of(
                view.space.index_of(tuple(deterministic.terms[n] for n in names))
            )
            for c in candidates:
                index = view.space.index_of(tuple(c.offer.terms[n] for n in names))
                assert c.offer.performative == deterministic.performative
                assert u_det - 1e-9 <= view.utility_of(index) <= u_det + DEFAULT_BAND + 1e-9
                assert view.utility_of(index) >= view.reservation
                assert not view.is_forbidden(index)
                if self.mask is not None:
                    assert self.mask[index], "a candidate the party's policies forbid"
        else:
            assert len(candidates) == 1, (
                "decisions (accept, reject, walk away) have no alternatives"
            )
        self.seen += 1
        picked = self.rng.choice(candidates)
        self.offered.append((picked.offer.performative, dict(picked.offer.terms)))
        return Pick(picked.id, f"option {picked.id}")


def test_every_candidate_concedes_no_more_than_the_strategy_and_is_allowed():
    for seed in range(8):
        setup = _masked(random_setup(seed, reservation=0.3, max_rounds=30), seed)
        base = make_strategy("default")
        recorder = Recorder(seed, base, setup.parties[0].allowed)
        result = run(setup, [Guided(base, recorder), make_strategy("default")], seed=seed)
        assert recorder.seen > 0
        mask = setup.parties[0].allowed
        for offer in result.state.history:
            if offer.sender == "p0" and offer.performative in (
                Performative.PROPOSE,
                Performative.COUNTER,
            ):
                index = setup.space.index_of(tuple(offer.terms[n] for n in setup.space.names))
                assert mask[index], "an outcome the party's policies forbid was offered"


def test_a_blocked_outcome_is_never_a_candidate_again_in_that_turn():
    setup = random_setup(3, reservation=0.2, max_rounds=20)
    blocked: set[tuple] = set()

    def gate(offer, party):
        if party == "p0" and offer.performative == Performative.COUNTER and len(blocked) < 6:
            key = tuple(offer.terms[n] for n in setup.space.names)
            blocked.add(key)
            return GateDecision("block", "test block")
        return GateDecision("allow")

    shown: list[set] = []

    def picker(view, candidates):
        shown.append({tuple(c.offer.terms.get(n) for n in view.space.names) for c in candidates})
        for outcome in view.forbidden:
            assert outcome not in shown[-1]
        return Pick(candidates[-1].id, "")

    base = make_strategy("default")
    run(setup, [Guided(base, picker), make_strategy("default")], gate=gate, seed=3)
    assert blocked and shown


def test_an_unknown_id_no_answer_or_a_picker_error_plays_the_deterministic_move():
    setup = random_setup(5, reservation=0.2, max_rounds=20)
    base = make_strategy("default")
    a = run(setup, [Guided(base, lambda v, c: Pick("c99", "x")), base], seed=5)
    b = run(setup, [Guided(base, lambda v, c: None), base], seed=5)
    c = run(setup, [base, base], seed=5)

    def broken(view, candidates):
        raise RuntimeError("the picker's own bug")

    d = run(setup, [Guided(base, broken), base], seed=5)
    terms = lambda r: [(o.performative, dict(o.terms)) for o in r.state.history]  # noqa: E731
    assert terms(a) == terms(b) == terms(c) == terms(d)


def test_the_first_candidate_picker_negotiates_exactly_like_the_strategy():
    for seed in range(5):
        setup = random_setup(seed, reservation=0.25, max_rounds=40)
        base = make_strategy("default")
        guided = run(setup, [Guided(base, first_candidate), base], seed=seed).state
        plain = run(setup, [base, base], seed=seed).state
        assert guided.agreement == plain.agreement
        assert guided.round == plain.round


def test_the_message_is_one_trimmed_line_and_never_changes_the_terms():
    setup = random_setup(1, reservation=0.2)
    base = make_strategy("default")
    view_holder = {}

    def picker(view, candidates):
        view_holder["c"] = candidates
        return None

    run(setup, [Guided(base, picker), base], seed=1)
    candidates = view_holder["c"]
    offer = guided_choice(candidates, Pick(candidates[-1].id, "  hello\n\nthere " + "x" * 900))
    assert offer.terms == candidates[-1].offer.terms
    assert offer.rationale.startswith("hello there ") and len(offer.rationale) == 600


def test_a_decision_has_one_candidate():
    # a negotiation in which both parties are guided: they counter several times and
    # one of them accepts (whichever seat that is)
    setup = random_setup(4, reservation=0.2, max_rounds=10)
    base = make_strategy("default")
    kinds = []

    def picker(view, candidates):
        move = candidate_moves(view, base)
        kinds.append((move[0].offer.performative, len(move)))
        return None

    run(setup, [Guided(base, picker), Guided(base, picker)], seed=2)
    assert any(k not in (Performative.PROPOSE, Performative.COUNTER) for k, _ in kinds)
    assert all(n == 1 for k, n in kinds if k not in (Performative.PROPOSE, Performative.COUNTER))
    assert any(n > 1 for k, n in kinds if k in (Performative.PROPOSE, Performative.COUNTER))
