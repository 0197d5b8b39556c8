"""Simulate many negotiations of a scenario offline and report their quality.

    python manage.py simulate --scenario PATH --strategies NAME,NAME --runs N --seed S --rounds R [--json]

PATH is a GENIUS folder (one domain XML plus profile XMLs) or a JSON scenario file
(docs/scenario-format.md), read by :func:`load_scenario`; a plain scenario runs
without a policy gate. ``--playbook`` instead runs a playbook's roles under its
policies (:func:`load_playbook`). With ``--json`` each run reports its distances to
the Pareto frontier, the Nash point and the Kalai–Smorodinsky point, and the last
line carries the summary and the scenario's bargaining points.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from negotiator.engine.analysis import SpaceAnalysis
from negotiator.engine.errors import ScenarioError
from negotiator.engine.governance import PolicyGate, govern
from negotiator.engine.scenario import Scenario, genius_scenario, scenario_from_dict
from negotiator.engine.simulator import (
    RunResult,
    reference_points,
    scenario_analysis,
    simulate,
    summarize,
)
from negotiator.engine.strategies import STRATEGIES
from negotiator.llm.simulation import GateTally, llm_players
from negotiator.management.numbers import MAX_BIGINT, whole_number


def load_scenario(path: Path) -> Scenario:
    """Read a GENIUS folder or a JSON scenario file; CommandError says what is wrong."""
    if not path.exists():
        raise CommandError(f"--scenario {path}: no such file or folder")
    try:
        if path.is_dir():
            files = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.glob("*.xml"))}
            if not files:
                raise CommandError(
                    f"--scenario {path}: folder has no .xml files (expected a GENIUS domain)"
                )
            return genius_scenario(files, name=path.name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CommandError(f"--scenario {path}: not valid JSON ({exc})") from None
        return scenario_from_dict(data, source=path.name)
    except ScenarioError as exc:
        raise CommandError(f"--scenario {path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--scenario {path}: cannot read ({exc})") from None


def load_playbook(value: str) -> tuple[Scenario, PolicyGate, dict[str, str]]:
    """A playbook (a name in the database, or a playbook JSON file) as a scenario with
    its policies: each party's allowed outcomes and the gate every offer passes."""
    from negotiator import playbook_io
    from negotiator.services.policies import playbook_policy_versions, policy_spec_of

    path = Path(value)
    if value.endswith(".json") or path.is_file():
        try:
            document = playbook_io.document_read(path)
        except playbook_io.PlaybookImportError as exc:
            lines = "; ".join(f"{p}: {m}" for p, m in exc.errors[:5])
            raise CommandError(f"--playbook {value}: {lines}", returncode=2) from None
        errors = playbook_io.document_errors(document)
        if errors:
            lines = "; ".join(f"{p}: {m}" for p, m in errors[:5])
            raise CommandError(f"--playbook {value}: not a valid playbook: {lines}", returncode=2)
        spec = playbook_io.spec_of(document)
        specs = list(playbook_io.document_policy_specs(document, version=1))
    else:
        playbook = published_playbook(value)
        if playbook is None:
            names = ", ".join(_playbook_names()) or "none"
            raise CommandError(f"--playbook: no published playbook named {value!r}; known: {names}")
        spec = playbook.current_version.spec
        specs = [policy_spec_of(v) for v in playbook_policy_versions(playbook)]
    scenario = scenario_from_dict(
        {
            "name": spec["name"],
            "issues": spec["issues"],
            "fixed_terms": spec.get("fixed_terms", {}),
            "max_rounds": spec["limits"]["max_rounds"],
            "offer_ttl_rounds": spec["limits"].get("offer_ttl_rounds"),
            "parties": [
                {"name": r["name"], "profile": r["profile"], "strategy": r["strategy"]}
                for r in spec["roles"]
            ],
        },
        source=value,
    )
    governed, gate = govern(
        scenario,
        specs,
        {r["name"]: r["profile"] for r in spec["roles"]},
        value_rule=spec.get("value_expression", ""),
        risk_rule=spec.get("risk_expression", ""),
    )
    return governed, gate, {r["name"]: r["strategy"] for r in spec["roles"]}


def published_playbook(value: str):
    """The published playbook of that name, or None; also None when the database
    is not set up yet (a shipped playbook file still simulates without it)."""
    from django.db import DatabaseError

    from negotiator.models import Playbook

    try:
        playbook = Playbook.objects.filter(name=value).select_related("current_version").first()
    except DatabaseError:
        return None
    return playbook if playbook is not None and playbook.current_version is not None else None


def _playbook_names() -> list[str]:
    from django.db import DatabaseError

    from negotiator.models import Playbook

    try:
        return list(Playbook.objects.values_list("name", flat=True))
    except DatabaseError:
        return []


def shipped_playbook(value: str) -> Path | None:
    """``--playbook marketing`` names playbooks/marketing.json when no playbook in the
    database has that name."""
    from django.conf import settings

    candidate = Path(settings.BASE_DIR) / "playbooks" / f"{value}.json"
    return candidate if candidate.is_file() else None


def coalition_spec(value: str) -> tuple[dict[str, Any], list] | None:
    """The spec and policy specs of a playbook with a mediated plan model, or None
    for any other."""
    from negotiator import playbook_io
    from negotiator.engine.plan_model import has_plan_model
    from negotiator.services.policies import playbook_policy_versions, policy_spec_of

    path = Path(value)
    if not (value.endswith(".json") or path.is_file()):
        playbook = published_playbook(value)
        if playbook is not None:
            spec = playbook.current_version.spec
            if not has_plan_model(spec):
                return None
            return spec, [policy_spec_of(v) for v in playbook_policy_versions(playbook)]
        path = shipped_playbook(value) or path
    try:
        document = playbook_io.document_read(path)
    except playbook_io.PlaybookImportError:
        return None  # load_playbook reports it
    if not isinstance(document, dict) or playbook_io.document_errors(document):
        return None
    spec = playbook_io.spec_of(document)
    if not has_plan_model(spec):
        return None
    return spec, list(playbook_io.document_policy_specs(document, version=1))


class Command(BaseCommand):
    help = "Run negotiation strategies against a scenario many times and measure agreement quality."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--scenario", help="GENIUS folder or JSON scenario file")
        source.add_argument(
            "--playbook",
            help="a playbook name (or playbook JSON file): runs under its policies and "
            "reports the policy results that blocked, escalated or warned",
        )
        parser.add_argument(
            "--strategies",
            help=f"comma-separated, one per party in scenario order; known: {', '.join(sorted(STRATEGIES))} "
            "(with --playbook, default: the roles' strategies)",
        )
        parser.add_argument(
            "--runs",
            type=whole_number(1, 100_000),
            default=10,
            help="number of negotiations (1-100000, default 10)",
        )
        parser.add_argument(
            "--seed",
            type=whole_number(0, MAX_BIGINT - 100_000),
            default=0,
            help="seed of the first run (default 0)",
        )
        parser.add_argument(
            "--rounds",
            type=whole_number(1, 10_000),
            default=None,
            help="max rounds (1-10000; default: scenario's)",
        )
        parser.add_argument(
            "--json", action="store_true", help="one JSON object per run, then a summary"
        )
        parser.add_argument(
            "--llm",
            nargs="?",
            const="",
            metavar="ROLE",
            help="the role (default: the first party) is LLM-assisted: the configured model "
            "(LLM_BASE_URL, LLM_MODEL) picks among its strategy's candidate offers",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        gate: PolicyGate | None = None
        if options["playbook"]:
            coalition = coalition_spec(options["playbook"])
            if coalition is not None:
                self._simulate_coalition(*coalition, options)
                return
            shipped = shipped_playbook(options["playbook"])
            exists = Path(options["playbook"]).exists()
            if shipped and not exists and published_playbook(options["playbook"]) is None:
                options["playbook"] = str(shipped)
            scenario, gate, defaults = load_playbook(options["playbook"])
            if not options["strategies"]:
                options["strategies"] = ",".join(defaults[p] for p in scenario.party_names)
        elif not options["strategies"]:
            raise CommandError("--strategies is required with --scenario")
        names = [s.strip() for s in options["strategies"].split(",") if s.strip()]
        unknown = [n for n in names if n not in STRATEGIES]
        if unknown:
            raise CommandError(
                f"--strategies: unknown strategy {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(sorted(STRATEGIES))}"
            )
        if options["runs"] < 1:
            raise CommandError(f"--runs must be at least 1, got {options['runs']}")
        if options["rounds"] is not None and options["rounds"] < 1:
            raise CommandError(f"--rounds must be at least 1, got {options['rounds']}")
        if gate is None:
            scenario = load_scenario(Path(options["scenario"]))
        if len(names) != len(scenario.parties):
            raise CommandError(
                f"--strategies: {len(names)} given but the scenario has {len(scenario.parties)} parties "
                f"({', '.join(scenario.party_names)}); give one strategy per party in that order"
            )
        try:
            analysis = scenario_analysis(scenario, options["rounds"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        players, picker = _players(names, scenario, options)
        if gate is not None:
            gate = GateTally(gate)
        results = simulate(
            scenario,
            players,
            options["runs"],
            options["seed"],
            options["rounds"],
            gate=gate,
            analysis=analysis,
        )
        if options["json"]:
            self._write_json(results, scenario, gate, analysis)
        else:
            self._write_table(results, scenario, names, options["runs"], gate)
        self._write_guardrails(gate, picker, options["json"])

    def _write_guardrails(self, gate, picker, as_json: bool) -> None:
        """What the gate let through against a blocking policy, and the model's calls."""
        out: dict[str, Any] = {}
        if gate is not None:
            out.update(policy_breaches=gate.breaches, blocked_attempts=gate.blocked)
        if picker is not None:
            calls = picker.take()
            fallbacks = Counter(c.fallback for c in calls if c.fallback)
            picked = Counter(c.chosen for c in calls if not c.fallback)
            out.update(llm_calls=len(calls), llm_fallbacks=dict(fallbacks), llm_picks=dict(picked))
        if not out:
            return
        if as_json:
            self.stdout.write(json.dumps({"guardrails": out}, sort_keys=True))
            return
        self.stdout.write(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in out.items()))

    def _simulate_coalition(
        self, spec: dict[str, Any], policies: list, options: dict[str, Any]
    ) -> None:
        """A mediated coalition playbook: every acceptance meets the policies (as
        live) and every agreed plan is certified."""
        from negotiator.bridge import policy_gate_from_spec
        from negotiator.engine.coalition_sim import simulate_coalition, summarize_coalition
        from negotiator.engine.constraints import prove_feasible
        from negotiator.engine.plan_model import plan_model_from_spec

        model = plan_model_from_spec(spec)
        report = prove_feasible(model.system)
        if not report.feasible:
            words = "; ".join(report.conflict_words()) or report.status
            raise CommandError(f"the plan space is infeasible: {words}", returncode=2)
        profiles = {r["name"]: r["profile"] for r in spec["roles"]}
        gate = policy_gate_from_spec(spec, policies, profiles)
        collected = []
        runs = simulate_coalition(model, profiles, options["runs"], options["seed"], gate=gate)
        for run in runs:
            collected.append(run)
            if options["json"]:
                self.stdout.write(json.dumps(run.to_dict(), sort_keys=True, ensure_ascii=False))
            else:
                self.stdout.write(
                    f"{run.run:>4} {run.seed:>6} {run.status:<10} rounds {run.consensus_rounds:>3} "
                    f"{run.milliseconds:>8.1f} ms  certificate "
                    f"{'valid' if run.feasible_plan else '-'}"
                )
        summary = summarize_coalition(collected)
        summary["playbook"] = spec["name"]
        summary["parties"] = [r["name"] for r in spec["roles"]]
        summary["rule"] = model.rules.rule
        if options["json"]:
            self.stdout.write(json.dumps({"summary": summary}, sort_keys=True))
            return
        self.stdout.write(
            f"agreements {summary['agreements']}/{summary['runs']} "
            f"({summary['agreement_rate']:.0%}), feasible plans "
            f"{(summary['feasible_plan_rate'] or 0):.0%} of agreements, mean consensus rounds "
            f"{summary['mean_consensus_rounds']}, median {summary['median_ms']} ms, "
            f"exception rate {summary['exception_rate']:.0%}"
        )

    def _write_json(
        self, results, scenario: Scenario, gate: PolicyGate | None, analysis: SpaceAnalysis
    ) -> None:
        collected = []
        for r in results:
            collected.append(r)
            row = _run_json(r)
            if gate is not None:
                row["policy_results"] = _policy_results(gate)
            self.stdout.write(json.dumps(row, sort_keys=True, ensure_ascii=False))
        last = {
            "summary": summarize(collected).to_dict(),
            "analysis": reference_points(analysis, scenario),
        }
        self.stdout.write(json.dumps(last, sort_keys=True))

    def _write_table(
        self, results, scenario: Scenario, names: list[str], runs: int, gate: PolicyGate | None
    ) -> None:
        from tqdm import tqdm

        parties = scenario.party_names
        self.stdout.write(
            f"Scenario {scenario.name}: {len(scenario.space.issues)} issues, "
            f"{scenario.space.cardinality} outcomes; strategies "
            + ", ".join(f"{p}={s}" for p, s in zip(parties, names, strict=True))
        )
        header = (
            f"{'run':>4} {'seed':>6} {'status':<10} {'rounds':>6} "
            + " ".join(f"{'u:' + p[:10]:>12}" for p in parties)
            + f" {'pareto_d':>8} {'nash_d':>7} {'front':>5}"
        )
        self.stdout.write(header)
        collected: list[RunResult] = []
        bar = tqdm(total=runs, file=sys.stderr, disable=runs < 20, desc="simulating", unit="run")
        for r in results:
            collected.append(r)
            bar.update(1)
            pd = "-" if r.pareto_distance is None else f"{r.pareto_distance:.3f}"
            nd = "-" if r.nash_distance is None else f"{r.nash_distance:.3f}"
            self.stdout.write(
                f"{r.run:>4} {r.seed:>6} {r.status:<10} {r.rounds:>6} "
                + " ".join(f"{r.utilities[p]:>12.3f}" for p in parties)
                + f" {pd:>8} {nd:>7} {'yes' if r.on_frontier else 'no':>5}"
            )
            if gate is not None:
                for item in _policy_results(gate):
                    self.stdout.write(
                        f"       {item['severity']:<8} x{item['count']:<3} {item['party']}: "
                        f"{item['policy']} — {item['message']}"
                    )
        bar.close()
        s = summarize(collected)
        self.stdout.write("")
        self.stdout.write(
            f"agreements {s.agreements}/{s.runs} ({s.agreement_rate:.0%}), on frontier "
            f"{s.on_frontier_rate:.0%} of agreements, mean rounds {s.mean_rounds:.1f}, "
            f"mean quality {s.mean_quality:.3f}"
        )
        if s.mean_nash_distance is not None:
            kalai = (
                ""
                if s.mean_kalai_distance is None
                else f", to Kalai–Smorodinsky point {s.mean_kalai_distance:.4f}"
            )
            self.stdout.write(
                f"mean distance to frontier {s.mean_pareto_distance:.4f}, "
                f"to Nash point {s.mean_nash_distance:.4f}{kalai}"
            )
        self.stdout.write(
            "mean utility " + ", ".join(f"{p} {u:.3f}" for p, u in s.mean_utilities.items())
        )


def _players(names: list[str], scenario: Scenario, options: dict[str, Any]):
    """The strategies to play, one role LLM-assisted with ``--llm``."""
    if options.get("llm") is None:
        return names, None
    role = options["llm"] or scenario.party_names[0]
    if role not in scenario.party_names:
        raise CommandError(
            f"--llm {role}: no such party; choose one of {', '.join(scenario.party_names)}"
        )
    try:
        return llm_players(names, scenario.party_names, role, options["runs"])
    except ValueError as exc:
        raise CommandError(
            f"--llm: {exc} (for a trial without a model: manage.py llm_fake_server)"
        ) from None


def _policy_results(gate: PolicyGate) -> list[dict[str, Any]]:
    """The run's failed checks (blocked, escalated, warned), counted by policy and party."""
    counts: dict[tuple, dict[str, Any]] = {}
    for record in gate.take():
        for result in record.results:
            if result.passed:
                continue
            key = (record.party, result.policy_id, str(result.severity))
            item = counts.setdefault(
                key,
                {
                    "party": record.party,
                    "policy": result.policy_name,
                    "kind": str(result.kind),
                    "severity": str(result.severity),
                    "stage": record.stage,
                    "message": result.message,
                    "count": 0,
                },
            )
            item["count"] += 1
    return list(counts.values())


def _run_json(r: RunResult) -> dict[str, Any]:
    return {
        "run": r.run,
        "seed": r.seed,
        "strategies": list(r.strategies),
        "first_mover": r.first_mover,
        "status": r.status,
        "agreement": r.agreement,
        "terms": r.terms,
        "rounds": r.rounds,
        "utilities": r.utilities,
        "advantages": r.advantages,
        "pareto_distance": r.pareto_distance,
        "nash_distance": r.nash_distance,
        "kalai_distance": r.kalai_distance,
        "on_frontier": r.on_frontier,
        "quality": r.quality,
        "reason": r.reason,
    }
