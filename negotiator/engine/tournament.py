"""Tournaments: every pair of strategies in both orders on every scenario, ranked ANAC-style.

A *game* is one assignment of strategies to a scenario's roles: for two
strategies A and B and a bilateral scenario, (A, B) and (B, A); with more roles,
A takes one role and B every other, for each role. Each game is ``runs``
negotiations with seeds ``seed .. seed + runs - 1`` (the simulator alternates
who moves first). A strategy's score is the mean, over every negotiation it sat
in, of its own utility (its reservation when there is no deal), as in the ANAC
competitions; the table also gives its agreement rate, its mean advantage
((u - r) / (1 - r)), the mean distances of its agreements to the Pareto frontier
and the Nash point, and the mean rounds.

Games run in parallel across worker processes; results are gathered by game and
aggregated in one fixed order, so the figures do not depend on the worker count.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from .analysis import SpaceAnalysis
from .scenario import Scenario
from .simulator import scenario_analysis, simulate


@dataclass(frozen=True)
class Entry:
    """One scenario of a tournament, with its policy gate factory (None: no policies)."""

    name: str
    scenario: Scenario
    gate: Any = None  # a callable gate (e.g. governance.PolicyGate) or None


@dataclass(frozen=True)
class Game:
    entry: int  # index into the entries
    assignment: tuple[str, ...]  # strategy per role, in scenario party order


@dataclass(frozen=True)
class Seat:
    """One party's result in one negotiation."""

    entry: int
    strategy: str
    utility: float
    advantage: float
    agreement: bool
    pareto_distance: float | None
    nash_distance: float | None
    rounds: int


@dataclass(frozen=True)
class Standing:
    rank: int
    strategy: str
    negotiations: int
    agreement_rate: float
    mean_utility: float
    mean_advantage: float
    mean_pareto_distance: float | None
    mean_nash_distance: float | None
    mean_rounds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "strategy": self.strategy,
            "negotiations": self.negotiations,
            "agreement_rate": _r(self.agreement_rate),
            "mean_utility": _r(self.mean_utility),
            "mean_advantage": _r(self.mean_advantage),
            "mean_pareto_distance": _r(self.mean_pareto_distance),
            "mean_nash_distance": _r(self.mean_nash_distance),
            "mean_rounds": _r(self.mean_rounds),
        }


@dataclass(frozen=True)
class TournamentResult:
    scenarios: tuple[str, ...]
    strategies: tuple[str, ...]
    runs: int
    seed: int
    games: int
    standings: tuple[Standing, ...]
    # scenario -> strategy -> mean utility there
    per_scenario: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": list(self.scenarios),
            "strategies": list(self.strategies),
            "runs_per_game": self.runs,
            "seed": self.seed,
            "games": self.games,
            "negotiations": self.games * self.runs,
            "ranking": [s.to_dict() for s in self.standings],
            "mean_utility_per_scenario": {
                sc: {st: _r(u) for st, u in row.items()} for sc, row in self.per_scenario.items()
            },
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def games_of(entries: Sequence[Entry], strategies: Sequence[str], self_play: bool) -> list[Game]:
    """Every game, in a fixed order: entry, then assignment (sorted)."""
    out: list[Game] = []
    for e, entry in enumerate(entries):
        n = len(entry.scenario.parties)
        assignments: set[tuple[str, ...]] = set()
        for a, b in itertools.permutations(strategies, 2):
            for k in range(n):
                assignments.add(tuple(a if j == k else b for j in range(n)))
        if self_play:
            assignments |= {(s,) * n for s in strategies}
        out += [Game(e, assignment) for assignment in sorted(assignments)]
    return out


# Worker state: set in the parent before the pool forks, so nothing is pickled but
# game indices and plain results.
_ENTRIES: Sequence[Entry] = ()
_ANALYSES: dict[tuple[int, int | None], SpaceAnalysis] = {}


def _analysis(entry: int, rounds: int | None) -> SpaceAnalysis:
    key = (entry, rounds)
    if key not in _ANALYSES:
        _ANALYSES[key] = scenario_analysis(_ENTRIES[entry].scenario, rounds)
    return _ANALYSES[key]


def play_game(game: Game, runs: int, seed: int, rounds: int | None) -> list[Seat]:
    """The seats of every negotiation of one game (module state: the entries)."""
    entry = _ENTRIES[game.entry]
    names = entry.scenario.party_names
    seats: list[Seat] = []
    for result in simulate(
        entry.scenario,
        list(game.assignment),
        runs,
        seed,
        rounds,
        gate=entry.gate,
        analysis=_analysis(game.entry, rounds),
    ):
        if entry.gate is not None and hasattr(entry.gate, "take"):
            entry.gate.take()  # the per-run policy records are not needed here
        for party, strategy in zip(names, game.assignment, strict=True):
            seats.append(
                Seat(
                    entry=game.entry,
                    strategy=strategy,
                    utility=result.utilities[party],
                    advantage=result.advantages[party],
                    agreement=result.agreement,
                    pareto_distance=result.pareto_distance,
                    nash_distance=result.nash_distance,
                    rounds=result.rounds,
                )
            )
    return seats


def _play_indexed(index: int, game: Game, runs: int, seed: int, rounds: int | None):
    return index, play_game(game, runs, seed, rounds)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def rank(seats: Sequence[Seat], strategies: Sequence[str]) -> tuple[Standing, ...]:
    """ANAC order: mean utility, then mean advantage, then agreement rate, then name."""
    rows = []
    for name in strategies:
        mine = [s for s in seats if s.strategy == name]
        if not mine:
            continue
        deals = [s for s in mine if s.agreement]
        rows.append(
            (
                name,
                len(mine),
                len(deals) / len(mine),
                _mean([s.utility for s in mine]) or 0.0,
                _mean([s.advantage for s in mine]) or 0.0,
                _mean([s.pareto_distance for s in deals if s.pareto_distance is not None]),
                _mean([s.nash_distance for s in deals if s.nash_distance is not None]),
                _mean([float(s.rounds) for s in mine]) or 0.0,
            )
        )
    rows.sort(key=lambda r: (-round(r[3], 9), -round(r[4], 9), -round(r[2], 9), r[0]))
    return tuple(Standing(k + 1, *row) for k, row in enumerate(rows))


def run_tournament(
    entries: Sequence[Entry],
    strategies: Sequence[str],
    *,
    runs: int,
    seed: int = 0,
    rounds: int | None = None,
    self_play: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> TournamentResult:
    """Play every game and rank the strategies (see the module docstring).

    ``progress(n)`` is called after each finished game with the number finished.
    ``workers`` > 1 forks that many processes (POSIX ``fork``: the entries, their
    gates and the strategies' code are inherited, not pickled).
    """
    global _ENTRIES
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"each strategy once, got {list(strategies)}")
    if len(strategies) < 2 and not self_play:
        raise ValueError("a tournament needs at least two strategies (or self-play)")
    games = games_of(entries, strategies, self_play)
    _ENTRIES = tuple(entries)
    _ANALYSES.clear()
    for e in range(len(entries)):  # analyse once, before forking: every worker inherits it
        _analysis(e, rounds)
    results: list[list[Seat] | None] = [None] * len(games)
    done = 0
    if workers <= 1 or len(games) <= 1:
        for i, game in enumerate(games):
            results[i] = play_game(game, runs, seed, rounds)
            done += 1
            if progress:
                progress(done)
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_play_indexed, i, game, runs, seed, rounds)
                for i, game in enumerate(games)
            ]
            for future in as_completed(futures):
                i, seats = future.result()
                results[i] = seats
                done += 1
                if progress:
                    progress(done)
    seats = [s for chunk in results if chunk for s in chunk]
    names = tuple(e.name for e in entries)
    per_scenario = {
        names[e]: {
            st: _mean([s.utility for s in seats if s.entry == e and s.strategy == st]) or 0.0
            for st in strategies
        }
        for e in range(len(entries))
    }
    return TournamentResult(
        scenarios=names,
        strategies=tuple(strategies),
        runs=runs,
        seed=seed,
        games=len(games),
        standings=rank(seats, strategies),
        per_scenario=per_scenario,
    )


__all__ = [
    "Entry",
    "Game",
    "Seat",
    "Standing",
    "TournamentResult",
    "games_of",
    "play_game",
    "rank",
    "run_tournament",
]
