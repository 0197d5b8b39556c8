"""The tournament management command: every pair in both orders, ranked; deterministic."""

import json
import math
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from negotiator.engine.scenario import genius_scenario
from negotiator.engine.simulator import simulate

REPO = Path(__file__).resolve().parents[2]
GENIUS = REPO / "tests" / "data" / "genius"


def tournament(*args: str) -> str:
    out = StringIO()
    call_command("tournament", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def laptop():
    files = {p.name: p.read_text(encoding="utf-8") for p in (GENIUS / "Laptop").iterdir()}
    return genius_scenario(files, name="Laptop")


def test_json_figures_match_the_games_played_by_hand():
    data = json.loads(
        tournament(
            "--scenarios", str(GENIUS / "Laptop"), "--strategies", "boulware,conceder",
            "--runs", "3", "--seed", "7", "--workers", "1", "--json",
        )
    )  # fmt: skip
    assert data["games"] == 2 and data["negotiations"] == 6
    # by hand: (boulware, conceder) and (conceder, boulware), three runs each
    scenario = laptop()
    buyer, seller = scenario.party_names
    mine = {"boulware": [], "conceder": []}
    deals = {"boulware": 0, "conceder": 0}
    for pair in (("boulware", "conceder"), ("conceder", "boulware")):
        for r in simulate(scenario, list(pair), runs=3, seed=7):
            for party, strategy in zip((buyer, seller), pair, strict=True):
                mine[strategy].append(r.utilities[party])
                deals[strategy] += r.agreement
    ranking = {row["strategy"]: row for row in data["ranking"]}
    for strategy, utilities in mine.items():
        assert ranking[strategy]["negotiations"] == 6
        assert ranking[strategy]["mean_utility"] == pytest.approx(
            math.fsum(utilities) / 6, abs=1e-6
        )
        assert ranking[strategy]["agreement_rate"] == pytest.approx(deals[strategy] / 6)
    best = max(mine, key=lambda s: math.fsum(mine[s]))
    assert data["ranking"][0]["strategy"] == best
    assert [row["rank"] for row in data["ranking"]] == [1, 2]


def test_results_do_not_depend_on_the_worker_count(tmp_path):
    args = [
        "--scenarios", f"{GENIUS / 'Laptop'},{GENIUS / 'CarA'}",
        "--strategies", "default,hardliner,tit-for-tat", "--runs", "2", "--json",
    ]  # fmt: skip
    one = tournament(*args, "--workers", "1")
    three = tournament(*args, "--workers", "3")
    again = tournament(*args, "--workers", "3")
    assert one == three == again
    data = json.loads(one)
    assert data["games"] == 2 * 6  # two scenarios x three pairs x both orders
    assert set(data["mean_utility_per_scenario"]) == {"Laptop", "CarA"}


def test_the_table_ranks_and_names_the_playbooks_policies():
    text = tournament(
        "--scenarios", str(REPO / "playbooks" / "procurement.json"),
        "--strategies", "default,hardliner", "--runs", "1", "--workers", "2",
    )  # fmt: skip
    assert "procurement (2 roles, 2,484 outcomes, policies)" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("rank"))
    assert header.split() == [
        "rank", "strategy", "negs", "agree", "utility", "advantage", "pareto_d", "nash_d",
        "rounds",
    ]  # fmt: skip
    rows = [line.split() for line in text.splitlines() if line[:4].strip() in {"1", "2"}]
    assert [r[0] for r in rows] == ["1", "2"]
    assert {r[1] for r in rows} == {"default", "hardliner"}


def test_self_play_adds_one_game_per_strategy():
    data = json.loads(
        tournament(
            "--scenarios", str(GENIUS / "Laptop"), "--strategies", "default",
            "--self-play", "--runs", "2", "--workers", "1", "--json",
        )
    )  # fmt: skip
    assert data["games"] == 1
    assert data["ranking"][0]["agreement_rate"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "default,haggle"], "unknown strategy 'haggle'"),
        (["--strategies", "default"], "at least two strategies"),
        (["--strategies", "default,default"], "each strategy once"),
        (["--strategies", "default,linear", "--runs", "0"], "must be between 1"),
        (["--strategies", "default,linear", "--runs", "many"], "expected a whole number"),
        (["--strategies", "default,linear", "--workers", "0"], "must be between 1"),
    ],
)
def test_bad_arguments_say_what_is_wrong(args, message):
    with pytest.raises(CommandError, match=message):
        tournament("--scenarios", str(GENIUS / "Laptop"), *args)


def test_bad_scenarios_say_what_is_wrong(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        tournament("--scenarios", str(tmp_path / "missing.json"), "--strategies", "default,linear")
    with pytest.raises(CommandError, match="no such file or folder"):
        tournament("--scenarios", "nowhere/at/all", "--strategies", "default,linear")
    with pytest.raises(CommandError, match="neither a GENIUS domain"):
        tournament("--scenarios", str(tmp_path), "--strategies", "default,linear")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not readable JSON"):
        tournament("--scenarios", str(broken), "--strategies", "default,linear")
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"issues": []}), encoding="utf-8")
    with pytest.raises(CommandError, match="issues"):
        tournament("--scenarios", str(odd), "--strategies", "default,linear")


@pytest.mark.django_db
def test_an_unknown_playbook_name_is_refused():
    with pytest.raises(CommandError, match="no published playbook named 'Nope'"):
        tournament("--scenarios", "Nope", "--strategies", "default,linear")


def test_the_playbooks_folder_plays_its_bilateral_playbooks_and_names_what_it_skips(tmp_path):
    """``--scenarios playbooks/`` once failed on the coalition playbooks' plan space;
    tenders and mediated coalitions are not bargaining games and are skipped by name."""
    import shutil

    for name in ("procurement", "marketing", "scheduling", "tender"):
        shutil.copy(REPO / "playbooks" / f"{name}.json", tmp_path)
    out, err = StringIO(), StringIO()
    call_command(
        "tournament",
        "--scenarios",
        str(tmp_path),
        "--strategies",
        "default,linear",
        "--runs",
        "1",
        "--workers",
        "1",
        "--json",
        stdout=out,
        stderr=err,
    )
    data = json.loads(out.getvalue())
    assert data["scenarios"] == ["procurement"] and data["games"] == 2
    for name in ("marketing.json", "scheduling.json", "tender.json"):
        assert f"skipped {name}: " in err.getvalue()
    # Named one by one (a shell glob), the same; nothing left to play is an error.
    files = [str(tmp_path / f"{n}.json") for n in ("procurement", "marketing")]
    data = json.loads(tournament("--scenarios", *files, "--strategies", "default,linear",
                                 "--runs", "1", "--workers", "1", "--json"))  # fmt: skip
    assert data["scenarios"] == ["procurement"]
    with pytest.raises(CommandError, match="no bilateral scenario to play"):
        tournament("--scenarios", str(tmp_path / "tender.json"), "--strategies", "default,linear")
