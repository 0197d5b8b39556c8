"""CEL rules: compile-time refusal with the compiler's message, bounded evaluation."""

from __future__ import annotations

import pytest

from negotiator.engine.cel import (
    MAX_LENGTH,
    Bounds,
    PolicyError,
    build_activation,
    compile_expression,
)

ISSUES = {
    "price": {"type": "numeric", "min": 50_000, "max": 150_000},
    "delivery_days": {"type": "numeric", "min": 1, "max": 60},
    "sla_tier": {"type": "categorical", "options": ["silver", "gold", "platinum"]},
}
FIXED = {"governing_law": "DE"}


def variables(**terms):
    return build_activation(
        terms=terms or {"price": 95_000, "delivery_days": 12, "sla_tier": "gold"},
        fixed=FIXED,
        profile={"reservation": 0.4, "private_values": {"unit_cost": 80_000}},
        role="seller",
        deal={"value": 95_000.0, "risk": None},
        stage="send",
    )


def refused(expression: str, **kwargs) -> str:
    with pytest.raises(PolicyError) as info:
        compile_expression(expression, issues=ISSUES, fixed_terms=FIXED, **kwargs)
    return str(info.value)


def test_a_valid_rule_compiles_and_evaluates():
    rule = compile_expression(
        "terms.price <= 100000.0 || terms.delivery_days <= 10", issues=ISSUES, fixed_terms=FIXED
    )
    assert rule.evaluate(variables(price=95_000, delivery_days=12)).passed
    assert not rule.evaluate(variables(price=120_000, delivery_days=12)).passed
    assert rule.evaluate(variables(price=120_000, delivery_days=10)).passed


def test_numbers_are_doubles_so_int_and_float_terms_behave_alike():
    rule = compile_expression("terms.price < 100000 && terms.delivery_days == 10")
    assert rule.evaluate(variables(price=95_000, delivery_days=10)).passed
    assert rule.evaluate(variables(price=95_000.0, delivery_days=10.0)).passed
    assert not rule.evaluate(variables(price=100_000, delivery_days=10)).passed


def test_rules_read_fixed_terms_profile_role_deal_and_stage():
    rule = compile_expression(
        "fixed.governing_law == 'DE' && role == 'seller' && stage == 'send' && "
        "deal.value > 1.0 && !has(deal.risk) && "
        "terms.price >= profile.private_values.unit_cost * 1.1",
        issues=ISSUES,
        fixed_terms=FIXED,
    )
    assert rule.uses_profile
    assert rule.evaluate(variables()).passed


def test_syntax_error_is_refused_with_the_parser_message():
    message = refused("terms.price <")
    assert message.startswith("syntax error")
    assert "terms.price <" in message


def test_unknown_issue_is_refused_naming_the_known_ones():
    message = refused("terms.prise <= 100000.0")
    assert "unknown field 'terms.prise'" in message
    assert "price, delivery_days, sla_tier" in message


def test_unknown_field_is_refused_even_when_short_circuited():
    assert "terms.prise" in refused("true || terms.prise > 1.0")


def test_unknown_fixed_term_deal_field_and_private_value_are_refused():
    assert "fixed.law" in refused("fixed.law == 'DE'")
    assert "deal.size" in refused("deal.size > 1.0")
    assert "profile.private_values.margin" in refused(
        "profile.private_values.margin > 1.0", private_value_keys=["unit_cost"]
    )


def test_unknown_variable_and_function_are_refused():
    assert "unknown variable 'price'" in refused("price > 1.0")
    assert "unknown function 'eval'" in refused("eval('x')")
    assert "unknown method 'exec'" in refused("'x'.exec()")


def test_wrong_type_comparison_is_refused_with_the_evaluator_message():
    message = refused("terms.sla_tier > 3")
    assert "no matching overload" in message
    assert "string" in message


def test_non_boolean_result_is_refused():
    message = refused("terms.price + 1.0")
    assert "must produce true or false" in message
    assert "double" in message


def test_huge_expression_is_refused_before_parsing():
    expression = " || ".join(["terms.price > 1.0"] * 200)
    assert len(expression) > MAX_LENGTH
    assert "characters long; the limit is 2,000" in refused(expression)


def test_too_many_nodes_or_levels_are_refused():
    with pytest.raises(PolicyError, match="too complex"):
        compile_expression("1 < 2 && 2 < 3", bounds=Bounds(max_nodes=10))
    deep = "(" * 40 + "true" + ")" * 40
    with pytest.raises(PolicyError, match="nested too deeply"):
        compile_expression(deep)


def _slow_rule() -> str:
    items = "[" + ",".join(str(i) for i in range(30)) + "]"
    return f"{items}.all(a, {items}.all(b, {items}.all(c, {items}.all(d, a + b + c + d >= 0))))"


def test_a_long_rule_is_cut_by_its_budget_and_fails_closed():
    expression = _slow_rule()
    assert len(expression) < MAX_LENGTH  # within the size cap: only the budget can stop it
    rule = compile_expression(expression)
    # 30^4 combinations; the step budget (not the clock) stops it, so the verdict
    # is the same on a busy machine (how long that takes is a benchmark's business).
    outcome = rule.evaluate(variables())
    assert not outcome.passed
    assert outcome.over_budget
    assert outcome.error == "rule exceeded its evaluation budget of 20,000 steps"


def test_the_verdict_does_not_depend_on_time():
    """Budgets count steps, never the clock: the same rule on the same offer gives
    the same verdict however slow the machine (here: evaluated while time runs at
    a hundredth of its speed would make any wall-clock limit fire)."""
    rule = compile_expression(_slow_rule())
    outcomes = {rule.evaluate(variables()).error for _ in range(3)}
    assert outcomes == {"rule exceeded its evaluation budget of 20,000 steps"}
    fast = compile_expression("terms.price <= 100000.0")
    assert all(fast.evaluate(variables()).passed for _ in range(3))


def test_building_large_collections_costs_budget():
    items = "[" + ",".join(str(i) for i in range(150)) + "]"
    rule = compile_expression(f"{items}.map(x, {items}).size() > 0")
    outcome = rule.evaluate(variables())
    assert outcome.over_budget and not outcome.passed


def test_step_budget_stops_a_long_rule_deterministically():
    rule = compile_expression(_slow_rule())
    outcome = rule.evaluate(variables(), bounds=Bounds(max_steps=5_000))
    assert outcome.over_budget and not outcome.passed
    assert outcome.error == "rule exceeded its evaluation budget of 5,000 steps"


def test_growing_collections_are_stopped():
    # Each level doubles the list; without the size bound this would exhaust memory.
    expression = (
        "[[1,2,3,4,5,6,7,8]]"
        + "".join(f".map(x{i}, x{i} + x{i})" for i in range(20))
        + ".size() > 0"
    )
    rule = compile_expression(expression)
    outcome = rule.evaluate(variables())
    assert not outcome.passed
    assert "longer than 10,000 items" in outcome.error


def test_runtime_error_fails_closed_with_a_message():
    rule = compile_expression("terms.missing > 1.0")
    outcome = rule.evaluate(variables())
    assert not outcome.passed
    assert "missing" in outcome.error


def test_compiled_rules_are_cached_by_text():
    first = compile_expression("terms.price > 1.0")
    assert compile_expression("terms.price > 1.0") is first


def test_regex_matches_is_allowed_and_linear():
    rule = compile_expression("fixed.governing_law.matches('^D[A-Z]$')")
    assert rule.evaluate(variables()).passed
