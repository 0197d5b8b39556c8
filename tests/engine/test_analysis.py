import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from negotiator.engine.analysis import (
    advantage,
    agreement_quality,
    analyse,
    kalai_smorodinsky_point,
    max_welfare_point,
    nash_point,
    pareto_frontier,
    pareto_frontier_bruteforce,
    quality_score,
)

# coarse values so ties and duplicates are common
utility_values = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda k: arrays(
            np.float64, st.tuples(st.integers(1, 40), st.just(k)), elements=utility_values
        )
    )
)
def test_pareto_frontier_equals_brute_force(u):
    assert pareto_frontier(u).tolist() == pareto_frontier_bruteforce(u).tolist()


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 60), st.just(2)), elements=st.floats(0, 1)))
def test_pareto_frontier_equals_brute_force_on_continuous_values(u):
    assert pareto_frontier(u).tolist() == pareto_frontier_bruteforce(u).tolist()


def test_frontier_of_100k_outcomes_with_three_parties():
    rng = np.random.default_rng(0)
    u = rng.random((100_000, 3))
    front = pareto_frontier(u)
    assert 0 < front.size < 5000
    sample = rng.choice(u.shape[0], 200, replace=False)
    on = set(front.tolist())
    for i in sample:
        dominated = np.any(np.all(u >= u[i], axis=1) & np.any(u > u[i], axis=1))
        assert dominated == (int(i) not in on)


def test_bargaining_points_on_a_small_example():
    u = np.array([[1.0, 0.0], [0.8, 0.5], [0.6, 0.6], [0.3, 0.9], [0.2, 0.2]])
    assert nash_point(u, [0, 0]) == 1  # 0.40 beats 0.36 and 0.27
    assert kalai_smorodinsky_point(u, [0, 0]) == 2
    assert max_welfare_point(u) == 1
    assert nash_point(u, [0.7, 0.0]) == 1
    assert nash_point(u, [0.95, 0.95]) is None
    assert pareto_frontier(u).tolist() == [0, 1, 2, 3]


def test_analyse_gives_kalai_smorodinsky_next_to_nash():
    u = np.array([[1.0, 0.0], [0.8, 0.5], [0.6, 0.6], [0.3, 0.9], [0.2, 0.2]])
    analysis = analyse(u, [0.0, 0.0])
    assert (analysis.nash, analysis.kalai_smorodinsky) == (1, 2)
    assert analysis.nash_utilities.tolist() == [0.8, 0.5]
    assert analysis.kalai_smorodinsky_utilities.tolist() == [0.6, 0.6]
    out_of_reach = analyse(u, [0.95, 0.95])
    assert out_of_reach.nash_utilities is None
    assert out_of_reach.kalai_smorodinsky_utilities is None
    assert agreement_quality(out_of_reach, u[1]).kalai_distance == float("inf")


def test_agreement_quality_and_advantage():
    u = np.array([[1.0, 0.0], [0.8, 0.5], [0.6, 0.6], [0.3, 0.9], [0.2, 0.2]])
    analysis = analyse(u, [0.0, 0.0])
    at_nash = agreement_quality(analysis, u[1])
    assert at_nash.on_frontier and at_nash.pareto_distance == 0 and at_nash.nash_distance == 0
    assert at_nash.quality == 1.0
    poor = agreement_quality(analysis, u[4])
    assert not poor.on_frontier
    assert poor.pareto_distance == pytest.approx(np.hypot(0.4, 0.4))
    assert 0 <= poor.quality < at_nash.quality
    assert at_nash.kalai_distance == pytest.approx(np.hypot(0.2, 0.1))  # KS point is row 2
    assert agreement_quality(analysis, u[2]).kalai_distance == 0.0
    assert advantage(0.75, 0.5) == 0.5
    assert advantage(0.9, 1.0) == 0.0
    assert quality_score(float("inf"), 0.0, 2) == 0.0


def test_space_utilities_enumerates_small_spaces_and_samples_large_ones():
    from negotiator.engine.analysis import space_utilities
    from negotiator.engine.outcomes import NumericIssue, OutcomeSpace
    from negotiator.engine.preferences import IssueValue, LinearValue, PreferenceProfile

    from .helpers import buyer_profile, deal_space, seller_profile

    space = deal_space()
    outcomes, u = space_utilities(space, [buyer_profile(), seller_profile()])
    assert outcomes is None and u.shape == (space.cardinality, 2)
    continuous = OutcomeSpace(
        (NumericIssue("rate", 0.0, 1.0, samples=1001), NumericIssue("fee", 0.0, 1.0, samples=1001))
    )
    up = PreferenceProfile(
        weights={"cost": 1},
        criteria={"cost": (IssueValue("rate", LinearValue()), IssueValue("fee", LinearValue()))},
    )
    down = PreferenceProfile(
        weights={"cost": 1},
        criteria={
            "cost": (IssueValue("rate", LinearValue(False)), IssueValue("fee", LinearValue(False)))
        },
    )
    outcomes, u = space_utilities(continuous, [up, down], max_outcomes=500, seed=3)
    assert len(outcomes) == 500 and u.shape == (500, 2)
    assert np.allclose(u.sum(axis=1), 1.0)  # a constant-sum game: every sample is Pareto-optimal
    assert pareto_frontier(u).size == 500
