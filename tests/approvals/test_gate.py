"""Opening requests: which agreements need a person, and why."""

from __future__ import annotations

import pytest

from negotiator.audit import audit_verify_chain, chain_of


def kinds(negotiation):
    return list(negotiation.audit_events.order_by("seq").values_list("kind", flat=True))


def test_without_a_matching_route_the_agreement_is_approved_and_the_rule_is_audited(
    agree, make_route
):
    make_route(threshold=150000)  # the deal (104,000) is below it
    negotiation = agree()
    assert negotiation.status == "approved"
    assert not negotiation.approval_requests.exists()
    event = negotiation.audit_events.filter(kind="negotiation.status_changed").last()
    assert event.payload["rule"] == "no-matching-approval-route"
    assert negotiation.plan is not None


def test_a_matching_route_opens_a_request_with_the_values_that_matched(agree, make_route, groups):
    make_route(name="Large deals", threshold=90000, sla_hours=8)
    negotiation = agree()
    assert negotiation.status == "pending_approval"
    request = negotiation.approval_requests.get()
    assert request.status == "pending"
    assert request.approver_group == groups["Approvers"]
    assert request.terms == negotiation.agreed_terms
    assert request.offer_id == negotiation.agreed_offer_id
    (route,) = request.reasons["routes"]
    assert route["name"] == "Large deals"
    assert route["matched"] == {"deal_value": 104000.0, "threshold": 90000.0}
    window = (request.due_at - request.window_started_at).total_seconds()
    assert window == pytest.approx(8 * 3600)
    # The failed approval-threshold check of the agreed offer is part of the why.
    assert any(r["kind"] == "approval_threshold" for r in request.reasons["policy_results"])
    assert kinds(negotiation)[-2:] == ["approval.requested", "negotiation.status_changed"]
    assert audit_verify_chain(chain_of(negotiation)).ok


@pytest.mark.parametrize(
    ("overrides", "matches"),
    [
        ({"condition_kind": "approval_threshold", "threshold": None}, True),
        ({"condition_kind": "expression", "expression": "terms.price > 95000.0"}, True),
        ({"condition_kind": "expression", "expression": "terms.price > 120000.0"}, False),
        ({"condition_kind": "expression", "expression": "deal.value >= 99000.0"}, True),
        ({"condition_kind": "risk_above", "threshold": 0.5}, True),  # risk unknown: fail closed
        ({"condition_kind": "escalate_policy", "threshold": None}, False),
    ],
)
def test_route_condition_kinds(agree, make_route, overrides, matches):
    make_route(**overrides)
    negotiation = agree()
    assert negotiation.approval_requests.exists() is matches
    assert negotiation.status == ("pending_approval" if matches else "approved")


def test_a_route_for_the_playbook_matches_only_that_playbook(agree, make_route, playbook):
    from negotiator.models import Playbook

    other = Playbook.objects.create(name="Other")
    make_route(condition_kind="playbook", playbook=other, threshold=None)
    assert agree(seed=1).status == "approved"
    make_route(name="Components", condition_kind="playbook", playbook=playbook, threshold=None)
    request = agree(seed=2).approval_requests.get()
    assert request.reasons["routes"][0]["matched"] == {"playbook": "Components"}


def test_a_rule_that_cannot_be_evaluated_sends_the_deal_to_a_person(agree, make_route):
    make_route(condition_kind="expression", expression="terms.nope > 1.0", threshold=None)
    request = agree().approval_requests.get()
    assert "error" in request.reasons["routes"][0]["matched"]


def test_several_routes_lowest_order_leads_and_the_strictest_four_eyes_rule_wins(
    agree, make_route, groups
):
    make_route(name="Finance", order=20, approver_group=groups["Finance directors"])
    make_route(name="Large", order=5, approvers_required=2)
    make_route(name="Inactive", order=1, active=False)
    request = agree().approval_requests.get()
    assert request.route.name == "Large"
    assert request.approver_group == groups["Approvers"]
    assert request.approvals_required == 2
    assert [r["name"] for r in request.reasons["routes"]] == ["Large", "Finance"]
    assert set(request.routes.values_list("name", flat=True)) == {"Large", "Finance"}


def test_a_failed_escalate_check_anywhere_in_the_negotiation_matches_that_route(
    agree, make_route, playbook
):
    from approvals.services.gate import approval_routes_match
    from negotiator.models import Policy, PolicyCheck
    from negotiator.services.policies import policy_save

    negotiation = agree()  # no routes yet: approved automatically
    route = make_route(condition_kind="escalate_policy", threshold=None)
    assert approval_routes_match(negotiation=negotiation) == []
    version = policy_save(
        policy=Policy(
            name="Delivery SLA",
            category="operational",
            scope="playbook",
            playbook=playbook,
            kind="sla",
            parameters={"issue": "delivery_days", "max": 20},
            severity="escalate",
        )
    )
    check = PolicyCheck.objects.create(
        negotiation=negotiation,
        policy_version=version,
        round=3,
        sender="seller",
        stage="send",
        terms={"delivery_days": 30},
        passed=False,
        severity="escalate",
        message="delivery_days 30 exceeds the SLA of 20",
    )
    (match,) = approval_routes_match(negotiation=negotiation)
    assert match.route == route
    assert match.values == {"policy_checks": [check.pk]}
