"""Outside parties: a seat whose moves come from outside the engine (an outside
agent, a person). The round pauses at its turn, takes its move when it comes,
checks it like any other, and refuses what breaks the protocol or a policy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from negotiator.engine.errors import InvalidOffer, MoveRefused
from negotiator.engine.offers import Offer, Performative
from negotiator.engine.protocol import (
    OUTSIDE,
    Cause,
    GateDecision,
    Status,
    initial_state,
    run,
    step,
    waiting_for,
)
from negotiator.engine.strategies import make_strategy

from .helpers import deal_setup


def counter(setup, sender: str, rnd: int, **terms) -> Offer:
    base = {"price": 60, "delivery_days": 14, "channel": "email", "support": "standard"}
    return Offer(
        Performative.COUNTER,
        sender,
        {**base, **terms},
        setup.fixed_hash,
        rnd,
        rationale="outside",
    )


def test_the_round_pauses_at_the_outside_party_and_resumes_with_its_move():
    setup = deal_setup()
    players = {"buyer": make_strategy("default"), "seller": OUTSIDE}
    first = step(initial_state(setup, seed=3), setup, players)
    assert first.waiting_for == "seller"
    assert (first.state.round, first.state.turn) == (0, 1)
    assert [o.sender for o in first.state.history] == ["buyer"]
    assert first.state.status == Status.RUNNING
    assert waiting_for(first.state, players) == "seller"

    move = counter(setup, "seller", 0, price=90)
    second = step(first.state, setup, players, moves={"seller": move})
    assert second.waiting_for is None
    assert (second.state.round, second.state.turn) == (1, 0)
    assert second.state.history[-1] == move
    assert second.state.history[second.state.standing] == move
    # the next round: our buyer answers at once, then waits again
    third = step(second.state, setup, players)
    assert third.waiting_for == "seller"
    assert third.state.history[-1].sender == "buyer"


def test_an_outside_first_mover_is_waited_for_before_anything_happens():
    setup = deal_setup()
    players = {"buyer": OUTSIDE, "seller": make_strategy("default")}
    state = initial_state(setup, seed=1)
    assert waiting_for(state, players) == "buyer"
    result = step(state, setup, players)
    assert result.waiting_for == "buyer"
    assert result.state == state and result.events == ()
    after = step(state, setup, players, moves={"buyer": counter(setup, "buyer", 0, price=30)})
    # the round closes with the seller's answer, and the next one opens with the buyer
    assert after.state.round == 1 and after.waiting_for == "buyer"
    assert [o.sender for o in after.state.history] == ["buyer", "seller"]


def test_an_outside_party_replaying_a_strategy_plays_exactly_like_that_strategy():
    """Feeding the seller's moves of a built-in run back as outside moves gives the
    same negotiation: the outside path changes nothing about the protocol."""
    setup = deal_setup()
    builtin = run(setup, [make_strategy("default"), make_strategy("conceder")], seed=5).state
    seller_moves = [o for o in builtin.history if o.sender == "seller"]
    players = {"buyer": make_strategy("default"), "seller": OUTSIDE}
    state = initial_state(setup, seed=5)
    for _ in range(200):
        if state.finished:
            break
        result = step(state, setup, players)
        if result.waiting_for == "seller" and not result.state.finished:
            result = step(result.state, setup, players, moves={"seller": seller_moves.pop(0)})
        state = result.state
    assert state.history == builtin.history
    assert (state.status, state.cause, state.agreement) == (
        builtin.status,
        builtin.cause,
        builtin.agreement,
    )


@pytest.mark.parametrize(
    ("make_move", "problem"),
    [
        (lambda s: counter(s, "buyer", 0), "sent an offer as 'buyer'"),
        (lambda s: counter(s, "seller", 0, price=999), "price"),
        (lambda s: counter(s, "seller", 0, colour="red"), "unknown issue 'colour'"),
        (lambda s: replace(counter(s, "seller", 0), fixed_terms_hash="x" * 64), "fixed terms"),
        (
            lambda s: Offer(Performative.ACCEPT, "seller", {"price": 20}, s.fixed_hash, 0),
            "differ from the standing offer",
        ),
    ],
)
def test_a_malformed_outside_move_is_refused_and_changes_nothing(make_move, problem):
    setup = deal_setup()
    players = {"buyer": make_strategy("default"), "seller": OUTSIDE}
    paused = step(initial_state(setup, seed=3), setup, players).state
    with pytest.raises(InvalidOffer, match=problem):
        step(paused, setup, players, moves={"seller": make_move(setup)})
    assert step(paused, setup, players).waiting_for == "seller"


def test_a_move_out_of_turn_is_refused():
    setup = deal_setup()
    players = {"buyer": OUTSIDE, "seller": OUTSIDE}
    with pytest.raises(InvalidOffer, match="not the turn of seller"):
        step(
            initial_state(setup),
            setup,
            players,
            moves={"seller": counter(setup, "seller", 0)},
        )


def test_the_gate_refuses_a_blocked_outside_move_and_escalates_an_escalated_one():
    setup = deal_setup()
    players = {"buyer": make_strategy("default"), "seller": OUTSIDE}
    paused = step(initial_state(setup, seed=3), setup, players).state

    def gate(verdict):
        return lambda offer, party: (
            GateDecision(verdict, "price above 80 needs a person")
            if party == "seller" and offer.terms.get("price", 0) > 80
            else GateDecision("allow")
        )

    move = counter(setup, "seller", 0, price=95)
    with pytest.raises(MoveRefused, match="price above 80"):
        step(paused, setup, players, gate=gate("block"), moves={"seller": move})
    escalated = step(paused, setup, players, gate=gate("escalate"), moves={"seller": move})
    assert escalated.state.status == Status.ESCALATED
    assert escalated.state.cause == Cause.POLICY_ESCALATION
    assert escalated.state.turn == 1  # a person decides on the seller's turn
    allowed = step(
        paused, setup, players, gate=gate("escalate"), moves={"seller": counter(setup, "seller", 0)}
    )
    assert allowed.state.status == Status.RUNNING
