"""Outcome analysis in utility space: Pareto frontier, bargaining solutions, quality.

All functions take an ``(N, k)`` array of utilities (N outcomes, k parties) so they
work for enumerated discrete spaces and for sampled continuous ones alike.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .outcomes import Outcome, OutcomeSpace
from .preferences import PreferenceProfile


def pareto_frontier(utilities: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the Pareto-optimal rows of ``utilities``.

    A row is dominated when another row is >= on every party and > on one. Rows
    with identical utility vectors are all kept when that vector is optimal.
    Exact; two parties use an O(N log N) sweep, more parties iterate over the
    frontier with vectorised dominance checks.
    """
    u = np.asarray(utilities, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError("utilities must be a 2-D array (outcomes x parties)")
    n, k = u.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if k == 1:
        return np.flatnonzero(u[:, 0] == u[:, 0].max())
    if k == 2:
        # sort by u0 descending then u1 descending; a row is optimal iff its u1 beats
        # every u1 of rows with strictly greater u0, and equals the best u1 among rows
        # with the same u0
        order = np.lexsort((-u[:, 1], -u[:, 0]))
        a = u[order, 0]
        b = u[order, 1]
        best_before = np.maximum.accumulate(b)
        prev_best = np.concatenate(([-np.inf], best_before[:-1]))
        # best u1 among rows with strictly greater u0: value of prev_best at group start
        group_start = np.concatenate(([True], a[1:] != a[:-1]))
        start_idx = np.maximum.accumulate(np.where(group_start, np.arange(n), 0))
        higher_best = prev_best[start_idx]
        group_best = b[start_idx]
        keep = (b == group_best) & (b > higher_best)
        return np.sort(order[keep])
    order = np.lexsort(tuple(-u[:, j] for j in reversed(range(k))) + (-u.sum(axis=1),))
    remaining = order
    keep: list[np.ndarray] = []
    while remaining.size:
        p = u[remaining[0]]
        rows = u[remaining]
        equal = np.all(rows == p, axis=1)
        keep.append(remaining[equal])
        dominated = np.all(rows <= p, axis=1)
        remaining = remaining[~dominated]
    return np.sort(np.concatenate(keep))


def pareto_frontier_bruteforce(utilities: np.ndarray) -> np.ndarray:
    """O(N^2) reference implementation (for tests)."""
    u = np.asarray(utilities, dtype=np.float64)
    out = []
    for i in range(u.shape[0]):
        dominated = np.any(np.all(u >= u[i], axis=1) & np.any(u > u[i], axis=1))
        if not dominated:
            out.append(i)
    return np.array(out, dtype=np.int64)


def _feasible(u: np.ndarray, reservations: np.ndarray) -> np.ndarray:
    return np.all(u >= reservations, axis=1)


def nash_point(utilities: np.ndarray, reservations: Sequence[float]) -> int | None:
    """Row maximising prod(u_i - r_i) over rows with every u_i >= r_i (None if none)."""
    u = np.asarray(utilities, dtype=np.float64)
    r = np.asarray(reservations, dtype=np.float64)
    feasible = _feasible(u, r)
    if not feasible.any():
        return None
    product = np.prod(u - r, axis=1)
    product[~feasible] = -np.inf
    return int(np.argmax(product))


def kalai_smorodinsky_point(utilities: np.ndarray, reservations: Sequence[float]) -> int | None:
    """Row maximising min_i (u_i - r_i)/(ideal_i - r_i), ties broken by welfare."""
    u = np.asarray(utilities, dtype=np.float64)
    r = np.asarray(reservations, dtype=np.float64)
    feasible = _feasible(u, r)
    if not feasible.any():
        return None
    ideal = u[feasible].max(axis=0)
    span = np.where(ideal - r > 0, ideal - r, 1.0)
    ratio = ((u - r) / span).min(axis=1)
    ratio[~feasible] = -np.inf
    best = ratio.max()
    candidates = np.flatnonzero(ratio >= best - 1e-12)
    welfare = u[candidates].sum(axis=1)
    return int(candidates[np.argmax(welfare)])


def max_welfare_point(utilities: np.ndarray) -> int:
    u = np.asarray(utilities, dtype=np.float64)
    return int(np.argmax(u.sum(axis=1)))


def distance_to_set(point: Sequence[float], points: np.ndarray) -> float:
    """Euclidean distance from ``point`` to the nearest row of ``points``."""
    p = np.asarray(point, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        return math.inf
    return float(np.sqrt(((pts - p) ** 2).sum(axis=1).min()))


def advantage(utility: float, reservation: float) -> float:
    """(u - r) / (1 - r): share of the possible gain above the reservation (0 if r == 1)."""
    if reservation >= 1.0:
        return 0.0
    return (utility - reservation) / (1.0 - reservation)


def quality_score(pareto_distance: float, nash_distance: float, parties: int) -> float:
    """Agreement quality in [0, 1]: 1 - (d_pareto + d_nash) / (sqrt(k) / 2), floored at 0.

    ``sqrt(k)/2`` is half the diagonal of the k-party unit utility cube, so an
    agreement on the frontier at the Nash point scores 1 and one far from both
    scores 0. No agreement scores 0 (callers pass inf).
    """
    if not math.isfinite(pareto_distance) or not math.isfinite(nash_distance):
        return 0.0
    return max(0.0, 1.0 - (pareto_distance + nash_distance) / (math.sqrt(parties) / 2.0))


@dataclass(frozen=True)
class SpaceAnalysis:
    """Precomputed reference points of one outcome set for k parties.

    ``frontier``, ``nash``, ``kalai_smorodinsky`` and ``max_welfare`` are row indices
    of ``utilities`` (``nash``/``kalai_smorodinsky`` are None when no outcome gives
    every party at least its reservation); the ``*_utilities`` properties give the
    rows themselves, one utility per party.
    """

    utilities: np.ndarray  # (N, k)
    reservations: tuple[float, ...]
    frontier: np.ndarray  # indices of Pareto-optimal rows
    nash: int | None
    kalai_smorodinsky: int | None
    max_welfare: int

    @property
    def frontier_utilities(self) -> np.ndarray:
        return self.utilities[self.frontier]

    @property
    def nash_utilities(self) -> np.ndarray | None:
        return None if self.nash is None else self.utilities[self.nash]

    @property
    def kalai_smorodinsky_utilities(self) -> np.ndarray | None:
        ks = self.kalai_smorodinsky
        return None if ks is None else self.utilities[ks]


def analyse(utilities: np.ndarray, reservations: Sequence[float]) -> SpaceAnalysis:
    """Pareto frontier, Nash, Kalai–Smorodinsky and maximum-welfare points of ``utilities``."""
    u = np.asarray(utilities, dtype=np.float64)
    return SpaceAnalysis(
        utilities=u,
        reservations=tuple(float(r) for r in reservations),
        frontier=pareto_frontier(u),
        nash=nash_point(u, reservations),
        kalai_smorodinsky=kalai_smorodinsky_point(u, reservations),
        max_welfare=max_welfare_point(u),
    )


@dataclass(frozen=True)
class AgreementQuality:
    utilities: tuple[float, ...]
    advantages: tuple[float, ...]
    pareto_distance: float
    nash_distance: float
    kalai_distance: float  # to the Kalai–Smorodinsky point (shown; not part of quality)
    on_frontier: bool
    welfare: float
    quality: float


def agreement_quality(
    analysis: SpaceAnalysis, agreement_utilities: Sequence[float]
) -> AgreementQuality:
    """Distances of an agreement's utility vector to the frontier and the bargaining points
    (inf when there is no such point)."""
    u = np.asarray(agreement_utilities, dtype=np.float64)
    d_pareto = distance_to_set(u, analysis.frontier_utilities)
    d_nash = _distance(u, analysis.nash_utilities)
    dominated = bool(dominators(analysis.utilities, u).size)  # off the frontier
    k = u.shape[0]
    return AgreementQuality(
        utilities=tuple(float(x) for x in u),
        advantages=tuple(
            advantage(float(x), r) for x, r in zip(u, analysis.reservations, strict=True)
        ),
        pareto_distance=d_pareto,
        nash_distance=d_nash,
        kalai_distance=_distance(u, analysis.kalai_smorodinsky_utilities),
        on_frontier=not dominated,
        welfare=float(u.sum()),
        quality=quality_score(d_pareto, d_nash, k),
    )


def dominators(utilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row indices of the outcomes that Pareto-dominate the utility vector ``u``: at
    least as good for every party and better for one (none: ``u`` is on the frontier)."""
    return np.flatnonzero(
        np.all(utilities >= u - 1e-12, axis=1) & np.any(utilities > u + 1e-12, axis=1)
    )


def _distance(u: np.ndarray, point: np.ndarray | None) -> float:
    return math.inf if point is None else float(np.sqrt(((point - u) ** 2).sum()))


def space_utilities(
    space: OutcomeSpace,
    profiles: Sequence[PreferenceProfile],
    *,
    max_outcomes: int = 100_000,
    seed: int = 0,
) -> tuple[list[Outcome] | None, np.ndarray]:
    """Utilities (N, k) of a space's outcomes for each profile.

    Exact enumeration (outcomes returned as None: row i is ``space.outcome_at(i)``)
    when the space has at most ``max_outcomes`` outcomes; otherwise ``max_outcomes``
    random outcomes (continuous issues drawn uniformly from their range) are
    returned with their utilities, so frontier and bargaining points are sampled.
    """
    if space.cardinality <= max_outcomes:
        return None, np.stack([p.utility_array(space) for p in profiles], axis=1)
    outcomes = space.sample(random.Random(seed), max_outcomes)
    u = np.array(
        [[p.outcome_utility(o, space) for p in profiles] for o in outcomes], dtype=np.float64
    )
    return outcomes, u
