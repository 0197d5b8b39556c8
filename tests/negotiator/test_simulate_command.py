"""The simulate management command (pure engine underneath: no database needed)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.engine.test_simulator import SCENARIO

GENIUS = Path(__file__).resolve().parents[1] / "data" / "genius"


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_json_output_has_one_line_per_run_and_a_summary():
    lines = (
        simulate(
            "--scenario",
            str(GENIUS / "Laptop"),
            "--strategies",
            "default,boulware",
            "--runs",
            "3",
            "--seed",
            "5",
            "--rounds",
            "30",
            "--json",
        )
        .strip()
        .splitlines()
    )
    assert len(lines) == 4
    runs = [json.loads(line) for line in lines[:3]]
    assert [r["seed"] for r in runs] == [5, 6, 7]
    for r in runs:
        assert r["strategies"] == ["default", "boulware"]
        assert {
            "agreement",
            "terms",
            "rounds",
            "utilities",
            "pareto_distance",
            "nash_distance",
            "kalai_distance",
            "on_frontier",
        } <= set(r)
        assert r["agreement"] is True
        # Terms carry the GENIUS option labels, not indices.
        assert r["terms"] == {
            "Laptop": "Macintosh",
            "Harddisk": "80 Gb",
            "External Monitor": "19'' LCD",
        }
    last = json.loads(lines[3])
    assert last["summary"]["runs"] == 3
    # seeds 5-7 all agree on the same frontier outcome, between the two points
    assert [r["kalai_distance"] for r in runs] == [pytest.approx(0.19469, abs=1e-5)] * 3
    assert last["summary"]["mean_kalai_distance"] == pytest.approx(0.19469, abs=1e-5)
    parties = ["laptop_buyer_utility", "laptop_seller_utility"]
    nash, kalai = last["analysis"]["nash"], last["analysis"]["kalai_smorodinsky"]
    assert nash["terms"] == {"External Monitor": "19'' LCD", "Harddisk": "60 Gb", "Laptop": "HP"}
    assert kalai["terms"] == {"External Monitor": "19'' LCD", "Harddisk": "80 Gb", "Laptop": "HP"}
    assert list(kalai["utilities"]) == parties
    assert kalai["utilities"]["laptop_seller_utility"] == pytest.approx(0.87398, abs=1e-5)


def test_table_output_for_a_json_scenario(tmp_path):
    path = tmp_path / "saas.json"
    path.write_text(json.dumps(SCENARIO), encoding="utf-8")
    text = simulate("--scenario", str(path), "--strategies", "default,default", "--runs", "2")
    assert "Scenario SaaS renewal" in text
    assert "agreements" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scenario", "/no/such/place", "--strategies", "default,default"],
            "no such file or folder",
        ),
        (["--strategies", "default,haggle"], "unknown strategy 'haggle'"),
        (
            ["--strategies", "default,default", "--runs", "0"],
            "argument --runs: must be between 1 and 100,000, got 0",
        ),
        (["--strategies", "default,default,default"], "3 given but the scenario has 2 parties"),
    ],
)
def test_bad_arguments_raise_command_error(args, message):
    if "--scenario" not in args:
        args = ["--scenario", str(GENIUS / "Laptop"), *args]
    with pytest.raises(CommandError, match=message):
        simulate(*args)


def test_malformed_scenario_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"issues": []}', encoding="utf-8")
    with pytest.raises(CommandError, match="broken.json: issues"):
        simulate("--scenario", str(path), "--strategies", "default,default")
