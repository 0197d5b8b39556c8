"""The regression opponent model and the default strategy that uses it."""

import numpy as np
import pytest

from negotiator.engine.analysis import agreement_quality, analyse
from negotiator.engine.opponent import regression_scores
from negotiator.engine.protocol import run
from negotiator.engine.strategies import PartyView, SpaceIndex, counterpart_model, make_strategy

from .helpers import random_profile, random_setup, random_space


def _conceding_proposals(utilities, count, max_rounds, speed=0.6):
    """The outcomes a linear conceder would propose: closest above 1 - speed * t."""
    order = np.argsort(-utilities, kind="stable")
    picks = []
    for j in range(count):
        target = utilities.max() - speed * j / max_rounds
        above = order[utilities[order] >= target]
        picks.append(int(above[-1]))
    return np.array(picks, dtype=np.int64)


def _rank_correlation(a, b):
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _fit(index, proposals, max_rounds, ridge=0.1):
    scores = regression_scores(
        index.grid_index, index.grid_shape, index.sizes, proposals, max_rounds, ridge
    )
    return scores[index.grid_index].sum(axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_the_fit_learns_the_counterparts_ranking_from_its_concessions(seed):
    import random

    rng = random.Random(seed)
    space = random_space(rng, issues=3, values=6)
    truth = random_profile(rng, space).utility_array(space)
    index = SpaceIndex.build(space)
    proposals = _conceding_proposals(truth, 30, max_rounds=40)
    prior_only = _fit(index, proposals[:1], 40)
    fitted = _fit(index, proposals, 40)
    assert _rank_correlation(fitted, truth) > _rank_correlation(prior_only, truth)
    assert _rank_correlation(fitted, truth) > 0.6
    # the counterpart's first offer stays what the model rates highest, or close to it
    assert fitted[proposals[0]] >= np.quantile(fitted, 0.95)


def test_the_fit_is_deterministic_and_ignores_padding():
    import random

    space = random_space(random.Random(1), issues=2, values=4)
    index = SpaceIndex.build(space)
    proposals = np.array([0, 5, 10, 3], dtype=np.int64)
    a = regression_scores(index.grid_index, index.grid_shape, index.sizes, proposals, 20, 0.1)
    b = regression_scores(index.grid_index, index.grid_shape, index.sizes, proposals, 20, 0.1)
    assert np.array_equal(a, b)
    n_issues, width = index.grid_shape
    assert a.shape == (n_issues * width,)


def test_default_self_play_agrees_on_the_frontier_on_random_domains():
    on_frontier = 0
    for seed in range(40):
        setup = random_setup(100 + seed)
        result = run(setup, [make_strategy("default"), make_strategy("default")], seed=seed)
        assert result.state.status == "agreed"
        q = agreement_quality(
            analyse(setup.utilities, [0.0, 0.0]), setup.utilities[result.state.agreement_outcome]
        )
        on_frontier += q.on_frontier
    # the default reaches 40 of these 40; the plain frequency tradeoff (e=1, band=0.02) 36
    assert on_frontier >= 38


def test_default_models_the_counterpart_by_frequency_unless_given_a_regression_weight():
    setup = random_setup(7)
    history = run(setup, [make_strategy("tradeoff", e=1.0, band=0.02)] * 2, seed=3).state
    view = PartyView(
        name="p0",
        party_index=0,
        profile=setup.parties[0].profile,
        space=setup.space,
        table=setup.tables[0],
        history=history.history,
        proposal_senders=np.array(history.proposal_senders, dtype=np.int64),
        proposal_outcomes=np.array(history.proposal_outcomes, dtype=np.int64),
        standing=None,
        standing_outcome=None,
        round=history.round,
        max_rounds=setup.max_rounds,
        t=0.5,
        seed=3,
    )
    off = make_strategy("default")._model(view)
    on = make_strategy("default", regression=0.1)._model(view)
    assert np.array_equal(off.value_scores, counterpart_model(view).value_scores)
    assert not np.array_equal(on.value_scores, off.value_scores)
