"""The mediated coalition protocol: consensus rules, role priorities, escalation that
names blockers, privacy of utilities, and determinism across stored states."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from negotiator.engine.constraints import recheck
from negotiator.engine.mediation import (
    Ballot,
    CoalitionRules,
    MediationState,
    VoterView,
    borda_winner,
    consensus,
    default_voter,
    mediate_run,
    mediate_step,
    rules_from_dict,
    state_from_dict,
    state_to_dict,
)
from negotiator.engine.plan_model import plan_model_from_spec

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "marketing.json"


@pytest.fixture(scope="module")
def marketing():
    spec = json.loads(PLAYBOOK.read_text())
    model = plan_model_from_spec(spec)
    setup = model.mediation_setup({r["name"]: r["profile"] for r in spec["roles"]})
    return spec, model, setup, model.start_text()


def test_three_agents_agree_on_a_feasible_plan(marketing):
    _, model, setup, start = marketing
    state = mediate_run(setup, start, seed=3)
    assert state.status == "agreed"
    assert "consensus (weighted_majority)" in state.reason
    assert all(check.holds for check in recheck(model.system, state.text))
    assert len(state.rounds[-1].ballots) == 3


def test_the_same_seed_gives_the_same_negotiation(marketing):
    _, _, setup, start = marketing
    assert mediate_run(setup, start, seed=11) == mediate_run(setup, start, seed=11)


def test_a_stored_state_resumes_exactly_as_an_uninterrupted_run(marketing):
    _, _, setup, start = marketing
    voters = dict.fromkeys(setup.party_names, default_voter)
    state = MediationState(text=start, seed=5)
    while not state.finished:
        state = state_from_dict(json.loads(json.dumps(state_to_dict(state))))
        state = mediate_step(state, setup, voters)
    assert state == mediate_run(setup, start, seed=5)


def test_unanimity_needs_every_party():
    rules = CoalitionRules(rule="unanimity")
    ballots = [Ballot("a", True, (0,)), Ballot("b", True, (0,)), Ballot("c", False, (0,))]
    assert consensus(rules, ballots) == (False, pytest.approx(2 / 3))


def test_a_weighted_majority_passes_unless_the_veto_role_rejects():
    rules = CoalitionRules(
        rule="weighted_majority", threshold=0.6, priorities={"a": 2.0}, veto=("c",)
    )
    passing = [Ballot("a", True, (0,)), Ballot("b", False, (0,)), Ballot("c", True, (0,))]
    assert consensus(rules, passing)[0] is True  # 3 of 4 weight
    vetoed = [Ballot("a", True, (0,)), Ballot("b", True, (0,)), Ballot("c", False, (0,))]
    assert consensus(rules, vetoed)[0] is False


def test_role_priorities_decide_the_mediators_next_text():
    rules = CoalitionRules(priorities={"a": 3.0}, precedence=("a", "b"))
    ballots = [Ballot("a", True, (1, 2, 0)), Ballot("b", True, (2, 1, 0))]
    assert borda_winner(rules, ballots, 3) == 1
    tied = CoalitionRules(precedence=("b", "a"))
    assert borda_winner(tied, ballots, 3) == 2  # equal weights: b goes first


def test_without_consensus_in_time_it_escalates_naming_who_blocks_on_which_issue(marketing):
    _, _, setup, start = marketing
    demanding = tuple((name, replace(p, reservation=0.9)) for name, p in setup.parties)
    stubborn = replace(setup, parties=demanding, rules=replace(setup.rules, max_rounds=5))
    state = mediate_run(stubborn, start, seed=1)
    assert state.status == "escalated"
    assert state.blockers, "an escalation names its blockers"
    party, issue = state.blockers[0]
    assert party in setup.party_names and issue in ("spend", "flight", "creatives")
    assert f"{party} blocks on {issue}" in state.reason


def test_the_mediator_sees_only_ballots_never_utilities(marketing):
    _, _, setup, start = marketing
    state = mediate_run(setup, start, seed=2)
    public = json.dumps(state_to_dict(state))
    assert "reservation" not in public and "weights" not in public
    ballot = state.rounds[0].ballots[0]
    assert set(vars(ballot)) == {"party", "accept", "ranking", "objection"}


def test_a_ballot_that_does_not_rank_every_option_is_refused(marketing):
    _, _, setup, start = marketing

    def lazy(view: VoterView) -> Ballot:
        return Ballot(view.name, True, (0,))

    voters = dict.fromkeys(setup.party_names, lazy)
    with pytest.raises(ValueError, match="must rank each"):
        mediate_step(MediationState(text=start), setup, voters)


def test_coalition_settings_that_name_unknown_roles_are_refused():
    with pytest.raises(ValueError, match="unknown roles"):
        rules_from_dict({"veto": ["legal"]}, ["budget", "channel"])
    with pytest.raises(ValueError, match="rule must be one of"):
        rules_from_dict({"rule": "dictator"}, ["budget", "channel"])


def test_the_scheduling_playbook_is_a_second_domain_with_certified_dock_plans():
    from negotiator.engine.constraints import certify, offer_check

    spec = json.loads((PLAYBOOK.parent / "scheduling.json").read_text())
    model = plan_model_from_spec(spec)
    start = model.start_text()
    assert start is not None
    checked = offer_check(model.system, start)
    assert checked.ok and {"dock-doors", "handling-crew"} <= set(checked.solver_path)
    setup = model.mediation_setup({r["name"]: r["profile"] for r in spec["roles"]})
    states = [mediate_run(setup, start, seed=seed) for seed in range(3)]
    agreed = [s for s in states if s.status == "agreed"]
    assert agreed, [s.reason for s in states]
    for state in agreed:
        assert certify(model.system, state.text)["valid"]
