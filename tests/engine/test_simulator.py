import json

import pytest

from negotiator.engine.errors import ScenarioError
from negotiator.engine.protocol import GateDecision
from negotiator.engine.scenario import genius_scenario, scenario_from_dict, scenario_to_dict
from negotiator.engine.simulator import reference_points, scenario_analysis, simulate, summarize

from .helpers import GENIUS_DIR

SCENARIO = {
    "name": "SaaS renewal",
    "issues": [
        {"name": "price", "type": "numeric", "lower": 20, "upper": 100, "step": 5, "unit": "USD"},
        {
            "name": "delivery_days",
            "type": "numeric",
            "lower": 7,
            "upper": 35,
            "step": 7,
            "integer": True,
            "unit": "days",
        },
        {"name": "support", "type": "ordinal", "options": ["basic", "standard", "premium"]},
    ],
    "fixed_terms": {"governing_law": "England and Wales"},
    "parties": [
        {
            "name": "buyer",
            "profile": {
                "weights": {"cost": 0.6, "speed": 0.2, "quality": 0.2},
                "criteria": {
                    "cost": [
                        {
                            "issue": "price",
                            "function": {"type": "linear", "direction": "decreasing"},
                        }
                    ],
                    "speed": [
                        {
                            "issue": "delivery_days",
                            "function": {"type": "linear", "direction": "decreasing"},
                        }
                    ],
                    "quality": [
                        {
                            "issue": "support",
                            "function": {
                                "type": "table",
                                "values": {"basic": 0, "standard": 0.6, "premium": 1},
                            },
                        }
                    ],
                },
                "reservation": 0.2,
                "private_values": {"budget_cap": 90},
            },
        },
        {
            "name": "seller",
            "profile": {
                "weights": {"cost": 0.7, "quality": 0.3},
                "criteria": {
                    "cost": [
                        {
                            "issue": "price",
                            "function": {
                                "type": "piecewise",
                                "points": [[20, 0], [60, 0.8], [100, 1]],
                            },
                        }
                    ],
                    "quality": [
                        {
                            "issue": "support",
                            "function": {
                                "type": "table",
                                "values": {"basic": 1, "standard": 0.5, "premium": 0},
                            },
                        }
                    ],
                },
                "reservation": 0.2,
            },
        },
    ],
    "protocol": {"max_rounds": 60},
}


def test_json_scenario_round_trips():
    scenario = scenario_from_dict(SCENARIO, source="saas.json")
    assert scenario.party_names == ("buyer", "seller")
    assert scenario.max_rounds == 60
    again = scenario_from_dict(json.loads(json.dumps(scenario_to_dict(scenario))))
    assert scenario_to_dict(again) == scenario_to_dict(scenario)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("issues"), "saas.json: issues: a non-empty list"),
        (
            lambda d: d["issues"].append({"name": "x", "type": "blob"}),
            "saas.json: issues[3]: issue 'x': unknown type",
        ),
        (lambda d: d["parties"].pop(), "saas.json: parties: at least two parties"),
        (
            lambda d: d["parties"][0]["profile"].update(weights={"cost": 1, "luck": 1}),
            "parties[0] (buyer).profile",
        ),
        (
            lambda d: d["fixed_terms"].update(price=10),
            "fixed_terms: names also used by negotiable issues",
        ),
    ],
)
def test_bad_json_scenarios_name_the_problem(mutate, fragment):
    data = json.loads(json.dumps(SCENARIO))
    mutate(data)
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(data, source="saas.json")
    assert fragment in str(exc.value)


def test_simulate_yields_results_and_summary():
    scenario = scenario_from_dict(SCENARIO)
    results = list(simulate(scenario, ["default", "boulware"], runs=4, seed=7, rounds=40))
    assert [r.seed for r in results] == [7, 8, 9, 10]
    assert [r.first_mover for r in results] == ["buyer", "seller", "buyer", "seller"]
    for r in results:
        assert set(r.utilities) == {"buyer", "seller"}
        assert r.agreement is True
        assert set(r.terms) == {"price", "delivery_days", "support"}
        assert r.pareto_distance is not None and r.pareto_distance >= 0
        assert r.kalai_distance is not None and r.kalai_distance >= 0
        assert all(u >= 0.2 for u in r.utilities.values())
    summary = summarize(results)
    assert summary.runs == 4
    assert summary.agreement_rate == 1.0
    assert json.dumps(summary.to_dict())
    distances = [r.kalai_distance for r in results if r.agreement]
    assert summary.mean_kalai_distance == pytest.approx(sum(distances) / len(distances))
    assert list(simulate(scenario, ["default", "boulware"], runs=4, seed=7, rounds=40)) == results


def test_reference_points_name_the_terms_and_utilities_of_nash_and_kalai_smorodinsky():
    scenario = scenario_from_dict(SCENARIO)
    analysis = scenario_analysis(scenario)
    points = reference_points(analysis, scenario)
    assert points["frontier_size"] == analysis.frontier.size
    for key, index in (("nash", analysis.nash), ("kalai_smorodinsky", analysis.kalai_smorodinsky)):
        point = points[key]
        assert tuple(point["terms"].values()) == scenario.space.outcome_at(index)
        assert list(point["utilities"]) == ["buyer", "seller"]
        assert list(point["utilities"].values()) == analysis.utilities[index].tolist()
    assert json.loads(json.dumps(points)) == points


def test_simulate_takes_an_optional_gate():
    scenario = scenario_from_dict(SCENARIO)

    def gate(offer, party):
        return (
            GateDecision("block", "over budget")
            if offer.terms["price"] > 90
            else GateDecision("allow")
        )

    # Ungated, these runs agree at 45. Gated, the seller's every offer is over 90:
    # after its blocked attempts the run goes to a person instead of agreeing.
    results = list(simulate(scenario, ["default", "default"], runs=2, seed=0, gate=gate))
    assert [(r.status, r.agreement) for r in results] == [("escalated", False)] * 2
    assert all("seller could not find an allowed action" in r.reason for r in results)


def test_simulate_rejects_bad_arguments():
    scenario = scenario_from_dict(SCENARIO)
    with pytest.raises(ValueError, match="runs must be at least 1"):
        list(simulate(scenario, ["default", "default"], runs=0))
    with pytest.raises(ValueError, match="3 strategies given for 2 parties"):
        list(simulate(scenario, ["default"] * 3, runs=1))


@pytest.mark.parametrize("folder", ["Laptop", "CarA"])
def test_default_self_play_on_genius_samples_agrees(folder):
    files = {p.name: p.read_text(encoding="utf-8") for p in (GENIUS_DIR / folder).iterdir()}
    scenario = genius_scenario(files, name=folder)
    summary = summarize(simulate(scenario, ["default", "default"], runs=2, seed=0))
    assert summary.agreement_rate == 1.0
    assert summary.mean_pareto_distance < 0.05


def test_the_documented_example_scenario_loads_and_runs():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text(
        encoding="utf-8"
    )
    example = json.loads(doc.split("```json\n")[1].split("```")[0])
    scenario = scenario_from_dict(example, source="scenario-format.md")
    assert scenario.space.issue("discount_rate").values[-1] == 0.2
    results = list(simulate(scenario, ["default", "default"], runs=2, seed=0))
    assert all(r.agreement for r in results)
