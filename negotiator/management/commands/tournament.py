"""Play strategies against each other on many scenarios and rank them, ANAC-style.

    python manage.py tournament --scenarios playbooks/*.json --strategies default,boulware,tit-for-tat --runs 10 [--json]

``--scenarios`` takes playbook JSON files, JSON scenario files, GENIUS folders,
folders of such JSON files, or names of published playbooks (comma-separated or
several arguments). Playbooks run under their policies, as ``simulate
--playbook`` does. Every pair of strategies plays every scenario in both orders
(``negotiator.engine.tournament``); the ranked table says how to read each column
(docs/tournament.md). Games run in parallel (``--workers``, default: every core)
with a progress bar on stderr; the figures do not depend on the worker count.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from negotiator.engine.errors import ScenarioError
from negotiator.engine.strategies import STRATEGIES
from negotiator.engine.tournament import Entry, TournamentResult, games_of, run_tournament
from negotiator.management.commands.simulate import load_playbook, load_scenario
from negotiator.management.numbers import MAX_BIGINT, whole_number

MAX_GAMES_RUNS = 2_000_000  # games x runs: refuse what would run for days


def _document(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"--scenarios {path}: not readable JSON ({exc})") from None


def _is_playbook_file(path: Path) -> bool:
    data = _document(path)
    return isinstance(data, dict) and str(data.get("format", "")).startswith("negotiator.playbook")


def not_bilateral(path: Path) -> str:
    """Why a file cannot be a tournament scenario ('' when it can): tournaments pit
    bargaining strategies against each other, which tenders and mediated
    coalitions do not use."""
    data = _document(path)
    if not isinstance(data, dict):
        return ""
    if str(data.get("format", "")).startswith("negotiator.tender"):
        return "a tender file (bidders, not bargaining strategies; see manage.py redteam)"
    if isinstance(data.get("plan_model"), dict):
        return "a mediated coalition playbook (see manage.py simulate --playbook)"
    return ""


def _entry_of_file(path: Path) -> Entry:
    if _is_playbook_file(path):
        scenario, gate, _ = load_playbook(str(path))
        return Entry(path.stem, scenario, gate)
    scenario = load_scenario(path)
    return Entry(path.stem, scenario, None)


def load_entries(items: list[str], skipped: list[str] | None = None) -> list[Entry]:
    """Every scenario the ``--scenarios`` values name, in the order given. Files
    that are not bilateral scenarios (``playbooks/*.json`` holds tenders and
    coalitions too) are left out, their names and why going to ``skipped``."""
    entries: list[Entry] = []
    skipped = [] if skipped is None else skipped
    for item in items:
        path = Path(item)
        if path.is_dir():
            if any(path.glob("*.xml")):
                entries.append(Entry(path.name, load_scenario(path), None))
                continue
            files = sorted(path.glob("*.json"))
            if not files:
                raise CommandError(
                    f"--scenarios {item}: folder has neither a GENIUS domain (.xml) nor "
                    "playbook or scenario files (.json)"
                )
            for f in files:
                why = not_bilateral(f)
                if why:
                    skipped.append(f"{f.name}: {why}")
                else:
                    entries.append(_entry_of_file(f))
        elif path.is_file():
            why = not_bilateral(path)
            if why:
                skipped.append(f"{path.name}: {why}")
            else:
                entries.append(_entry_of_file(path))
        elif item.endswith((".json", ".xml")) or "/" in item:
            raise CommandError(f"--scenarios {item}: no such file or folder")
        else:
            scenario, gate, _ = load_playbook(item)  # a published playbook's name
            entries.append(Entry(item, scenario, gate))
    seen: dict[str, int] = {}
    named = []
    for entry in entries:
        seen[entry.name] = seen.get(entry.name, 0) + 1
        name = entry.name if seen[entry.name] == 1 else f"{entry.name} ({seen[entry.name]})"
        named.append(Entry(name, entry.scenario, entry.gate))
    return named


class Command(BaseCommand):
    help = (
        "Play every pair of strategies in both orders on every scenario and print a ranked "
        "table (agreement rate, mean utility, advantage, Pareto and Nash distances, rounds)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scenarios",
            nargs="+",
            required=True,
            help="playbook JSON files, scenario JSON files, GENIUS folders, folders of JSON "
            "files or published playbook names (comma-separated or several values)",
        )
        parser.add_argument(
            "--strategies",
            required=True,
            help=f"comma-separated, at least two; known: {', '.join(sorted(STRATEGIES))}",
        )
        parser.add_argument(
            "--runs",
            type=whole_number(1, 10_000),
            default=10,
            help="negotiations per game (1-10000, default 10)",
        )
        parser.add_argument(
            "--seed",
            type=whole_number(0, MAX_BIGINT - 10_000),
            default=0,
            help="seed of each game's first run (default 0)",
        )
        parser.add_argument(
            "--rounds",
            type=whole_number(1, 10_000),
            default=None,
            help="max rounds (default: each scenario's)",
        )
        parser.add_argument(
            "--workers",
            type=whole_number(1, 256),
            default=None,
            help="worker processes (default: the number of cores)",
        )
        parser.add_argument(
            "--self-play", action="store_true", help="also play each strategy against itself"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        strategies = _strategies(options["strategies"], options["self_play"])
        items = [part.strip() for value in options["scenarios"] for part in value.split(",")]
        items = [i for i in items if i]
        if not items:
            raise CommandError("--scenarios: give at least one playbook, scenario or folder")
        skipped: list[str] = []
        try:
            entries = load_entries(items, skipped)
        except ScenarioError as exc:
            raise CommandError(f"--scenarios: {exc}") from None
        for line in skipped:
            self.stderr.write(f"skipped {line}")
        if not entries:
            raise CommandError("--scenarios: no bilateral scenario to play (see skipped above)")
        games = games_of(entries, strategies, options["self_play"])
        if len(games) * options["runs"] > MAX_GAMES_RUNS:
            raise CommandError(
                f"{len(games)} games x {options['runs']} runs is more than "
                f"{MAX_GAMES_RUNS:,} negotiations; use fewer runs, strategies or scenarios"
            )
        workers = options["workers"] or os.cpu_count() or 1
        from django.db import connections
        from tqdm import tqdm

        connections.close_all()  # forked workers must not share the parent's connection
        bar = tqdm(total=len(games), file=sys.stderr, desc="tournament", unit="game")
        try:
            result = run_tournament(
                entries,
                strategies,
                runs=options["runs"],
                seed=options["seed"],
                rounds=options["rounds"],
                self_play=options["self_play"],
                workers=min(workers, len(games)),
                progress=lambda done: bar.update(done - bar.n),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False))
        else:
            self.stdout.write(format_table(result, entries))


def _strategies(value: str, self_play: bool) -> list[str]:
    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise CommandError(
            f"--strategies: unknown strategy {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(sorted(STRATEGIES))}"
        )
    if len(set(names)) != len(names):
        raise CommandError(f"--strategies: each strategy once, got {', '.join(names)}")
    if len(names) < 2 and not self_play:
        raise CommandError("--strategies: give at least two strategies (or add --self-play)")
    return names


def _d(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def format_table(result: TournamentResult, entries: list[Entry]) -> str:
    lines = [
        f"Tournament: {len(result.strategies)} strategies, {len(result.scenarios)} scenarios, "
        f"{result.games} games x {result.runs} runs = {result.games * result.runs} "
        f"negotiations (seed {result.seed})",
        "Scenarios: "
        + "; ".join(
            f"{e.name} ({len(e.scenario.parties)} roles, {e.scenario.space.cardinality:,} "
            f"outcomes{', policies' if e.gate is not None else ''})"
            for e in entries
        ),
        "",
        f"{'rank':>4}  {'strategy':<12} {'negs':>6} {'agree':>6} {'utility':>8} "
        f"{'advantage':>9} {'pareto_d':>8} {'nash_d':>7} {'rounds':>6}",
    ]
    for s in result.standings:
        lines.append(
            f"{s.rank:>4}  {s.strategy:<12} {s.negotiations:>6} {s.agreement_rate:>6.0%} "
            f"{s.mean_utility:>8.4f} {s.mean_advantage:>9.4f} {_d(s.mean_pareto_distance):>8} "
            f"{_d(s.mean_nash_distance):>7} {s.mean_rounds:>6.1f}"
        )
    lines += ["", "Mean utility per scenario:"]
    width = max(12, *(len(n) for n in result.scenarios))
    order = [s.strategy for s in result.standings]
    lines.append(
        f"  {'strategy':<12} " + " ".join(f"{n[:width]:>{width}}" for n in result.scenarios)
    )
    for name in order:
        lines.append(
            f"  {name:<12} "
            + " ".join(f"{result.per_scenario[n][name]:>{width}.4f}" for n in result.scenarios)
        )
    return "\n".join(lines)
