"""A negotiation stored and reloaded between rounds plays exactly like one kept in memory.

The service layer stores the engine state as JSON after every round and loads it
for the next; the simulator keeps it in memory. Both must make the same offers.
"""

import json

import pytest

from negotiator.bridge import state_from_dict, state_to_dict
from negotiator.engine.protocol import Status, initial_state, step
from negotiator.engine.strategies import STRATEGIES, make_strategy

from .helpers import deal_setup, random_setup

SEEDS = range(6)
MIXED = [
    ("default", "tradeoff"),
    ("tit-for-tat", "default"),
    ("boulware", "tit-for-tat"),
    ("conceder", "hardliner"),
]


def stored(state):
    """The state as the service layer keeps it: a JSON column, read back."""
    return state_from_dict(json.loads(json.dumps(state_to_dict(state))))


def play(setup, names, seed, *, store):
    players = [make_strategy(n) for n in names]
    state = initial_state(setup, seed=seed)
    events = []
    while not state.finished:
        result = step(state, setup, players)
        events.extend(result.events)
        state = stored(result.state) if store else result.state
    return state, events


def assert_same_negotiation(setup, names, seed):
    in_memory, memory_events = play(setup, names, seed, store=False)
    replayed, replayed_events = play(setup, names, seed, store=True)
    assert [o.terms for o in replayed.history] == [o.terms for o in in_memory.history]
    assert replayed.history == in_memory.history
    assert (replayed.status, replayed.cause, replayed.agreement) == (
        in_memory.status,
        in_memory.cause,
        in_memory.agreement,
    )
    assert replayed == in_memory
    assert replayed_events == memory_events


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stored_self_play_matches_memory_two_parties(name, seed):
    assert_same_negotiation(random_setup(seed), [name, name], seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stored_self_play_matches_memory_three_parties(name, seed):
    assert_same_negotiation(
        random_setup(seed, parties=3, values=5, max_rounds=40), [name] * 3, seed
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("names", MIXED, ids="-".join)
def test_stored_mixed_pairs_match_memory(names, seed):
    setup = random_setup(seed, values=8, max_rounds=60, stall_rounds=8, stall_threshold=0.001)
    assert_same_negotiation(setup, names, seed)


def test_stored_buyer_seller_default_agrees_as_in_memory():
    in_memory, _ = play(deal_setup(), ["default", "default"], 1, store=False)
    replayed, _ = play(deal_setup(), ["default", "default"], 1, store=True)
    assert in_memory.status == Status.AGREED
    assert replayed.agreement == in_memory.agreement
