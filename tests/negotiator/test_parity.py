"""A live negotiation plays exactly like the simulator: the same playbook,
policies, strategies and seed give the same offers whether the engine runs them
in memory or a real Celery worker plays them round by round, storing the state
in the database and loading it again between rounds.

tests/engine/test_parity.py holds the same for a store/load between rounds
without a database."""

from __future__ import annotations

import pytest

from negotiator.engine.protocol import run
from negotiator.engine.strategies import STRATEGIES, make_strategy
from negotiator.models import FINAL_STATUSES, Negotiation, NegotiationStatus, Offer
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.worker_cache import applicable_policy_versions, policy_gate_for, setup_for
from tests.conftest import celery_worker, wait_for

# Stopped moving on their own: ended, or waiting for a person (the gate approves
# nothing by default; the procurement playbook hands its limits to a person).
SETTLED = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Every strategy on each side against the default one, and a few seeds.
PAIRS = [(s, "default") for s in STRATEGIES] + [
    ("default", s) for s in STRATEGIES if s != "default"
]
SEEDS = (1, 2)


def offers_in_memory(negotiation: Negotiation) -> list[tuple]:
    """The negotiation's offers as the engine alone plays them (the simulator's way)."""
    participants = list(negotiation.participants.order_by("order"))
    versions = applicable_policy_versions(negotiation)
    setup = setup_for(negotiation, participants, versions)
    strategies = {p.role: make_strategy(p.strategy, **p.strategy_params) for p in participants}
    gate = policy_gate_for(negotiation, versions, participants)
    result = run(setup, strategies, gate=gate, seed=negotiation.seed)
    return [
        (o.sender, str(o.performative), dict(o.terms), o.rationale) for o in result.state.history
    ]


def offers_stored(negotiation: Negotiation) -> list[tuple]:
    return [
        (o.sender, o.performative, o.terms, o.rationale)
        for o in Offer.objects.filter(negotiation=negotiation).order_by("id")
    ]


def test_every_strategy_plays_the_same_through_the_worker_as_in_memory(
    procurement, worker_env, tmp_path
):
    negotiations = [
        negotiation_create(
            playbook=procurement,
            seed=seed,
            strategies={"buyer": buyer, "seller": seller},
            title=f"{buyer} vs {seller}, seed {seed}",
        )
        for buyer, seller in PAIRS
        for seed in SEEDS
    ]
    ids = [n.pk for n in negotiations]
    with celery_worker(tmp_path, worker_env):
        wait_for(
            lambda: Negotiation.objects.filter(pk__in=ids, status__in=SETTLED).count() == len(ids),
            timeout=240,
            interval=0.5,
        )
    differ = []
    for negotiation in Negotiation.objects.filter(pk__in=ids).order_by("pk"):
        stored, memory = offers_stored(negotiation), offers_in_memory(negotiation)
        assert len(stored) > 2, negotiation.title
        if stored != memory:
            first = next(i for i, (a, b) in enumerate(zip(stored, memory, strict=False)) if a != b)
            differ.append(
                f"{negotiation.title}: offer {first} differs: "
                f"{stored[first]} stored vs {memory[first]} in memory"
            )
    assert differ == []
