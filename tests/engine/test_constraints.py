"""Hard constraints: the CP-SAT proof, minimal conflict sets, the per-offer check and
the certificate, against the plain-Python re-check (property tests over random
marketing instances)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from negotiator.engine.constraints import (
    certify,
    offer_check,
    prove_feasible,
    recheck,
    solve,
    system_from_dict,
)
from negotiator.engine.mediation import mediate_run
from negotiator.engine.plan_model import plan_model_from_spec

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "marketing.json"


def marketing_spec() -> dict:
    return json.loads(PLAYBOOK.read_text())


def instance(spec: dict, **knobs) -> dict:
    """The shipped marketing playbook with its hard constraints changed by ``knobs``."""
    spec = json.loads(json.dumps(spec))
    pm = spec["plan_model"]
    spend = pm["structured"][0]
    spend["total"] = {"min": knobs["total_min"], "max": knobs["total_max"]}
    by_id = {c["id"]: c for c in pm["constraints"]}
    by_id["video-minimum"]["min"] = knobs["video_min"]
    by_id["social-maximum"]["max"] = knobs["social_max"]
    by_id["teaser-first"]["gap"] = knobs["gap"]
    by_id["studio-capacity"]["capacity"] = knobs["capacity"]
    by_id["studio-capacity"]["by_period"] = {"7": knobs["holiday_capacity"]}
    by_id["creative-lead-time"]["per_unit"] = knobs["per_unit"]
    pm["constraints"].append(
        {
            "id": "search-minimum",
            "kind": "item_range",
            "allocation": "spend",
            "item": "search",
            "min": knobs["search_min"],
        }
    )
    return spec


knobs = st.fixed_dictionaries(
    {
        "total_min": st.sampled_from([150000, 200000, 250000, 300000, 350000]),
        "total_max": st.sampled_from([250000, 300000, 350000, 400000]),
        "video_min": st.sampled_from([0, 50000, 100000, 150000]),
        "social_max": st.sampled_from([25000, 50000, 100000, 125000]),
        "search_min": st.sampled_from([50000, 100000, 150000]),
        "gap": st.integers(0, 6),
        "capacity": st.integers(2, 9),
        "holiday_capacity": st.integers(0, 6),
        "per_unit": st.integers(0, 2),
    }
)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


def test_the_shipped_marketing_space_is_feasible_and_its_witness_passes_the_recheck():
    model = plan_model_from_spec(marketing_spec())
    report = prove_feasible(model.system)
    assert report.feasible and report.conflict == ()
    assert all(check.holds for check in recheck(model.system, report.witness))


@settings(SETTINGS, max_examples=12)
@given(knobs)
def test_every_agreed_plan_of_a_feasible_instance_passes_the_independent_recheck(k):
    spec = instance(marketing_spec(), **k)
    model = plan_model_from_spec(spec)
    start = model.start_text()
    assume(start is not None)
    setup = model.mediation_setup({r["name"]: r["profile"] for r in spec["roles"]})
    state = mediate_run(setup, start, seed=k["gap"] * 7 + k["capacity"])
    for record in state.rounds:  # every text put to the parties was feasible too
        assert all(c.holds for c in recheck(model.system, record.text))
    if state.status == "agreed":
        certificate = certify(model.system, state.text)
        assert certificate["valid"] and certificate["recheck_ok"]
        assert certificate["solver_status"] == "OPTIMAL"
        assert all(c["recheck"] and c["solver"] for c in certificate["constraints"])


@SETTINGS
@given(knobs)
def test_an_infeasible_instance_is_refused_with_a_minimal_conflict_set(k):
    model = plan_model_from_spec(instance(marketing_spec(), **k))
    report = prove_feasible(model.system)
    assume(not report.feasible)
    ids = [c.id for c in report.conflict]
    assert ids, "an infeasible space names its conflict"
    assert all(c.text for c in report.conflict)
    assert solve(model.system.only(ids)).status == "INFEASIBLE"
    for dropped in ids:
        rest = [i for i in ids if i != dropped]
        assert solve(model.system.only(rest)).status in ("OPTIMAL", "FEASIBLE"), dropped


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 10**6))
def test_the_solver_and_the_plain_python_recheck_agree_on_any_plan(seed):
    model = plan_model_from_spec(marketing_spec())
    rng = random.Random(seed)
    plan = {i.name: rng.choice(i.values) for i in model.space.issues}
    python_ok = all(c.holds for c in recheck(model.system, plan))
    solver_ok = solve(model.system, fixed=plan).values is not None
    assert python_ok == solver_ok
    checked = offer_check(model.system, plan)
    assert checked.ok == python_ok
    # every broken constraint is named (the audit trail lists them), not one of them
    broken = {c.constraint.id for c in recheck(model.system, plan) if not c.holds}
    assert {v.constraint.id for v in checked.violations} == broken
    assert "studio-capacity" in checked.solver_path
    assert "spend.total" in checked.fast_path


def test_an_over_budget_offer_names_the_broken_constraint_in_words():
    model = plan_model_from_spec(marketing_spec())
    plan = dict(prove_feasible(model.system).witness)
    plan["spend__search"] = 150000
    plan["spend__video"] = 150000
    checked = offer_check(model.system, plan)
    assert not checked.ok
    assert [v.constraint.id for v in checked.violations] == ["spend.total"]
    assert "at most 300,000 USD" in checked.violations[0].constraint.text


def test_a_studio_overload_is_caught_by_the_solver_path():
    model = plan_model_from_spec(marketing_spec())
    plan = dict(prove_feasible(model.system).witness)
    for item in ("search", "social", "video"):
        plan[f"creatives__{item}"] = 3
        plan[f"flight__{item}__start"] = 7
        plan[f"flight__{item}__length"] = 6
    plan["flight__search__start"] = 5
    checked = offer_check(model.system, plan)
    assert "studio-capacity" in [v.constraint.id for v in checked.violations]
    assert checked.solver_status == "INFEASIBLE"


def test_the_brand_safety_exclusion_applies_only_to_its_product():
    spec = marketing_spec()
    spec["fixed_terms"]["product"] = "Kids cereal"
    report = prove_feasible(plan_model_from_spec(spec).system)
    assert not report.feasible
    assert [c.id for c in report.conflict] == ["brand-safety-kids"]
    assert report.conflict_words() == ["No social spend for a kids' product (brand safety)"]


def test_a_certificate_of_a_broken_plan_is_not_valid_and_says_which_constraint():
    model = plan_model_from_spec(marketing_spec())
    plan = dict(prove_feasible(model.system).witness)
    plan["spend__video"] = 0
    certificate = certify(model.system, plan)
    assert certificate["valid"] is False
    assert certificate["solver_status"] == "INFEASIBLE"
    failed = [c["id"] for c in certificate["constraints"] if not c["recheck"]]
    assert "video-minimum" in failed


def test_constraints_that_name_unknown_parts_are_refused():
    model = plan_model_from_spec(marketing_spec())
    bad = [{"id": "x", "kind": "item_range", "allocation": "spend", "item": "radio", "min": 1}]
    try:
        system_from_dict(bad, space=model.space, structured=model.structured)
    except ValueError as exc:
        assert "'item' 'radio' is not an item of spend" in str(exc)
    else:
        raise AssertionError("unknown item accepted")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 10**6))
def test_every_broken_capacity_is_named_when_two_are_broken_at_once(seed):
    """The scheduling playbook has two capacities (dock doors and the handling
    crew): an offer that overloads both names both, as the plain check does."""
    spec = json.loads((PLAYBOOK.parent / "scheduling.json").read_text())
    model = plan_model_from_spec(spec)
    rng = random.Random(seed)
    plan = {i.name: rng.choice(i.values) for i in model.space.issues}
    checked = offer_check(model.system, plan)
    broken = {c.constraint.id for c in recheck(model.system, plan) if not c.holds}
    assert {v.constraint.id for v in checked.violations} == broken
    assert checked.ok == (not broken)
