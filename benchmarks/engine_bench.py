"""Engine benchmarks: agreement quality of a strategy in self-play, per domain shape, and raw speed.

    .venv/bin/python benchmarks/engine_bench.py [--strategy default] [--runs 100] [--quick]
                                                [--groups 3x10,CarA,...] [--against]

Each group is a family of bilateral domains (random profiles drawn per run, or one
GENIUS sample played with alternating first movers); each line reports the
agreement rate (over runs where some outcome clears both reservations), the share
of agreements on the Pareto frontier, the mean distance to the Nash point, the
mean rounds and the median milliseconds of one negotiation (utility tables are
built once per setup beforehand and not timed). Targets for ``default`` on every
group: agreement >= 99 %, on frontier >= 97 %, mean Nash distance <= 0.03.
Speed: Pareto frontier + Nash point of 1,000 outcomes <= 4 ms.

``--against`` instead plays the strategy against every other registered strategy
on --runs domains (half 3x10, half opposed), each in both seats, and prints its
mean utility (its reservation when there is no deal) and agreement rate per
opponent: what self-play quality costs or gains against other behaviour.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from negotiator.engine.analysis import (  # noqa: E402
    agreement_quality,
    analyse,
    dominators,
    nash_point,
    pareto_frontier,
)
from negotiator.engine.offers import Performative  # noqa: E402
from negotiator.engine.outcomes import CategoricalIssue, OutcomeSpace  # noqa: E402
from negotiator.engine.preferences import IssueValue, PreferenceProfile, TableValue  # noqa: E402
from negotiator.engine.protocol import NegotiationSetup, NegotiationState, Party, run  # noqa: E402
from negotiator.engine.scenario import genius_scenario  # noqa: E402
from negotiator.engine.strategies import make_strategy  # noqa: E402

GENIUS = REPO / "tests" / "data" / "genius"

Maker = Callable[[random.Random, int], NegotiationSetup]


@dataclass(frozen=True)
class Shape:
    """How one group draws its domains."""

    sizes: tuple[int, ...] | None = None  # options per issue; None: drawn from `issues`/`options`
    issues: tuple[int, int] = (3, 3)
    options: tuple[int, int] = (10, 10)
    weights: str = "uniform"  # uniform random, or "skewed" (Dirichlet alpha 0.3)
    values: str = "table"  # random non-monotone tables, or "opposed" monotone (price-like)
    reservations: tuple[float, float] = (0.0, 0.0)
    max_outcomes: int = 1_000_000


def _value_table(rng: random.Random, size: int, kind: str, party: int) -> list[float]:
    if kind == "opposed":  # a price-like issue: what one side gains the other loses
        ramp = [k / (size - 1) for k in range(size)]
        return ramp if party == 0 else ramp[::-1]
    raw = [rng.random() for _ in range(size)]
    top = max(raw)
    return [x / top for x in raw]


def _weights(rng: random.Random, count: int, kind: str) -> list[float]:
    if kind == "skewed":
        raw = [rng.gammavariate(0.3, 1.0) + 1e-6 for _ in range(count)]
    else:
        raw = [rng.random() + 1e-6 for _ in range(count)]
    return raw


def _sizes(rng: random.Random, shape: Shape) -> tuple[int, ...]:
    if shape.sizes is not None:
        return shape.sizes
    while True:
        issues = rng.randint(*shape.issues)
        sizes = tuple(rng.randint(*shape.options) for _ in range(issues))
        if math.prod(sizes) <= shape.max_outcomes:
            return sizes


def random_setup(rng: random.Random, shape: Shape = Shape(), rounds: int = 100) -> NegotiationSetup:
    sizes = _sizes(rng, shape)
    space = OutcomeSpace(
        tuple(
            CategoricalIssue(f"issue{j}", tuple(f"v{k}" for k in range(size)))
            for j, size in enumerate(sizes)
        )
    )
    parties = []
    for p in range(2):
        weights = _weights(rng, len(sizes), shape.weights)
        criteria, named = {}, {}
        for j, issue in enumerate(space.issues):
            kind = shape.values if shape.values != "mixed" else rng.choice(("table", "opposed"))
            table = _value_table(rng, len(issue.values), kind, p)
            criteria[issue.name] = (
                IssueValue(issue.name, TableValue(dict(zip(issue.values, table, strict=True)))),
            )
            named[issue.name] = weights[j]
        profile = PreferenceProfile(
            weights=named, criteria=criteria, reservation=shape.reservations[p]
        )
        parties.append(Party(f"party{p}", profile))
    return NegotiationSetup(space=space, parties=tuple(parties), max_rounds=rounds)


GROUPS: dict[str, tuple[str, Shape, int]] = {
    # name: (description, shape, share of --runs)
    "3x10": ("3 issues x 10 options, random tables (the original group)", Shape(), 1),
    "2x5": ("2 issues x 5 options (25 outcomes)", Shape(sizes=(5, 5)), 1),
    "2x40": ("2 issues x 40 options", Shape(sizes=(40, 40)), 1),
    "opposed": (
        "3-5 issues x 4-10 options, monotone opposed and random tables mixed",
        Shape(issues=(3, 5), options=(4, 10), values="mixed"),
        1,
    ),
    "skewed": (
        "3-5 issues x 3-12 options, weights far from uniform",
        Shape(issues=(3, 5), options=(3, 12), weights="skewed"),
        1,
    ),
    "reserv": (
        "3-4 issues x 5-10 options, reservations 0.55 and 0.25",
        Shape(issues=(3, 4), options=(5, 10), reservations=(0.55, 0.25)),
        1,
    ),
    "8-issues": (
        "6-8 issues x 2-8 options (10^3-10^6 outcomes), skewed weights",
        Shape(issues=(6, 8), options=(2, 8), weights="skewed", max_outcomes=400_000),
        0.25,
    ),
    "10^6": ("4 issues x 32 options (1,048,576 outcomes)", Shape(sizes=(32, 32, 32, 32)), 0.2),
}


@dataclass
class Figures:
    runs: int = 0
    feasible: int = 0
    agreements: int = 0
    frontier: int = 0
    outcomes: list[int] | None = None
    nash: list[float] | None = None
    rounds: list[int] | None = None
    millis: list[float] | None = None
    unseen: int = 0  # off-frontier agreements dominated only through values nobody proposed
    gains: list[float] | None = None  # per off-frontier agreement: its best dominator's gain

    def __post_init__(self) -> None:
        self.outcomes, self.nash, self.rounds, self.millis, self.gains = [], [], [], [], []

    def add(self, setup: NegotiationSetup, strategies: list, seed: int) -> None:
        _ = setup.tables, setup.utilities  # per-setup precomputation, not timed
        reservations = [p.profile.reservation for p in setup.parties]
        start = time.perf_counter()
        result = run(setup, strategies, seed=seed)
        self.millis.append((time.perf_counter() - start) * 1000)
        state = result.state
        self.runs += 1
        self.outcomes.append(setup.space.cardinality)
        analysis = analyse(setup.utilities, reservations)
        self.feasible += analysis.nash is not None
        self.rounds.append(state.round + (state.status == "agreed"))
        if state.status == "agreed":
            self.agreements += 1
            q = agreement_quality(analysis, setup.utilities[state.agreement_outcome])
            self.frontier += q.on_frontier
            self.nash.append(q.nash_distance)
            if not q.on_frontier:
                self._miss(setup, state)

    def _miss(self, setup: NegotiationSetup, state: NegotiationState) -> None:
        """Why an agreement is off the frontier: do the outcomes that dominate it use
        only values some party proposed during the negotiation (what a model learned
        from the offers could know), or does each need a value nobody put on the table?"""
        u = setup.utilities
        agreed = u[state.agreement_outcome]
        better = dominators(u, agreed)
        values = setup.space.value_index()
        proposed = [
            i
            for o, i in zip(state.history, state.history_outcomes, strict=True)
            if o.performative in (Performative.PROPOSE, Performative.COUNTER) and i is not None
        ]
        seen = np.zeros((values.shape[1], int(values.max()) + 1), dtype=bool)
        for issue, column in enumerate(values[proposed].T):
            seen[issue, column] = True
        on_table = seen[np.arange(values.shape[1]), values[better]].all(axis=1)
        self.unseen += not on_table.any()
        self.gains.append(float((u[better] - agreed).min(axis=1).max()))

    def row(self, name: str) -> str:
        agree = self.agreements / max(1, self.feasible)
        front = self.frontier / max(1, self.agreements)
        nash = float(np.mean(self.nash)) if self.nash else float("nan")
        span = f"{min(self.outcomes):.0e}-{max(self.outcomes):.0e}".replace("e+0", "e")
        return (
            f"  {name:<9} {span:>11} {self.runs:>5} {agree:>7.1%} {front:>8.1%} {nash:>7.4f} "
            f"{np.mean(self.rounds):>6.1f} {statistics.median(self.millis):>7.2f}"
        )

    def misses(self, name: str) -> str:
        off = self.agreements - self.frontier
        if not off:
            return f"  {name:<9} every agreement on the frontier"
        return (
            f"  {name:<9} {off} off the frontier; {self.unseen} of them dominated only by "
            f"outcomes that use a value no party proposed; best dominator's gain (the "
            f"smaller of the two) median {statistics.median(self.gains):.4f}, "
            f"max {max(self.gains):.4f}"
        )

    def meets_targets(self) -> bool:
        nash = float(np.mean(self.nash)) if self.nash else math.inf
        return (
            self.agreements >= 0.99 * self.feasible
            and self.frontier >= 0.97 * max(1, self.agreements)
            and nash <= 0.03
        )


def group_figures(name: str, strategy: str, runs: int, seed: int, params: dict) -> Figures:
    _, shape, share = GROUPS[name]
    rng = random.Random(f"{seed}:{name}")
    figures = Figures()
    players = [make_strategy(strategy, **params), make_strategy(strategy, **params)]
    run(random_setup(random.Random(0)), players)  # warm caches and imports
    for i in range(max(2, round(runs * share))):
        figures.add(random_setup(rng, shape), players, seed=i)
    return figures


def genius_group(folder: str, strategy: str, runs: int, params: dict) -> Figures:
    path = GENIUS / folder
    files = {p.name: p.read_text(encoding="utf-8") for p in path.iterdir()}
    scenario = genius_scenario(files, name=folder)
    setups = [scenario.setup(order=(0, 1)), scenario.setup(order=(1, 0))]
    players = [make_strategy(strategy, **params), make_strategy(strategy, **params)]
    figures = Figures()
    for i in range(runs):
        figures.add(setups[i % 2], players, seed=i)
    return figures


def frontier_speed(repeats: int = 200) -> float:
    rng = np.random.default_rng(0)
    times = []
    for _ in range(repeats):
        u = rng.random((1000, 2))
        start = time.perf_counter()
        pareto_frontier(u)
        nash_point(u, [0.0, 0.0])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


GENIUS_GROUPS = ("Laptop", "Travel", "CarA")


def against_others(strategy: str, runs: int, seed: int, params: dict) -> None:
    """Our strategy against each other registered one, both seats, on mixed domains."""
    from negotiator.engine.strategies import STRATEGIES

    rng = random.Random(f"{seed}:against")
    setups = [
        random_setup(rng, GROUPS[g][1]) for g in ("3x10", "opposed") for _ in range(runs // 2)
    ]
    print(f"{strategy!r} {params or ''} against the others: {len(setups)} domains x 2 seats")
    print(f"  {'opponent':<12} {'agree':>7} {'utility':>8}")
    for other in sorted(STRATEGIES):
        if other == strategy:
            continue
        utilities, agreed = [], 0
        for i, setup in enumerate(setups):
            for seat in (0, 1):
                players = [make_strategy(strategy, **params), make_strategy(other)]
                state = run(setup, players if seat == 0 else players[::-1], seed=i).state
                if state.status == "agreed":
                    agreed += 1
                    utilities.append(float(setup.utilities[state.agreement_outcome][seat]))
                else:
                    utilities.append(setup.parties[seat].profile.reservation)
        print(
            f"  {other:<12} {agreed / len(utilities):>7.1%} {np.mean(utilities):>8.4f}", flush=True
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="default")
    parser.add_argument("--runs", type=int, default=100, help="runs per group (default 100)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--params", default="{}", help="strategy parameters as JSON")
    parser.add_argument("--groups", default="", help="comma-separated subset of the groups")
    parser.add_argument("--quick", action="store_true", help="20 runs per group, a smoke check")
    parser.add_argument(
        "--against", action="store_true", help="play against the other strategies instead"
    )
    parser.add_argument(
        "--misses",
        action="store_true",
        help="also say, per group, why agreements off the frontier are off it",
    )
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        parser.error(f"--params is not JSON: {exc}")
    if not isinstance(params, dict):
        parser.error("--params must be a JSON object")
    if args.against:
        against_others(args.strategy, runs, args.seed, params)
        return 0
    chosen = [g for g in args.groups.split(",") if g] or [*GROUPS, *GENIUS_GROUPS]
    unknown = [g for g in chosen if g not in GROUPS and g not in GENIUS_GROUPS]
    if unknown:
        parser.error(f"unknown groups {unknown}; known: {', '.join([*GROUPS, *GENIUS_GROUPS])}")

    print(f"Self-play of {args.strategy!r} {params or ''}, 100 rounds, bilateral; seed {args.seed}")
    print(
        f"  {'group':<9} {'outcomes':>11} {'runs':>5} {'agree':>7} {'frontier':>8} "
        f"{'nash_d':>7} {'rounds':>6} {'ms/neg':>7}"
    )
    missed, why = [], []
    for name in chosen:
        if name in GROUPS:
            figures = group_figures(name, args.strategy, runs, args.seed, params)
        else:
            figures = genius_group(name, args.strategy, max(2, runs // 5), params)
        print(figures.row(name), flush=True)
        why.append(figures.misses(name))
        if not figures.meets_targets():
            missed.append(name)
    if args.misses:
        print("\nOff the frontier:", *why, sep="\n")
    print("\nGroups:")
    for name in chosen:
        print(f"  {name:<9} {GROUPS[name][0] if name in GROUPS else 'GENIUS sample ' + name}")
    print(f"\nPareto frontier + Nash point of 1,000 outcomes: {frontier_speed():.3f} ms (<= 4)")
    print(
        "Targets (agreement >= 99 %, frontier >= 97 %, Nash distance <= 0.03): "
        + (f"missed on {', '.join(missed)}" if missed else "met on every group")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
