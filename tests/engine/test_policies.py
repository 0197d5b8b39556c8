"""Policy checks, the gate decision, parameter validation and serialisation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiator.engine import policies
from negotiator.engine.cel import Bounds
from negotiator.engine.policies import (
    CheckContext,
    CheckResult,
    PolicyError,
    PolicyKind,
    PolicySpec,
    Severity,
    check,
    check_result_from_dict,
    check_result_to_dict,
    decide,
    describe,
    fixed_terms_digest,
    policy_spec_from_dict,
    policy_spec_to_dict,
    validate_parameters,
)

FIXED = {"governing_law": "DE", "security_baseline": "iso27001"}
ISSUES = {
    "price": {"type": "numeric", "min": 50_000, "max": 150_000},
    "delivery_days": {"type": "numeric", "min": 1, "max": 60},
    "warranty_months": {"type": "numeric", "min": 0, "max": 36},
    "sla_tier": {"type": "categorical", "options": ["silver", "gold", "platinum"]},
}
SELLER_PROFILE = {
    "weights": {"price": 0.7, "delivery_days": 0.3},
    "reservation": 0.4,
    "private_values": {"reservation_price": 95_000, "unit_cost": 80_000, "budget_cap": 120_000},
}


@dataclass(frozen=True)
class FakeOffer:
    terms: dict
    rationale: str = ""
    assumptions: tuple[str, ...] = ()
    sender: str = "seller"
    performative: str = "propose"
    fixed_terms_hash: str = field(default_factory=lambda: fixed_terms_digest(FIXED))


def offer(rationale: str = "", assumptions=(), **terms) -> FakeOffer:
    base = {"price": 97_000, "delivery_days": 12, "warranty_months": 12, "sla_tier": "gold"}
    return FakeOffer({**base, **terms}, rationale, tuple(assumptions))


def context(**changes) -> CheckContext:
    values = {
        "fixed_terms": FIXED,
        "sender_role": "seller",
        "sender_profile": SELLER_PROFILE,
        "deal_value": 97_000.0,
        "deal_risk": 0.2,
        "issue_types": {k: v["type"] for k, v in ISSUES.items()},
    }
    return CheckContext(**{**values, **changes})


def spec(kind, parameters, severity="block", scope_role=None, policy_id=1) -> PolicySpec:
    return PolicySpec(
        policy_id, 3, f"{kind} rule", "finance", kind, parameters, severity, scope_role
    )


def run(kind, parameters, the_offer=None, ctx=None, **spec_kwargs) -> CheckResult:
    (result,) = check(
        the_offer or offer(), [spec(kind, parameters, **spec_kwargs)], ctx or context()
    )
    json.dumps(check_result_to_dict(result))  # always storable
    return result


# --- each kind passes and fails with a message and evidence ---------------------------------------


def test_cap():
    ok = run("cap", {"issue": "price", "max": 100_000})
    assert ok.passed and ok.message == "price 97,000 is within the cap of 100,000"
    bad = run("cap", {"issue": "price", "max": 90_000})
    assert not bad.passed
    assert bad.message == "price 97,000 is above the cap of 90,000"
    assert bad.evidence == {
        "issue": "price",
        "value": 97_000,
        "rule": "price <= 90000",
        "max": 90_000,
    }
    assert (bad.policy_id, bad.policy_version, bad.kind, bad.severity) == (1, 3, "cap", "block")


def test_floor():
    assert run("floor", {"issue": "price", "min": 90_000}).passed
    bad = run("floor", {"issue": "price", "min": 90_000}, offer(price=88_000))
    assert bad.message == "price 88,000 is below the floor of 90,000"
    assert bad.evidence == {
        "issue": "price",
        "value": 88_000,
        "rule": "price >= 90000",
        "floor": 90_000,
    }


def test_range():
    assert run("range", {"issue": "warranty_months", "min": 6, "max": 24}).passed
    bad = run("range", {"issue": "warranty_months", "min": 6, "max": 24}, offer(warranty_months=3))
    assert bad.message == "warranty_months 3 is below the range 6–24"
    assert bad.evidence["rule"] == "6 <= warranty_months <= 24"


def test_allowed_values():
    assert run("allowed_values", {"issue": "sla_tier", "values": ["gold", "platinum"]}).passed
    bad = run(
        "allowed_values",
        {"issue": "sla_tier", "values": ["gold", "platinum"]},
        offer(sla_tier="silver"),
    )
    assert bad.message == "sla_tier 'silver' is not one of the allowed values: gold, platinum"
    assert bad.evidence["value"] == "silver"


def test_missing_issue_fails_clearly():
    bad = run("cap", {"issue": "volume", "max": 10})
    assert not bad.passed and bad.message == "the offer has no 'volume' term"


def test_non_numeric_value_fails_clearly():
    bad = run("cap", {"issue": "sla_tier", "max": 10})
    assert bad.message == "sla_tier is 'gold', not a number"


def test_min_margin():
    params = {"issue": "price", "cost_key": "unit_cost", "min_percent": 10}
    ok = run("min_margin", params)
    assert ok.passed and "21.2%" in ok.message
    bad = run("min_margin", params, offer(price=85_000))
    assert not bad.passed
    assert (
        bad.message
        == "price 85,000 gives a margin of 6.2% over unit_cost, below the minimum margin of 10%"
    )
    assert "80,000" not in bad.message and "80000" not in bad.message
    assert bad.evidence["private"] is True
    assert bad.evidence["cost"] == 80_000 and bad.evidence["required_min"] == pytest.approx(88_000)


def test_min_margin_without_the_cost_fails_naming_it():
    ctx = context(sender_profile={"private_values": {}})
    bad = run("min_margin", {"issue": "price", "cost_key": "unit_cost", "min_percent": 10}, ctx=ctx)
    assert not bad.passed
    assert "profile lacks the private value 'unit_cost'" in bad.message


def test_sla():
    assert run("sla", {"issue": "delivery_days", "max": 14}).passed
    bad = run("sla", {"issue": "delivery_days", "max": 10})
    assert bad.message == "delivery_days 12 exceeds the SLA of 10"
    low = run("sla", {"issue": "delivery_days", "min": 14, "max": 30})
    assert low.message == "delivery_days 12 is below the SLA minimum of 14"


def test_required_fixed_term():
    ok = run("required_fixed_term", {"term": "governing_law", "value": "DE"})
    assert ok.passed and ok.evidence["offer_hash"] == fixed_terms_digest(FIXED)
    wrong = run("required_fixed_term", {"term": "governing_law", "value": "NY"})
    assert wrong.message == "fixed term governing_law is 'DE', expected 'NY'"
    missing = run("required_fixed_term", {"term": "data_residency"})
    assert (
        missing.message == "fixed term 'data_residency' is missing from the playbook's fixed terms"
    )


def test_required_fixed_term_compares_the_offer_hash():
    tampered = FakeOffer({"price": 1}, fixed_terms_hash=fixed_terms_digest({"governing_law": "NY"}))
    bad = run("required_fixed_term", {"term": "governing_law"}, tampered)
    assert not bad.passed and "fixed terms differ" in bad.message
    unhashed = FakeOffer({"price": 1}, fixed_terms_hash="")
    assert run("required_fixed_term", {"term": "governing_law"}, unhashed).passed


def test_fixed_terms_digest_is_sha256_of_canonical_json():
    import hashlib

    expected = hashlib.sha256('{"a":1,"b":"ü"}'.encode()).hexdigest()
    assert fixed_terms_digest({"b": "ü", "a": 1}) == expected


def test_disclosure_catches_reservation_price_in_rationale():
    params = {"keys": ["reservation_price", "budget_cap"]}
    for written in ("95k", "95,000"):
        bad = run("disclosure", params, offer(rationale=f"we cannot go below {written}"))
        assert not bad.passed
        assert bad.message == f"rationale reveals the sender's reservation_price (as {written!r})"
        assert bad.evidence["private"] is True
        assert bad.evidence["findings"] == [
            {"field": "rationale", "key": "reservation_price", "token": written}
        ]
    assert run("disclosure", params, offer(rationale="12 months warranty, round 3")).passed


def test_disclosure_checks_assumptions_and_text_terms():
    params = {"keys": ["budget_cap"]}
    bad = run("disclosure", params, offer(assumptions=["budget of 120k"], notes="cap 120 000"))
    assert not bad.passed
    assert "assumptions[0] reveals the sender's budget_cap" in bad.message
    assert "terms.notes reveals the sender's budget_cap" in bad.message


def test_disclosure_of_numeric_terms_is_opt_in():
    at_reservation = offer(price=95_000, rationale="final offer: 95,000")
    assert run("disclosure", {"keys": ["reservation_price"]}, at_reservation).passed
    bad = run(
        "disclosure", {"keys": ["reservation_price"], "include_numeric_terms": True}, at_reservation
    )
    assert not bad.passed and "term price reveals the sender's reservation_price" in bad.message


def test_disclosure_of_reservation_utility():
    bad = run("disclosure", {"keys": ["reservation"]}, offer(rationale="anything above 0.4 works"))
    assert not bad.passed and "reservation" in bad.message


def test_approval_threshold():
    ok = run("approval_threshold", {"measure": "value", "above": 100_000})
    assert ok.passed
    bad = run(
        "approval_threshold",
        {"measure": "value", "above": 100_000},
        ctx=context(deal_value=120_000.0),
    )
    assert bad.message == "deal value 120,000 is above the approval threshold of 100,000"
    risky = run("approval_threshold", {"measure": "risk", "above": 0.1})
    assert not risky.passed and risky.message.startswith("deal risk 0.2 is above")


def test_approval_threshold_fails_closed_when_the_measure_is_unknown():
    bad = run(
        "approval_threshold", {"measure": "value", "above": 100_000}, ctx=context(deal_value=None)
    )
    assert not bad.passed and bad.message == "deal value is unknown, so a person must approve"


def test_expression():
    rule = {"expression": "terms.price <= 100000.0 || terms.delivery_days <= 10"}
    ok = run("expression", rule)
    assert ok.passed and ok.evidence["result"] is True
    bad = run(
        "expression", {**rule, "message": "too expensive for a slow delivery"}, offer(price=120_000)
    )
    assert not bad.passed and bad.message == "too expensive for a slow delivery"
    assert bad.evidence["rule"] == rule["expression"] and bad.evidence["result"] is False
    default = run("expression", rule, offer(price=120_000))
    assert default.message == f"rule does not hold: {rule['expression']}"


def test_expression_reading_the_profile_marks_evidence_private():
    result = run("expression", {"expression": "terms.price >= profile.private_values.unit_cost"})
    assert result.passed and result.evidence["private"] is True


def test_broken_expression_fails_closed():
    bad = run("expression", {"expression": "terms.price <"})
    assert not bad.passed and bad.message.startswith("rule cannot be used: syntax error")
    error = run("expression", {"expression": "terms.volume > 1.0"})
    assert not error.passed and error.message.startswith("rule could not be evaluated")


def test_slow_expression_is_cut_and_fails_closed(monkeypatch):
    monkeypatch.setattr(policies, "EXPRESSION_BOUNDS", Bounds(max_steps=2_000))
    items = "[" + ",".join(str(i) for i in range(30)) + "]"
    slow = f"{items}.all(a, {items}.all(b, {items}.all(c, a + b + c >= 0)))"
    result = run("expression", {"expression": slow})
    assert not result.passed
    assert result.message == "rule exceeded its evaluation budget of 2,000 steps"
    assert result.evidence["over_budget"] is True
    assert decide([result]).verdict == "block"


def test_bad_parameters_fail_closed_instead_of_raising():
    bad = run("cap", {"issue": "price"})
    assert not bad.passed and "could not be evaluated" in bad.message


# --- scope and decision -----------------------------------------------------------------------


def test_policies_scoped_to_another_role_are_skipped():
    specs = [
        spec("cap", {"issue": "price", "max": 1}, scope_role="buyer", policy_id=1),
        spec("floor", {"issue": "price", "min": 1}, scope_role="seller", policy_id=2),
        spec("floor", {"issue": "price", "min": 1}, policy_id=3),
    ]
    results = check(offer(), specs, context(sender_role="seller"))
    assert [r.policy_id for r in results] == [2, 3]
    assert [r.policy_id for r in check(offer(), specs, context(sender_role="buyer"))] == [1, 3]


def result(severity, passed, kind="cap", name="p") -> CheckResult:
    return CheckResult(
        1, 1, name, PolicyKind(kind), Severity(severity), passed, f"{name} says no", {}
    )


def test_decide_block_beats_escalate_beats_allow():
    block = result("block", False, name="floor")
    escalate = result("escalate", False, name="sla")
    assert decide([escalate, block]).verdict == "block"
    assert "floor: floor says no" in decide([escalate, block]).reason
    assert decide([escalate, result("block", True)]).verdict == "escalate"
    assert decide([result("block", True), result("escalate", True)]).verdict == "allow"
    assert decide([]).verdict == "allow"


def test_warn_never_stops_an_offer():
    decision = decide([result("warn", False, name="style")])
    assert decision.verdict == "allow"
    assert "style" in decision.reason


def test_approval_threshold_never_stops_an_offer():
    threshold = result("block", False, kind="approval_threshold", name="big deal")
    decision = decide([threshold, result("block", True)])
    assert decision.verdict == "allow"
    assert decision.results[0] is threshold


def test_gate_over_a_real_engine_offer():
    from negotiator.engine.offers import Offer

    real = Offer(
        performative="propose",
        sender="seller",
        terms={"price": 88_000, "delivery_days": 12},
        fixed_terms_hash=fixed_terms_digest(FIXED),
        round=1,
        rationale="our floor is 95k",
    )
    specs = [
        spec("floor", {"issue": "price", "min": 90_000}, policy_id=1),
        spec("disclosure", {"keys": ["reservation_price"]}, policy_id=2),
        spec("required_fixed_term", {"term": "governing_law"}, policy_id=3),
    ]
    decision = decide(check(real, specs, context()))
    assert decision.verdict == "block"
    assert "price 88,000 is below the floor of 90,000" in decision.reason
    assert "reveals the sender's reservation_price" in decision.reason


# --- property: numeric bounds -----------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
)


@given(value=numbers, bound=numbers)
def test_cap_and_floor_pass_iff_within_bound(value, bound):
    the_offer = offer(price=value)
    assert run("cap", {"issue": "price", "max": bound}, the_offer).passed == (value <= bound)
    assert run("floor", {"issue": "price", "min": bound}, the_offer).passed == (value >= bound)


@given(value=numbers, a=numbers, b=numbers)
def test_range_passes_iff_within_bounds(value, a, b):
    low, high = min(a, b), max(a, b)
    passed = run("range", {"issue": "price", "min": low, "max": high}, offer(price=value)).passed
    assert passed == (low <= value <= high)


# --- validation -------------------------------------------------------------------------------


def errors(kind, parameters, **kwargs):
    return validate_parameters(kind, parameters, issues=ISSUES, fixed_terms=FIXED, **kwargs)


def test_valid_parameters_have_no_errors():
    assert errors("cap", {"issue": "price", "max": 100_000}) == []
    assert errors("allowed_values", {"issue": "sla_tier", "values": ["gold"]}) == []
    assert errors("expression", {"expression": "terms.price < 100000", "message": "too much"}) == []
    assert errors("disclosure", {"keys": ["reservation_price"], "tolerance_percent": 2}) == []


def test_validation_errors_for_numbers_and_issues():
    assert errors("cap", {"issue": "price", "max": "abc"}) == [
        ("parameters.max", "expected a number, got 'abc'")
    ]
    assert errors("cap", {"issue": "prise", "max": 1}) == [
        (
            "parameters.issue",
            "unknown issue 'prise'; known: price, delivery_days, warranty_months, sla_tier",
        )
    ]
    assert errors("cap", {"issue": "sla_tier", "max": 1}) == [
        ("parameters.issue", "cap needs a numeric issue; 'sla_tier' is categorical")
    ]
    assert errors("floor", {"issue": "price"}) == [("parameters.min", "floor needs 'min'")]
    assert errors("cap", {"issue": "price", "max": True}) == [
        ("parameters.max", "expected a number, got True")
    ]


def test_validation_errors_for_range_and_sla():
    assert errors("range", {"issue": "price", "min": 100, "max": 50}) == [
        ("parameters.min", "min 100 is greater than max 50")
    ]
    assert errors("sla", {"issue": "delivery_days"}) == [
        ("parameters.max", "sla needs 'max' (and optionally 'min')")
    ]


def test_validation_errors_for_allowed_values():
    assert errors("allowed_values", {"issue": "sla_tier", "values": ["gold", "diamond"]}) == [
        ("parameters.values[1]", "'diamond' is not an option of 'sla_tier'")
    ]
    assert errors("allowed_values", {"issue": "price", "values": [1]}) == [
        (
            "parameters.issue",
            "allowed_values needs a categorical or ordinal issue; 'price' is numeric",
        )
    ]
    assert errors("allowed_values", {"issue": "sla_tier", "values": []}) == [
        ("parameters.values", "expected a non-empty list, got []")
    ]


def test_validation_errors_for_the_other_kinds():
    assert errors("min_margin", {"issue": "price", "cost_key": "unit_cost"}) == [
        ("parameters.min_percent", "min_margin needs 'min_percent'")
    ]
    assert errors("required_fixed_term", {"term": "law"}) == [
        ("parameters.term", "unknown fixed term 'law'; known: governing_law, security_baseline")
    ]
    assert errors("required_fixed_term", {"term": "governing_law", "value": "NY"}) == [
        ("parameters.value", "the playbook fixes governing_law to 'DE', not 'NY'")
    ]
    assert errors("disclosure", {"keys": ["x"], "tolerance_percent": 80}) == [
        ("parameters.tolerance_percent", "expected 0 to 50, got 80")
    ]
    assert errors("approval_threshold", {"measure": "size", "above": 1}) == [
        ("parameters.measure", "expected one of value, risk, got 'size'")
    ]


def test_validation_of_expressions_reports_the_compiler_message():
    [(path, message)] = errors("expression", {"expression": "terms.prise < 1.0"})
    assert path == "parameters.expression" and "unknown field 'terms.prise'" in message
    [(path, message)] = errors("expression", {"expression": "terms.sla_tier > 3"})
    assert "no matching overload" in message
    [(path, message)] = errors("expression", {"expression": "terms.price"})
    assert "must produce true or false" in message


def test_validation_refuses_unknown_keys_and_kinds():
    assert errors("cap", {"issue": "price", "max": 1, "maximum": 2}) == [
        ("parameters.maximum", "unknown parameter 'maximum'; cap takes: issue, max")
    ]
    [(path, message)] = errors("ceiling", {})
    assert path == "kind" and "unknown kind 'ceiling'" in message
    assert errors("cap", ["price"]) == [
        ("parameters", "expected an object of parameters, got ['price']")
    ]


# --- describe and serialisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "parameters", "text"),
    [
        ("cap", {"issue": "price", "max": 100_000}, "price ≤ 100,000"),
        ("floor", {"issue": "price", "min": 90_000}, "price ≥ 90,000"),
        ("range", {"issue": "price", "min": 1, "max": 2.5}, "1 ≤ price ≤ 2.5"),
        (
            "allowed_values",
            {"issue": "sla_tier", "values": ["gold", "platinum"]},
            "sla_tier in {gold, platinum}",
        ),
        ("sla", {"issue": "delivery_days", "max": 10}, "delivery_days ≤ 10"),
        (
            "min_margin",
            {"issue": "price", "cost_key": "unit_cost", "min_percent": 10},
            "price ≥ unit_cost + 10% margin",
        ),
        (
            "required_fixed_term",
            {"term": "governing_law", "value": "DE"},
            "fixed term governing_law = 'DE'",
        ),
        (
            "approval_threshold",
            {"measure": "value", "above": 100_000},
            "deal value > 100,000 needs approval",
        ),
        ("expression", {"expression": "terms.price < 1.0"}, "terms.price < 1.0"),
        (
            "disclosure",
            {"keys": ["reservation_price"]},
            "text must not reveal reservation_price (±1%)",
        ),
    ],
)
def test_describe(kind, parameters, text):
    assert describe(spec(kind, parameters)) == text


def test_policy_spec_round_trips_through_json():
    original = spec(
        "cap", {"issue": "price", "max": 100_000}, severity="escalate", scope_role="buyer"
    )
    data = json.loads(json.dumps(policy_spec_to_dict(original)))
    assert policy_spec_from_dict(data) == original


def test_policy_spec_from_dict_names_the_bad_field():
    data = policy_spec_to_dict(spec("cap", {"issue": "price", "max": 1}))
    with pytest.raises(PolicyError, match="kind: unknown kind 'ceiling'"):
        policy_spec_from_dict({**data, "kind": "ceiling"})
    with pytest.raises(PolicyError, match="severity"):
        policy_spec_from_dict({**data, "severity": "panic"})
    with pytest.raises(PolicyError, match="missing parameters"):
        policy_spec_from_dict({k: v for k, v in data.items() if k != "parameters"})


def test_check_result_round_trips_through_json():
    original = run("floor", {"issue": "price", "min": 90_000}, offer(price=88_000))
    data = json.loads(json.dumps(check_result_to_dict(original)))
    assert check_result_from_dict(data) == original
