"""How well the bid-rigging screens separate collusive from competitive tenders,
and how fast they run, measured through the command procurement teams use.

    .venv/bin/python benchmarks/screens.py [--tenders 10000] [--seed 7] [--keep DIR]

Writes synthetic tender histories with ground truth as CSV files (the format of
``manage.py screen_tenders``), scores them with ``screen_tenders --json``, and
prints ROC AUC of the suspicion score on collusive versus competitive tenders,
precision, recall and the false-alarm rate at the default thresholds (a tender
is flagged when a flag holds its award for a person), the same by ring size and
cover margin, and the time to screen 10,000 tenders. Targets: AUC >= 0.90,
false alarms <= 5 %, 10,000 tenders in under 5 s.

The synthetic market: each item and region has 12 suppliers. A competitive
tender invites 4 to 10 of them; each draws an independent private cost around
the item's base price (a common shock for the tender, an own deviation of 4 to
12 %) and bids cost plus a margin of 2 to 12 %. A ring of 3 to 6 suppliers in
some markets rigs its tenders: the designated winner (in turn across the ring's
tenders: rotation) bids the ring's lowest cost plus an inflation of 10 to 30 %,
the other members bid cover bids a margin of 3, 6 or 10 % above it (with a
little noise); in a third of the ring's tenders outsiders also bid, competitively.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

RING_SIZES = (3, 4, 5, 6)
COVER_MARGINS = (0.03, 0.06, 0.10)
SUPPLIERS_PER_MARKET = 12


@dataclass(frozen=True)
class Truth:
    collusive: bool
    ring_size: int = 0
    cover_margin: float = 0.0


def _competitive_bid(rng: random.Random, base: float, shock: float) -> float:
    cost = base * shock * math.exp(rng.gauss(0, rng.uniform(0.04, 0.12)))
    return cost * (1 + rng.uniform(0.02, 0.12))


def _market_rows(rng, market: int, tenders: int, start: date, truth: dict) -> list[list]:
    """One item and region: its tenders, rigged ones when the market has a ring."""
    item, region = f"part-{market}", f"region-{market % 7}"
    base = rng.uniform(2_000, 200_000)
    suppliers = [f"m{market}-s{i}" for i in range(SUPPLIERS_PER_MARKET)]
    ring = []
    if rng.random() < 0.35:
        ring = rng.sample(suppliers, rng.choice(RING_SIZES))
    margin = rng.choice(COVER_MARGINS)
    turn = 0
    rows = []
    for t in range(tenders):
        tid = f"T{market:04d}-{t:03d}"
        day = (start + timedelta(days=7 * t + rng.randrange(7))).isoformat()
        shock = math.exp(rng.gauss(0, 0.05))
        rigged = bool(ring)
        bids: dict[str, float] = {}
        if rigged:
            winner = ring[turn % len(ring)]
            turn += 1
            low = min(base * shock * math.exp(rng.gauss(0, 0.08)) for _ in ring)
            bids[winner] = low * (1 + rng.uniform(0.10, 0.30))
            for member in ring:
                if member != winner:
                    bids[member] = bids[winner] * (1 + margin + abs(rng.gauss(0, margin / 4)))
            if rng.random() < 1 / 3:
                others = [s for s in suppliers if s not in ring]
                for s in rng.sample(others, rng.randint(1, 3)):
                    bids[s] = _competitive_bid(rng, base, shock)
            truth[tid] = Truth(True, len(ring), margin)
        else:
            for s in rng.sample(suppliers, rng.randint(4, 10)):
                bids[s] = _competitive_bid(rng, base, shock)
            truth[tid] = Truth(False)
        winner = min(bids, key=bids.get)
        rows += [
            [tid, day, s, f"{b:.2f}", item, region, "1" if s == winner else "0"]
            for s, b in bids.items()
        ]
    return rows


def history_write(path: Path, n_tenders: int, seed: int) -> dict[str, Truth]:
    rng = random.Random(seed)
    truth: dict[str, Truth] = {}
    rows: list[list] = []
    market = 0
    while len(truth) < n_tenders:
        count = min(rng.randint(12, 30), n_tenders - len(truth))
        rows += _market_rows(rng, market, count, date(2022, 1, 3), truth)
        market += 1
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["tender_id", "date", "supplier", "bid", "item", "region", "winner"])
        writer.writerows(rows)
    return truth


def screened(path: Path) -> tuple[dict[str, dict], float]:
    out = io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    call_command("screen_tenders", str(path), "--json", stdout=out)
    elapsed = time.perf_counter() - started
    print(
        f"CPU time of this process: {time.process_time() - cpu:.2f} s; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    results = {}
    for line in out.getvalue().splitlines():
        row = json.loads(line)
        results[row["tender_id"]] = row
    return results, elapsed


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a collusive tender scores above a competitive one (ties: half)."""
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average = (i + j + 1) / 2  # ranks i+1 .. j
        rank_sum += average * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    p, n = len(positives), len(negatives)
    return (rank_sum - p * (p + 1) / 2) / (p * n) if p and n else float("nan")


def report(results: dict[str, dict], truth: dict[str, Truth], label: str) -> dict[str, float]:
    pos = [results[t]["suspicion"] for t, g in truth.items() if g.collusive]
    neg = [results[t]["suspicion"] for t, g in truth.items() if not g.collusive]
    flagged = {t for t in truth if results[t]["needs_person"]}
    tp = sum(1 for t in flagged if truth[t].collusive)
    fp = len(flagged) - tp
    figures = {
        "auc": roc_auc(pos, neg),
        "precision": tp / len(flagged) if flagged else float("nan"),
        "recall": tp / len(pos) if pos else float("nan"),
        "false_alarms": fp / len(neg) if neg else float("nan"),
    }
    print(
        f"{label:<28} collusive={len(pos):>5} competitive={len(neg):>5}  "
        f"AUC={figures['auc']:.3f}  precision={figures['precision']:.3f}  "
        f"recall={figures['recall']:.3f}  false alarms={figures['false_alarms'] * 100:.1f} %"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="write the CSV files here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"history-{args.tenders}-seed{args.seed}.csv"
        truth = history_write(path, args.tenders, args.seed)
        (folder / f"{path.stem}.truth.json").write_text(
            json.dumps({t: g.__dict__ for t, g in truth.items()})
        )
        results, elapsed = screened(path)
    print(f"{len(results)} tenders screened through screen_tenders in {elapsed:.2f} s")
    overall = report(results, truth, "all tenders")
    competitive = {t: g for t, g in truth.items() if not g.collusive}
    for size in RING_SIZES:
        subset = {t: g for t, g in truth.items() if g.ring_size == size}
        report(results, {**subset, **competitive}, f"ring of {size}")
    for margin in COVER_MARGINS:
        subset = {t: g for t, g in truth.items() if g.cover_margin == margin}
        report(results, {**subset, **competitive}, f"cover margin {margin:.0%}")
    targets = (
        overall["auc"] >= 0.90
        and overall["false_alarms"] <= 0.05
        and (elapsed < 5.0 or args.tenders != 10_000)
    )
    print(
        "targets (AUC >= 0.90, false alarms <= 5 %, 10k tenders < 5 s):",
        "met" if targets else "NOT met",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
