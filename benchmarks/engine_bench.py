"""Engine benchmarks: agreement quality of the default strategy and raw speed.

    .venv/bin/python benchmarks/engine_bench.py [--runs 200] [--quick]

Quality: self-play of ``default`` on random domains of 3 issues x 10 values with
random linear-additive profiles (reservation 0, 100 rounds). Targets: agreement
rate >= 99 %, agreements on the Pareto frontier >= 90 %, mean distance to the Nash
point <= 0.05. Speed: median time of one 100-round bilateral negotiation on that
setup <= 2 ms (the per-setup utility tables are built once beforehand and timed
separately); Pareto frontier + Nash point of 1,000 outcomes <= 4 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from negotiator.engine.analysis import agreement_quality, analyse, nash_point, pareto_frontier  # noqa: E402
from negotiator.engine.outcomes import CategoricalIssue, OutcomeSpace  # noqa: E402
from negotiator.engine.preferences import IssueValue, PreferenceProfile, TableValue  # noqa: E402
from negotiator.engine.protocol import NegotiationSetup, Party, run  # noqa: E402
from negotiator.engine.scenario import genius_scenario  # noqa: E402
from negotiator.engine.simulator import simulate, summarize  # noqa: E402
from negotiator.engine.strategies import make_strategy  # noqa: E402

GENIUS = REPO / "tests" / "data" / "genius"


def random_setup(
    rng: random.Random, issues: int = 3, values: int = 10, rounds: int = 100
) -> NegotiationSetup:
    space = OutcomeSpace(
        tuple(
            CategoricalIssue(f"issue{j}", tuple(f"v{k}" for k in range(values)))
            for j in range(issues)
        )
    )
    parties = []
    for p in range(2):
        criteria, weights = {}, {}
        for issue in space.issues:
            raw = [rng.random() for _ in issue.values]
            top = max(raw)
            criteria[issue.name] = (
                IssueValue(
                    issue.name,
                    TableValue({v: x / top for v, x in zip(issue.values, raw, strict=True)}),
                ),
            )
            weights[issue.name] = rng.random()
        parties.append(
            Party(
                f"party{p}", PreferenceProfile(weights=weights, criteria=criteria, reservation=0.0)
            )
        )
    return NegotiationSetup(space=space, parties=tuple(parties), max_rounds=rounds)


def quality(runs: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    agreements = frontier = 0
    nash_d, pareto_d, rounds = [], [], []
    for i in range(runs):
        setup = random_setup(rng)
        strategies = [make_strategy("default"), make_strategy("default")]
        result = run(setup, strategies, seed=i)
        analysis = analyse(setup.utilities, [0.0, 0.0])
        state = result.state
        rounds.append(state.round + (state.status == "agreed"))
        if state.status == "agreed":
            agreements += 1
            q = agreement_quality(analysis, setup.utilities[state.agreement_outcome])
            frontier += q.on_frontier
            nash_d.append(q.nash_distance)
            pareto_d.append(q.pareto_distance)
    figures = {
        "agreement_rate": agreements / runs,
        "on_frontier": frontier / max(1, agreements),
        "mean_nash_distance": float(np.mean(nash_d)) if nash_d else float("nan"),
        "mean_pareto_distance": float(np.mean(pareto_d)) if pareto_d else float("nan"),
        "mean_rounds": float(np.mean(rounds)),
    }
    return figures


def timed_negotiations(count: int, seed: int) -> tuple[list[float], list[float]]:
    """Time the per-setup precomputation (utility tables) and the negotiation separately."""
    rng = random.Random(seed)
    setups = [random_setup(rng) for _ in range(count)]
    strategies = [make_strategy("default"), make_strategy("default")]
    run(random_setup(rng), strategies)  # warm caches and imports
    prepare, negotiate = [], []
    for setup in setups:
        start = time.perf_counter()
        _ = setup.tables
        _ = setup.utilities
        middle = time.perf_counter()
        run(setup, strategies)
        negotiate.append(time.perf_counter() - middle)
        prepare.append(middle - start)
    return prepare, negotiate


def frontier_speed(repeats: int = 200) -> list[float]:
    rng = np.random.default_rng(0)
    times = []
    for _ in range(repeats):
        u = rng.random((1000, 2))
        start = time.perf_counter()
        pareto_frontier(u)
        nash_point(u, [0.0, 0.0])
        times.append(time.perf_counter() - start)
    return times


def large_frontier() -> tuple[float, int]:
    u = np.random.default_rng(1).random((100_000, 3))
    start = time.perf_counter()
    front = pareto_frontier(u)
    return time.perf_counter() - start, int(front.size)


def genius_figures(runs: int) -> None:
    print(f"\nGENIUS samples, default self-play ({runs} runs each, 100 rounds):")
    print(
        f"  {'scenario':<8} {'outcomes':>8} {'agree':>6} {'frontier':>8} {'pareto_d':>8} {'nash_d':>7} {'rounds':>6} {'ms/run':>7}"
    )
    for folder in ("Laptop", "Travel", "CarA"):
        path = GENIUS / folder
        if not path.is_dir():
            print(f"  {folder:<8} missing at {path}")
            continue
        files = {p.name: p.read_text(encoding="utf-8") for p in path.iterdir()}
        scenario = genius_scenario(files, name=folder)
        start = time.perf_counter()
        summary = summarize(simulate(scenario, ["default", "default"], runs=runs, seed=0))
        elapsed = (time.perf_counter() - start) / runs * 1000
        print(
            f"  {folder:<8} {scenario.space.cardinality:>8} {summary.agreement_rate:>6.0%} "
            f"{summary.on_frontier_rate:>8.0%} {summary.mean_pareto_distance:>8.4f} "
            f"{summary.mean_nash_distance:>7.4f} {summary.mean_rounds:>6.1f} {elapsed:>7.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    args = parser.parse_args()
    runs = 40 if args.quick else args.runs

    print(
        f"Quality: default self-play, 3 issues x 10 values, reservation 0, 100 rounds, {runs} runs"
    )
    q = quality(runs, args.seed)
    checks = [
        ("agreement rate", q["agreement_rate"], ">=", 0.99, f"{q['agreement_rate']:.1%}"),
        ("agreements on Pareto frontier", q["on_frontier"], ">=", 0.90, f"{q['on_frontier']:.1%}"),
        (
            "mean distance to Nash point",
            q["mean_nash_distance"],
            "<=",
            0.05,
            f"{q['mean_nash_distance']:.4f}",
        ),
    ]
    print(
        f"  mean distance to frontier {q['mean_pareto_distance']:.4f}, mean rounds {q['mean_rounds']:.1f}"
    )

    prep_times, neg_times = timed_negotiations(max(runs, 100), args.seed + 1)
    neg_median = statistics.median(neg_times) * 1000
    fr_times = frontier_speed()
    fr_median = statistics.median(fr_times) * 1000
    checks += [
        ("median ms per 100-round negotiation", neg_median, "<=", 2.0, f"{neg_median:.3f} ms"),
        ("Pareto frontier + Nash, 1,000 outcomes", fr_median, "<=", 4.0, f"{fr_median:.3f} ms"),
    ]
    big_time, big_size = large_frontier()

    failed = 0
    print("\nTargets:")
    for label, value, op, target, shown in checks:
        ok = value >= target if op == ">=" else value <= target
        failed += not ok
        print(f"  [{'ok' if ok else 'MISS'}] {label:<40} {shown:>12}  (target {op} {target:g})")
    print(
        "\n  per-setup precomputation (utility tables, built once per setup): median "
        f"{statistics.median(prep_times) * 1000:.3f} ms"
    )
    print(
        f"  p90 ms per negotiation {np.percentile(neg_times, 90) * 1000:.3f}; "
        f"exact 3-party frontier of 100,000 outcomes: {big_time * 1000:.0f} ms ({big_size} points)"
    )
    genius_figures(4 if args.quick else 10)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
