import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiator.engine.offers import Performative
from negotiator.engine.preferences import IssueValue, PreferenceProfile, TableValue
from negotiator.engine.protocol import (
    Cause,
    EventKind,
    GateDecision,
    NegotiationSetup,
    Party,
    Status,
    initial_state,
    run,
    step,
)
from negotiator.engine.state_codec import state_from_dict, state_to_dict
from negotiator.engine.strategies import STRATEGIES, make_strategy

from .helpers import deal_setup, random_setup


def strategies(*names, **params):
    return [make_strategy(n, **params) for n in names]


def test_bilateral_default_self_play_agrees():
    setup = deal_setup()
    result = run(setup, strategies("default", "default"))
    state = result.state
    assert state.status == Status.AGREED
    assert state.agreement is not None
    kinds = [e.kind for e in result.events]
    assert kinds[-1] == EventKind.AGREED
    assert state.cause == Cause.AGREED
    assert EventKind.OFFER_MADE in kinds and EventKind.ACCEPTED in kinds
    assert all(e.reason for e in result.events if e.kind == EventKind.OFFER_MADE)
    assert all(o.fixed_terms_hash == setup.fixed_hash for o in state.history)
    accepted = [o for o in state.history if o.performative == Performative.ACCEPT]
    assert accepted[-1].in_reply_to == state.history[state.standing].id


def stored(state):
    """The state as the service layer keeps it between rounds: a JSON column."""
    return state_from_dict(json.loads(json.dumps(state_to_dict(state))))


def test_step_plays_one_round_from_stored_state():
    setup = deal_setup()
    players = strategies("default", "default")
    state = initial_state(setup, seed=3)
    first = step(stored(state), setup, players)
    assert first.state.round == 1
    assert [e.party for e in first.events] == ["buyer", "seller"]
    assert first.state.history[1].performative == Performative.COUNTER
    assert first.state.history[1].in_reply_to == first.state.history[0].id
    # stepping the stored state again continues where it left off
    second = step(stored(first.state), setup, players)
    assert second.state.round == 2 and len(second.state.history) == 4
    finished = run(setup, players, state=stored(second.state))
    assert finished.state == run(setup, players, seed=3).state


def test_every_cause_ends_with_the_status_its_docstring_names():
    documented = dict(re.findall(r"^\s*- ``(\w+)`` → ``(\w+)``", Cause.__doc__, re.MULTILINE))
    assert documented == {str(c): str(c.status) for c in Cause}
    assert {c.status for c in Cause} == set(Status) - {Status.RUNNING}


def test_max_rounds_fails_with_timed_out_event():
    setup = deal_setup(max_rounds=10)
    result = run(setup, strategies("hardliner", "hardliner"))
    assert result.state.status == Status.FAILED
    assert result.state.cause == Cause.MAX_ROUNDS
    assert result.state.round == 10
    assert result.events[-1].kind == EventKind.TIMED_OUT
    assert "10 rounds" in result.events[-1].reason


def test_stall_stops_when_joint_utility_does_not_improve():
    setup = deal_setup(max_rounds=100, stall_rounds=5, stall_threshold=0.001)
    result = run(setup, strategies("hardliner", "hardliner"))
    assert result.state.status == Status.STALLED
    assert result.state.cause == Cause.STALLED
    assert result.events[-1].kind == EventKind.STALLED
    assert result.state.round < 10


def test_walk_away_fails_the_negotiation():
    base = random_setup(1)
    # the buyer can at best reach 0.5, below its reservation 0.6: it must walk away
    picky = PreferenceProfile(
        weights={"quality": 1},
        criteria={"quality": (IssueValue("i0", TableValue({"v0": 0.5})),)},
        reservation=0.6,
    )
    setup = NegotiationSetup(space=base.space, parties=(Party("buyer", picky), base.parties[1]))
    result = run(setup, strategies("default", "default"))
    assert result.state.status == Status.FAILED
    assert result.state.cause == Cause.WALKED_AWAY
    assert result.events[-1].kind == EventKind.WALKED_AWAY
    assert result.state.history[-1].performative == Performative.WITHDRAW


def test_expired_standing_offer_times_out():
    setup = deal_setup(offer_ttl_rounds=0)
    result = run(setup, strategies("hardliner", "hardliner"))
    assert result.state.status == Status.TIMED_OUT
    assert result.state.cause == Cause.OFFER_EXPIRED
    assert "expired at round 0" in result.state.reason
    assert result.state.history[0].expires_at_round == 0


def test_deadline_times_out():
    setup = deal_setup(deadline="2026-01-01T12:00:00+00:00")
    state = initial_state(setup, now="2026-01-01T11:00:00+00:00")
    players = strategies("hardliner", "hardliner")
    state = step(state, setup, players).state
    assert state.status == Status.RUNNING
    assert state.cause is None
    result = step(state, setup, players, now="2026-01-01T12:00:01+00:00")
    assert result.state.status == Status.TIMED_OUT
    assert result.state.cause == Cause.DEADLINE
    assert result.events[0].kind == EventKind.TIMED_OUT


def test_gate_escalate_stops_the_negotiation():
    setup = deal_setup()
    result = run(
        setup,
        strategies("default", "default"),
        gate=lambda o, p: GateDecision("escalate", "price needs CFO"),
    )
    assert result.state.status == Status.ESCALATED
    assert result.state.cause == Cause.POLICY_ESCALATION
    # The cause names the move that stopped it, then the gate's own reason.
    assert result.events[-1].reason == "round 0, buyer's propose: price needs CFO"


def test_gate_that_blocks_everything_escalates_after_retries():
    setup = deal_setup(max_block_retries=3)
    result = run(
        setup, strategies("default", "default"), gate=lambda o, p: GateDecision("block", "no")
    )
    assert result.state.status == Status.ESCALATED
    assert result.state.cause == Cause.BLOCK_RETRIES_EXHAUSTED
    blocked = [e for e in result.events if e.kind == EventKind.BLOCKED]
    assert len(blocked) == 4
    assert len({tuple(e.offer.terms.items()) for e in blocked}) == 4
    assert "3 blocked attempts" in result.events[-1].reason


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    name=st.sampled_from(sorted(STRATEGIES)),
    price_cap=st.integers(1, 9),
)
def test_blocked_outcomes_are_never_reproposed_in_that_turn_nor_agreed(seed, name, price_cap):
    setup = random_setup(seed, values=10, max_rounds=40)
    banned_values = {f"v{k}" for k in range(price_cap)}

    def gate(offer, party):
        if offer.terms["i0"] in banned_values:
            return GateDecision("block", f"i0 must not be {offer.terms['i0']}")
        return GateDecision("allow")

    result = run(setup, strategies(name, name), gate=gate, seed=seed)
    turn_blocks: dict[tuple[int, str], set] = {}
    for e in result.events:
        key = (e.round, e.party)
        if e.kind == EventKind.BLOCKED:
            outcome = tuple(e.offer.terms.items())
            assert outcome not in turn_blocks.setdefault(key, set())
            turn_blocks[key].add(outcome)
    if result.state.agreement is not None:
        assert result.state.agreement["i0"] not in banned_values


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    names=st.lists(st.sampled_from(sorted(STRATEGIES)), min_size=2, max_size=2),
)
def test_same_seed_gives_the_same_trace(seed, names):
    setup = random_setup(seed, values=6, max_rounds=30)
    a = run(setup, strategies(*names), seed=seed)
    b = run(random_setup(seed, values=6, max_rounds=30), strategies(*names), seed=seed)
    assert a.state == b.state
    assert a.events == b.events


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    parties=st.integers(3, 4),
    name=st.sampled_from(["default", "linear", "conceder", "tradeoff"]),
)
def test_multilateral_agreement_is_accepted_by_every_party(seed, parties, name):
    setup = random_setup(seed, parties=parties, values=5, max_rounds=40)
    result = run(setup, strategies(*[name] * parties), seed=seed)
    state = result.state
    if state.status == Status.AGREED:
        standing = state.history[state.standing]
        accepters = {
            o.sender
            for o in state.history[state.standing + 1 :]
            if o.performative == Performative.ACCEPT
        }
        assert accepters | {standing.sender} == set(setup.party_names)
        assert set(state.accepted_by) == set(setup.party_names)


def test_multilateral_default_reaches_agreement():
    agreed = sum(
        run(
            random_setup(s, parties=3, values=6), strategies("default", "default", "default")
        ).state.status
        == Status.AGREED
        for s in range(10)
    )
    assert agreed >= 9


def test_setup_rejects_bad_configuration():
    setup = deal_setup()
    with pytest.raises(ValueError, match="at least two parties"):
        NegotiationSetup(space=setup.space, parties=setup.parties[:1])
    with pytest.raises(ValueError, match="2 strategies for"):
        run(random_setup(1, parties=3, values=3), strategies("default", "default"))
