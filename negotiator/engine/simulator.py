"""Offline simulation: run many negotiations of a scenario and measure their quality."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .analysis import SpaceAnalysis, agreement_quality, analyse
from .protocol import Gate, run
from .scenario import Scenario
from .strategies import Strategy, make_strategy

MAX_ANALYSED_OUTCOMES = 2_000_000


@dataclass(frozen=True)
class RunResult:
    run: int
    seed: int
    strategies: tuple[str, ...]  # in scenario party order
    first_mover: str
    status: str
    agreement: bool
    terms: dict[str, Any] | None
    rounds: int
    utilities: dict[str, float]  # party -> undiscounted utility (reservation if no deal)
    advantages: dict[str, float]
    pareto_distance: float | None
    nash_distance: float | None
    kalai_distance: float | None  # to the Kalai–Smorodinsky point
    on_frontier: bool
    quality: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SimulationSummary:
    runs: int
    agreements: int
    agreement_rate: float
    on_frontier_rate: float  # share of agreements that are Pareto-optimal
    mean_pareto_distance: float | None
    mean_nash_distance: float | None
    mean_kalai_distance: float | None
    mean_quality: float
    mean_rounds: float
    mean_utilities: dict[str, float]
    statuses: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resolve(
    strategies: Sequence[str | Strategy], params: Sequence[Mapping[str, Any]] | None
) -> list[Strategy]:
    out: list[Strategy] = []
    for k, s in enumerate(strategies):
        if isinstance(s, str):
            extra = dict(params[k]) if params is not None and k < len(params) else {}
            out.append(make_strategy(s, **extra))
        else:
            out.append(s)
    return out


def scenario_analysis(scenario: Scenario, rounds: int | None = None) -> SpaceAnalysis:
    setup = scenario.setup(rounds=rounds)
    if scenario.space.cardinality > MAX_ANALYSED_OUTCOMES:
        raise ValueError(
            f"outcome space has {scenario.space.cardinality} outcomes; the simulator analyses "
            f"at most {MAX_ANALYSED_OUTCOMES} (use a coarser step or fewer samples)"
        )
    return analyse(setup.utilities, [p.profile.reservation for p in scenario.parties])


def simulate(
    scenario: Scenario,
    strategies: Sequence[str | Strategy],
    runs: int,
    seed: int = 0,
    rounds: int | None = None,
    *,
    gate: Gate | None = None,
    params: Sequence[Mapping[str, Any]] | None = None,
    analysis: SpaceAnalysis | None = None,
) -> Iterator[RunResult]:
    """Yield one :class:`RunResult` per run.

    ``strategies`` are names (or callables) in scenario party order. Run ``i``
    uses seed ``seed + i`` and lets party ``i % n`` move first, so repeated runs
    cover every opening order. ``gate`` is the optional policy gate.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    n = len(scenario.parties)
    if len(strategies) != n:
        raise ValueError(
            f"{len(strategies)} strategies given for {n} parties ({', '.join(scenario.party_names)})"
        )
    labels = tuple(
        s if isinstance(s, str) else getattr(s, "__name__", type(s).__name__) for s in strategies
    )
    players = _resolve(strategies, params)
    if analysis is None:
        analysis = scenario_analysis(scenario, rounds)
    setups = {}
    names = scenario.party_names
    for i in range(runs):
        first = i % n
        order = tuple((first + k) % n for k in range(n))
        if order not in setups:
            setups[order] = scenario.setup(rounds=rounds, order=order)
        setup = setups[order]
        run_seed = seed + i
        result = run(setup, [players[k] for k in order], gate=gate, seed=run_seed)
        state = result.state
        agreed = state.status == "agreed"
        if agreed and state.agreement_outcome is not None:
            u_sorted = setup.utilities[state.agreement_outcome]
            u = np.empty(n)
            for pos, k in enumerate(order):
                u[k] = u_sorted[pos]
            q = agreement_quality(analysis, u)
            utilities = dict(zip(names, q.utilities, strict=True))
            advantages = dict(zip(names, q.advantages, strict=True))
            pd, nd, kd, on_frontier, quality = (
                q.pareto_distance,
                q.nash_distance,
                q.kalai_distance,
                q.on_frontier,
                q.quality,
            )
        elif agreed:  # agreement off the enumerated grid (continuous issue)
            utilities = {
                p.name: p.profile.utility(state.agreement, scenario.space) for p in scenario.parties
            }
            q = agreement_quality(analysis, [utilities[nm] for nm in names])
            advantages = dict(zip(names, q.advantages, strict=True))
            pd, nd, kd, on_frontier, quality = (
                q.pareto_distance,
                q.nash_distance,
                q.kalai_distance,
                q.on_frontier,
                q.quality,
            )
        else:
            utilities = {p.name: p.profile.reservation for p in scenario.parties}
            advantages = dict.fromkeys(names, 0.0)
            pd = nd = kd = None
            on_frontier, quality = False, 0.0
        yield RunResult(
            run=i,
            seed=run_seed,
            strategies=labels,
            first_mover=names[first],
            status=str(state.status),
            agreement=agreed,
            terms=dict(state.agreement) if state.agreement is not None else None,
            rounds=state.round + (1 if agreed else 0),
            utilities=utilities,
            advantages=advantages,
            pareto_distance=pd,
            nash_distance=_finite(nd),
            kalai_distance=_finite(kd),
            on_frontier=on_frontier,
            quality=quality,
            reason=state.reason,
        )


def _finite(distance: float | None) -> float | None:
    return None if distance is None or not math.isfinite(distance) else distance


def reference_points(analysis: SpaceAnalysis, scenario: Scenario) -> dict[str, Any]:
    """The scenario's bargaining points as JSON: for Nash and Kalai–Smorodinsky the
    terms and each party's utility (None when no outcome clears every reservation),
    plus the number of Pareto-optimal outcomes. ``analysis`` is :func:`scenario_analysis`'s."""
    names = scenario.party_names

    def point(index: int | None) -> dict[str, Any] | None:
        if index is None:
            return None
        outcome = scenario.space.outcome_at(index)
        return {
            "terms": dict(zip(scenario.space.names, outcome, strict=True)),
            "utilities": dict(zip(names, analysis.utilities[index].tolist(), strict=True)),
        }

    return {
        "frontier_size": int(analysis.frontier.size),
        "nash": point(analysis.nash),
        "kalai_smorodinsky": point(analysis.kalai_smorodinsky),
    }


def summarize(results: Iterable[RunResult]) -> SimulationSummary:
    items = list(results)
    if not items:
        raise ValueError("no results to summarise")
    deals = [r for r in items if r.agreement]
    names = list(items[0].utilities)

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return SimulationSummary(
        runs=len(items),
        agreements=len(deals),
        agreement_rate=len(deals) / len(items),
        on_frontier_rate=(sum(r.on_frontier for r in deals) / len(deals)) if deals else 0.0,
        mean_pareto_distance=mean(
            [r.pareto_distance for r in deals if r.pareto_distance is not None]
        ),
        mean_nash_distance=mean([r.nash_distance for r in deals if r.nash_distance is not None]),
        mean_kalai_distance=mean([r.kalai_distance for r in deals if r.kalai_distance is not None]),
        mean_quality=float(np.mean([r.quality for r in items])),
        mean_rounds=float(np.mean([r.rounds for r in items])),
        mean_utilities={nm: float(np.mean([r.utilities[nm] for r in items])) for nm in names},
        statuses=dict(Counter(r.status for r in items)),
    )
