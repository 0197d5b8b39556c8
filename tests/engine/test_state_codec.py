"""The stored form of NegotiationState: every field, old states, extra keys."""

import dataclasses
import json

import pytest

from negotiator.engine.offers import Offer, Performative
from negotiator.engine.outcomes import CategoricalIssue, NumericIssue, OutcomeSpace
from negotiator.engine.preferences import IssueValue, LinearValue, PreferenceProfile, TableValue
from negotiator.engine.protocol import (
    Cause,
    GateDecision,
    NegotiationSetup,
    NegotiationState,
    Party,
    initial_state,
    proposal_record,
    step,
)
from negotiator.engine.state_codec import dataclass_codecs, state_from_dict, state_to_dict
from negotiator.engine.strategies import STRATEGIES, make_strategy

from .helpers import deal_setup, random_setup

# The keys negotiator.bridge.state_to_dict wrote before the codec was derived from
# the fields: states stored then lack the proposal record and the cause.
OLD_KEYS = {
    "parties",
    "history",
    "history_outcomes",
    "round",
    "status",
    "standing",
    "accepted_by",
    "agreement",
    "agreement_outcome",
    "seed",
    "now",
    "best_joint",
    "best_joint_round",
    "reason",
}


def through_json(data):
    return json.loads(json.dumps(data))


def rounds_of(setup, players, *, seed=0, gate=None, now=None):
    """Every state of one negotiation, round by round."""
    state = initial_state(setup, seed=seed, now=now)
    states = [state]
    while not state.finished:
        state = step(state, setup, players, gate=gate).state
        states.append(state)
    return states


def scripted(base, moves):
    """``base`` strategy, except on the rounds in ``moves`` (round -> view -> offer)."""

    def strategy(view):
        move = moves.get(view.round)
        return move(view) if move is not None else base(view)

    return strategy


def off_grid_setup():
    space = OutcomeSpace(
        (NumericIssue("price", 0.0, 100.0, samples=11), CategoricalIssue("plan", ("a", "b", "c")))
    )

    def profile(increasing, plan):
        return PreferenceProfile(
            weights={"cost": 0.7, "fit": 0.3},
            criteria={
                "cost": (IssueValue("price", LinearValue(increasing=increasing)),),
                "fit": (IssueValue("plan", TableValue(plan)),),
            },
        )

    return NegotiationSetup(
        space=space,
        parties=(
            Party("buyer", profile(False, {"a": 1, "b": 0.5, "c": 0})),
            Party("seller", profile(True, {"a": 0, "b": 0.4, "c": 1})),
        ),
        max_rounds=20,
    )


def off_grid_counter(view):
    # a remote agent may send a price between the enumerated samples
    return Offer(
        performative=Performative.COUNTER,
        sender=view.name,
        terms={"price": 33.3, "plan": "b"},
        fixed_terms_hash=view.fixed_terms_hash,
        round=view.round,
        in_reply_to=view.standing.id,
    )


def test_to_dict_writes_every_field_and_nothing_else():
    state = rounds_of(deal_setup(), [make_strategy("default")] * 2, seed=1)[-1]
    data = state_to_dict(state)
    assert set(data) == {f.name for f in dataclasses.fields(NegotiationState)}
    assert through_json(data) == data
    assert data["cause"] == "agreed" and data["status"] == "agreed"


@pytest.mark.parametrize(
    ("setup", "kwargs", "cause"),
    [
        (deal_setup(), {}, Cause.AGREED),
        (deal_setup(max_rounds=6), {}, Cause.MAX_ROUNDS),
        (deal_setup(offer_ttl_rounds=0), {}, Cause.OFFER_EXPIRED),
        (deal_setup(stall_rounds=3, stall_threshold=0.5), {}, Cause.STALLED),
        (
            deal_setup(deadline="2026-01-01T12:00:00+00:00"),
            {"now": "2026-01-01T12:00:00+00:00"},
            Cause.DEADLINE,
        ),
        (
            deal_setup(),
            {"gate": lambda o, p: GateDecision("escalate", "cfo")},
            Cause.POLICY_ESCALATION,
        ),
        (
            deal_setup(max_block_retries=1),
            {"gate": lambda o, p: GateDecision("block", "no")},
            Cause.BLOCK_RETRIES_EXHAUSTED,
        ),
    ],
)
def test_every_round_reads_back_equal(setup, kwargs, cause):
    players = [make_strategy("hardliner" if cause == Cause.MAX_ROUNDS else "default")] * 2
    states = rounds_of(setup, players, **kwargs)
    assert states[-1].cause == cause
    for state in states:
        assert state_from_dict(through_json(state_to_dict(state))) == state


def test_keys_the_service_layer_adds_are_ignored():
    state = rounds_of(deal_setup(), [make_strategy("default")] * 2)[3]
    stored = {
        **state_to_dict(state),
        "offer_pks": {"buyer-r0-v1": 17},
        "policy_versions": [{"policy_id": 3, "version": 2}],
    }
    loaded = state_from_dict(through_json(stored))
    assert loaded == state
    assert "offer_pks" not in state_to_dict(loaded)


def test_a_state_without_parties_is_refused():
    with pytest.raises(KeyError, match="parties"):
        state_from_dict({"round": 3})


def test_fields_of_a_type_without_a_json_form_fail_loudly():
    @dataclasses.dataclass(frozen=True)
    class WithASet:
        seen: frozenset[int] = frozenset()

    with pytest.raises(TypeError, match="no JSON form for fields of type"):
        dataclass_codecs(WithASet)


def test_an_old_stored_state_gets_the_proposal_record_step_kept():
    setup = random_setup(4)
    players = [make_strategy("default")] * 2
    states = rounds_of(setup, players, seed=4)
    for state in states:
        old = {k: v for k, v in through_json(state_to_dict(state)).items() if k in OLD_KEYS}
        loaded = state_from_dict(old)
        assert loaded == dataclasses.replace(state, cause=None)
    # and the negotiation goes on exactly as it would have
    middle = {k: v for k, v in state_to_dict(states[5]).items() if k in OLD_KEYS}
    resumed = rounds_of(setup, players, seed=4)[5:]
    state = state_from_dict(through_json(middle))
    for expected in resumed[1:]:
        state = step(state, setup, players).state
        assert state == expected


@pytest.mark.parametrize("parties", [2, 3])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_proposal_record_rebuilt_from_history_equals_what_step_keeps(name, parties):
    setup = random_setup(7, parties=parties, values=5, max_rounds=30, offer_ttl_rounds=3)

    def gate(offer, party):
        return GateDecision("block" if offer.terms.get("i1") == "v0" else "allow", "no v0")

    for state in rounds_of(setup, [make_strategy(name)] * parties, seed=7, gate=gate):
        rebuilt = proposal_record(state.parties, state.history, state.history_outcomes)
        assert rebuilt == (state.proposal_senders, state.proposal_outcomes)


def test_proposal_record_skips_off_grid_offers_and_rejects():
    setup = off_grid_setup()
    default = make_strategy("default")
    seller = scripted(default, {2: off_grid_counter, 4: lambda view: view.reject("no")})
    states = rounds_of(setup, [default, seller])
    history = states[-1].history
    assert any(o.terms.get("price") == 33.3 for o in history)
    assert any(o.performative == "reject" for o in history)
    for state in states:
        rebuilt = proposal_record(state.parties, state.history, state.history_outcomes)
        assert rebuilt == (state.proposal_senders, state.proposal_outcomes)
        assert state_from_dict(through_json(state_to_dict(state))) == state
