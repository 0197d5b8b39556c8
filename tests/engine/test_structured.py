"""Allocation and time-window issues: their flat issues, the nested plan view, and
CEL rules that address allocation items and windows."""

from __future__ import annotations

import pytest

from negotiator.engine.cel import PolicyError, build_activation, compile_expression
from negotiator.engine.offers import Offer, validate_offer
from negotiator.engine.outcomes import OutcomeSpace, fixed_terms_hash, issue_from_dict
from negotiator.engine.structured import (
    flat_issue_dicts,
    flat_terms,
    nested_view,
    plan_view,
    structured_list,
)

ITEMS = structured_list(
    [
        {
            "type": "allocation",
            "name": "spend",
            "unit": "USD",
            "step": 10,
            "items": [
                {"name": "tv", "lower": 0, "upper": 50},
                {"name": "web", "lower": 10, "upper": 40},
            ],
            "total": {"max": 60},
        },
        {
            "type": "window",
            "name": "flight",
            "items": ["tv", "web"],
            "horizon": 10,
            "start": {"lower": 1, "upper": 5},
            "length": {"lower": 2, "upper": 4},
        },
    ]
)
SPACE = OutcomeSpace(tuple(issue_from_dict(i) for i in flat_issue_dicts(ITEMS)))
TERMS = {
    "spend__tv": 30,
    "spend__web": 20,
    "flight__tv__start": 2,
    "flight__tv__length": 3,
    "flight__web__start": 4,
    "flight__web__length": 2,
}


def test_structured_issues_flatten_into_numeric_issues_on_their_grids():
    assert SPACE.names == tuple(TERMS)
    assert SPACE.issue("spend__web").values == (10, 20, 30, 40)
    assert SPACE.issue("flight__tv__length").values == (2, 3, 4)


def test_the_plan_view_groups_items_with_totals_and_window_ends():
    view = plan_view(TERMS, ITEMS)
    assert view["spend"] == {"tv": 30, "web": 20, "total": 50}
    assert view["flight"]["tv"] == {"start": 2, "length": 3, "end": 4}
    assert flat_terms(view, ITEMS) == TERMS
    assert nested_view(TERMS) == view


def test_an_offer_over_structured_issues_validates_like_any_offer():
    offer = Offer("propose", "budget", TERMS, fixed_terms_hash({}), 0)
    validate_offer(offer, SPACE, {})
    off_grid = Offer("propose", "budget", TERMS | {"spend__web": 25}, fixed_terms_hash({}), 0)
    with pytest.raises(ValueError, match="not on step 10"):
        validate_offer(off_grid, SPACE, {})


def test_cel_rules_address_allocation_items_totals_and_windows():
    issues = {i.name: "numeric" for i in SPACE.issues}
    rule = compile_expression(
        "plan.spend.total <= 60.0 && plan.flight.web.end <= 10.0 && plan.spend.tv >= 10.0",
        issues=issues,
    )
    assert rule.evaluate(build_activation(terms=TERMS)).passed
    over = TERMS | {"spend__tv": 50}
    assert not rule.evaluate(build_activation(terms=over)).passed


def test_a_cel_rule_naming_an_unknown_allocation_is_refused():
    issues = {i.name: "numeric" for i in SPACE.issues}
    with pytest.raises(PolicyError, match="no allocation or window named 'budget'"):
        compile_expression("plan.budget.total <= 1.0", issues=issues)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"type": "allocation", "name": "a", "items": []}, "non-empty list"),
        (
            {
                "type": "window",
                "name": "w",
                "items": ["x"],
                "start": {"lower": 1, "upper": 2},
                "length": {"lower": 0, "upper": 2},
                "horizon": 3,
            },
            "at least 1",
        ),
        ({"type": "queue", "name": "q"}, "unknown type"),
        ({"type": "allocation", "name": "a__b", "items": ["x"]}, "identifier"),
    ],
)
def test_malformed_structured_issues_are_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        structured_list([bad])
