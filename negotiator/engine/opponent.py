"""Opponent model fitted to the counterpart's concessions: an additive utility by ridge regression.

A counterpart that concedes over time offers, at its j-th proposal, outcomes worth
about ``1 - c * t_j`` to it (its first offer is its best; ``c`` is its unknown
concession speed). Hindriks and Tykhonov (2008) learn an opponent's preferences
from exactly this assumption. Here the counterpart's utility is additive with one
score per (issue, value); the scores and ``c`` are the ridge-regression fit of
``score(o_j) + c * t_j = 1`` over its proposals, pulled towards a neutral prior:
equal issue weights, the value of its first offer best on each issue, every
other value half as good. Only public moves are used.

The scores live in the padded ``(issue, value)`` grid of ``SpaceIndex.grid_index``
so :class:`strategies.CounterpartModel` evaluates them like the frequency model.
"""

from __future__ import annotations

import numpy as np

PRIOR_OTHER_VALUES = 0.5  # prior score of a value the first offer did not pick (share of best)
PRIOR_SPEED = 0.5  # prior concession speed c


def regression_scores(
    grid_index: np.ndarray,
    shape: tuple[int, int],
    sizes: np.ndarray,
    outcomes: np.ndarray,
    max_rounds: int,
    ridge: float,
    issue_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Fitted value scores (flattened padded grid) from the counterpart's proposals, in order.

    ``outcomes`` must be non-empty; the j-th proposal is taken to come at relative
    time ``j / max_rounds`` (one proposal per round, as in alternating offers).
    """
    n_issues, width = shape
    columns = n_issues * width
    weights = np.full(n_issues, 1.0 / n_issues) if issue_weights is None else issue_weights
    valid = (np.arange(width) < sizes[:, None]).ravel()
    prior = (weights * PRIOR_OTHER_VALUES).repeat(width)
    prior[~valid] = 0.0
    cols = grid_index[outcomes]  # (m, n_issues)
    prior[cols[0]] = weights
    # Ridge towards the prior in its dual form, theta = prior + X^T (X X^T + ridge I)^-1
    # (1 - X prior): an m x m system (m proposals). Each row of X is one-hot per issue
    # plus the proposal's time, so X X^T counts shared values; no dense X is built.
    m = outcomes.size
    t = np.arange(m) * (1.0 / max(1, max_rounds))
    kernel = (cols[:, None, :] == cols).sum(axis=2) + t[:, None] * t
    kernel.flat[:: m + 1] += ridge
    residual = 1.0 - prior[cols].sum(axis=1) - PRIOR_SPEED * t
    alpha = np.linalg.solve(kernel, residual)
    # prior is 0 outside the valid columns and bincount adds only to valid ones
    return prior + np.bincount(cols.ravel(), weights=alpha.repeat(n_issues), minlength=columns)


__all__ = ["PRIOR_OTHER_VALUES", "PRIOR_SPEED", "regression_scores"]
