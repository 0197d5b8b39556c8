import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiator.engine.outcomes import OutcomeSpace, issue_from_dict, issue_to_dict
from negotiator.engine.preferences import (
    PiecewiseLinearValue,
    PreferenceProfile,
    profile_from_dict,
    profile_to_dict,
)

from .helpers import buyer_profile, deal_space, random_profile, random_space


def test_profile_round_trips_through_json():
    profile = buyer_profile()
    data = json.loads(json.dumps(profile_to_dict(profile)))
    again = profile_from_dict(data)
    assert profile_to_dict(again) == profile_to_dict(profile)
    assert again.private_values["budget_cap"] == 100000
    space = deal_space()
    for outcome in list(space.enumerate())[:50]:
        assert again.outcome_utility(outcome, space) == pytest.approx(
            profile.outcome_utility(outcome, space)
        )


def test_weights_are_normalised_and_utility_is_in_unit_interval():
    profile = buyer_profile()
    assert sum(profile.weights.values()) == pytest.approx(1.0)
    space = deal_space()
    u = profile.utility_array(space)
    assert u.shape == (space.cardinality,)
    assert u.min() >= 0 and u.max() == pytest.approx(1.0)
    best = {"price": 20, "delivery_days": 7, "channel": "portal", "support": "premium"}
    assert profile.utility(best, space) == pytest.approx(1.0)
    mid = {"price": 60, "delivery_days": 21, "channel": "email", "support": "standard"}
    assert profile.utility(mid, space) == pytest.approx(
        0.5 * 0.5 + 0.2 * 0.5 + 0.2 * 0.6 + 0.1 * 0.5
    )


def test_discount_is_genius_style():
    profile = profile_from_dict({**profile_to_dict(buyer_profile()), "discount": 0.5})
    assert profile.discounted(0.8, 1.0) == pytest.approx(0.4)
    assert profile.discounted(0.8, 0.0) == pytest.approx(0.8)


def test_piecewise_linear_interpolates_and_is_flat_outside():
    fn = PiecewiseLinearValue(((10, 0.0), (20, 1.0), (30, 0.5)))
    assert fn.evaluate(15) == pytest.approx(0.5)
    assert fn.evaluate(25) == pytest.approx(0.75)
    assert fn.evaluate(0) == 0.0 and fn.evaluate(99) == 0.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weights": {"cost": 1}, "criteria": {}}, "criteria with weight but no issues"),
        ({"weights": {"cost": -1}, "criteria": {}}, "must not be negative"),
        (
            {
                "weights": {"cost": 1},
                "criteria": {"cost": [{"issue": "price", "function": {"type": "cubic"}}]},
            },
            "unknown value function type 'cubic'",
        ),
        (
            {"weights": {"cost": 1}, "criteria": {"cost": []}, "reservation": 2},
            "criteria with weight but no issues",
        ),
    ],
)
def test_bad_profiles_are_rejected_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        profile_from_dict(data)


def test_profile_must_fit_the_space():
    profile = buyer_profile()
    space = OutcomeSpace((issue_from_dict({"name": "price", "lower": 1, "upper": 2}),))
    with pytest.raises(ValueError, match="unknown issues"):
        profile.check_space(space)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_vectorised_utility_matches_scalar_utility(seed):
    import random

    rng = random.Random(seed)
    space = random_space(rng, issues=3, values=4)
    profile = random_profile(rng, space)
    u = profile.utility_array(space)
    outcomes = list(space.enumerate())
    for k in rng.sample(range(len(outcomes)), 10):
        assert u[k] == pytest.approx(profile.outcome_utility(outcomes[k], space))
        assert space.index_of(outcomes[k]) == k
        assert space.outcome_at(k) == outcomes[k]
    assert np.array_equal(u, profile.utility_array(space, space.value_index()))


def test_issue_dict_round_trip_and_enumeration():
    space = deal_space()
    assert OutcomeSpace(tuple(issue_from_dict(issue_to_dict(i)) for i in space.issues)) == space
    assert space.issue("price").values[:3] == (20, 25, 30)
    assert space.cardinality == 17 * 5 * 3 * 3
    with pytest.raises(ValueError, match="unknown type 'blob'"):
        issue_from_dict({"name": "x", "type": "blob"})
    assert isinstance(PreferenceProfile, type)
