"""The approval gate fails closed: which agreements need a person, who decides,
and the only way a deal is approved without one (a route that says so, for a
deal that passed every policy)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.models import Policy, PolicyCheck


def kinds(negotiation):
    return list(negotiation.audit_events.order_by("seq").values_list("kind", flat=True))


def last_status_event(negotiation):
    return negotiation.audit_events.filter(kind="negotiation.status_changed").order_by("seq").last()


def thresholds_off():
    """The fixture's threshold (above 95,000) fails every deal; without it a deal is clean."""
    Policy.objects.filter(kind="approval_threshold").update(active=False)


# --------------------------------------------------------------------------
# Nothing takes the deal: a default route, else a person (never approval)
# --------------------------------------------------------------------------


def test_a_failed_threshold_matching_no_route_goes_to_the_default_route(agree, make_route, groups):
    make_route(name="Small deals", threshold=150000)  # the deal (115,000) is below it
    default = make_route(
        name="Everything else",
        condition_kind="always",
        threshold=None,
        is_default=True,
        approver_group=groups["Finance directors"],
        sla_hours=6,
    )
    negotiation = agree()
    assert negotiation.status == "pending_approval"
    request = negotiation.approval_requests.get()
    assert request.route == default
    assert request.approver_group == groups["Finance directors"]
    assert request.reasons["rule"] == "default-route"
    (route,) = request.reasons["routes"]
    assert route["default"] is True
    assert route["matched"]["why"] == "it failed Large orders need approval"
    assert [r["policy"] for r in request.reasons["policy_results"]] == [
        "Large orders need approval"
    ]
    requested = negotiation.audit_events.get(kind="approval.requested")
    assert requested.payload["rule"] == "default-route"
    event = last_status_event(negotiation)
    assert event.payload["rule"] == "default-route"
    assert event.payload["to"] == "pending_approval"
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_without_a_route_or_a_default_route_the_negotiation_escalates_saying_so(agree, make_route):
    make_route(threshold=150000)  # does not match
    negotiation = agree()
    assert negotiation.status == "escalated"
    assert not negotiation.approval_requests.exists()
    assert negotiation.plan is None
    assert negotiation.outcome_reason == (
        "no approval route takes this agreement and there is no default route "
        "(it failed Large orders need approval): a person decides; an admin can add a "
        "default route"
    )
    event = last_status_event(negotiation)
    assert event.payload["rule"] == "no-route"
    assert event.payload["to"] == "escalated"


def test_a_clean_deal_without_a_route_is_not_approved_either(agree):
    thresholds_off()
    negotiation = agree()
    assert negotiation.status == "escalated"
    assert "no route approves it automatically" in negotiation.outcome_reason
    assert last_status_event(negotiation).payload["rule"] == "no-route"


def test_an_inactive_default_route_is_no_default(agree, make_route):
    make_route(condition_kind="always", threshold=None, is_default=True, active=False)
    assert agree().status == "escalated"


# --------------------------------------------------------------------------
# Automatic approval: only by a route that says so, only for a clean deal
# --------------------------------------------------------------------------


def test_an_auto_approve_route_approves_a_clean_deal_and_the_trail_names_it(agree, make_route):
    thresholds_off()
    make_route(
        name="Small clean deals",
        condition_kind="expression",
        expression="deal.value <= 120000.0",
        threshold=None,
        decision="auto",
        approver_group=None,
    )
    negotiation = agree()
    assert negotiation.status == "approved"
    assert not negotiation.approval_requests.exists()
    assert negotiation.plan is not None
    event = last_status_event(negotiation)
    assert event.payload["rule"] == "auto-approve-route"
    assert event.payload["route"] == "Small clean deals"
    assert negotiation.outcome_reason == (
        "approved automatically by the route 'Small clean deals': the deal passed every policy"
    )
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_an_auto_approve_route_never_approves_a_deal_with_a_failed_check(agree, make_route, groups):
    # The threshold (above 95,000) fails for the 115,000 deal.
    make_route(name="Auto", condition_kind="always", threshold=None, decision="auto", order=1)
    default = make_route(
        name="Default", condition_kind="always", threshold=None, is_default=True, order=99
    )
    negotiation = agree()
    assert negotiation.status == "pending_approval"
    request = negotiation.approval_requests.get()
    assert request.route == default
    assert request.reasons["routes"][0]["matched"]["why"] == (
        "it failed Large orders need approval"
    )


def test_a_failed_warning_on_the_agreed_terms_forbids_automatic_approval(
    agree, make_route, playbook
):
    from negotiator.services.policies import policy_save

    thresholds_off()
    policy_save(
        policy=Policy(
            name="Prefer long warranties",
            category="operational",
            scope="playbook",
            playbook=playbook,
            kind="expression",
            parameters={"expression": "terms.warranty_months >= 100.0"},
            severity="warn",
        )
    )
    make_route(name="Auto", condition_kind="always", threshold=None, decision="auto")
    negotiation = agree()
    assert negotiation.status == "escalated"
    assert "it failed Prefer long warranties" in negotiation.outcome_reason


def test_an_escalate_check_anywhere_forbids_automatic_approval(agree, make_route, playbook):
    """A deal is clean only if no escalate-severity check failed in the whole negotiation."""
    from approvals.services.gate import agreement_checks, approval_gate_route
    from negotiator.services.policies import policy_save

    thresholds_off()
    make_route(name="Auto", condition_kind="always", threshold=None, decision="auto")
    negotiation = agree()
    assert negotiation.status == "approved"
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
    PolicyCheck.objects.create(
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
    checks = agreement_checks(negotiation)
    assert not checks.clean and checks.needs_person
    verdict = approval_gate_route(negotiation=negotiation)
    assert (verdict.outcome, verdict.rule) == ("escalated", "no-route")


def test_the_lowest_order_route_leads_auto_before_a_person(agree, make_route):
    thresholds_off()
    make_route(name="Person later", condition_kind="always", threshold=None, order=20)
    make_route(name="Auto first", condition_kind="always", threshold=None, decision="auto", order=5)
    negotiation = agree()
    assert negotiation.status == "approved"
    assert last_status_event(negotiation).payload["route"] == "Auto first"


def test_a_person_route_before_an_auto_route_leads(agree, make_route):
    thresholds_off()
    make_route(name="Person first", condition_kind="always", threshold=None, order=5)
    make_route(
        name="Auto later", condition_kind="always", threshold=None, decision="auto", order=20
    )
    negotiation = agree()
    assert negotiation.status == "pending_approval"
    assert negotiation.approval_requests.get().route.name == "Person first"


def test_an_auto_route_that_cannot_tell_whether_it_applies_does_not_approve(agree, make_route):
    thresholds_off()
    # The playbook has no risk expression: the deal's risk is unknown.
    make_route(
        name="Low risk", condition_kind="expression", expression="deal.risk < 0.5",
        threshold=None, decision="auto",
    )  # fmt: skip
    negotiation = agree()
    assert negotiation.status == "escalated"
    assert "the route 'Low risk' could not tell whether it applies" in negotiation.outcome_reason


# --------------------------------------------------------------------------
# Routes where a person decides (as before)
# --------------------------------------------------------------------------


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
    # the playbook's deal value is the agreed price, here above the route's threshold
    assert route["matched"] == {
        "deal_value": float(negotiation.agreed_terms["price"]),
        "threshold": 90000.0,
    }
    assert route["matched"]["deal_value"] > 90000.0
    assert request.reasons["rule"] == "matching-route"
    window = (request.due_at - request.window_started_at).total_seconds()
    assert window == pytest.approx(8 * 3600)
    # The failed approval-threshold check of the agreed offer is part of the why.
    assert any(r["kind"] == "approval_threshold" for r in request.reasons["policy_results"])
    assert kinds(negotiation)[-2:] == ["approval.requested", "negotiation.status_changed"]
    assert last_status_event(negotiation).payload["rule"] == "matching-route"
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
        ({"condition_kind": "always", "threshold": None}, True),
    ],
)
def test_route_condition_kinds(agree, make_route, overrides, matches):
    make_route(**overrides)
    negotiation = agree()
    assert negotiation.approval_requests.exists() is matches
    # A deal no route takes is never approved: it waits for a person.
    assert negotiation.status == ("pending_approval" if matches else "escalated")


def test_a_route_for_the_playbook_matches_only_that_playbook(agree, make_route, playbook):
    from negotiator.models import Playbook

    other = Playbook.objects.create(name="Other")
    make_route(condition_kind="playbook", playbook=other, threshold=None)
    assert agree(seed=1).status == "escalated"
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
    from negotiator.services.policies import policy_save

    negotiation = agree()  # no routes yet: escalated to a person
    assert negotiation.status == "escalated"
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


# --------------------------------------------------------------------------
# Configuring routes: the default route in admin, and the system check
# --------------------------------------------------------------------------


def _route_form(groups, **data):
    from approvals.admin import ApprovalRouteForm

    values = {
        "name": "A route",
        "active": "on",
        "order": "10",
        "decision": "person",
        "condition_kind": "always",
        "approver_group": str(groups["Approvers"].pk),
        "approvers_required": "1",
        "sla_hours": "24",
        "on_expiry": "expire",
    }
    values.update(data)
    return ApprovalRouteForm({k: v for k, v in values.items() if v is not None})


def test_admin_allows_one_default_route_where_a_person_decides_every_deal(groups, make_route):
    assert _route_form(groups, is_default="on").is_valid()
    auto = _route_form(groups, is_default="on", decision="auto")
    assert not auto.is_valid()
    assert auto.errors["is_default"] == [
        "The default route sends deals to a person; it cannot approve."
    ]
    conditional = _route_form(groups, is_default="on", condition_kind="playbook", playbook="")
    assert not conditional.is_valid()
    assert "choose 'Every agreement'" in conditional.errors["condition_kind"][0]
    make_route(name="The default", condition_kind="always", threshold=None, is_default=True)
    second = _route_form(groups, name="Another default", is_default="on")
    assert not second.is_valid()
    assert second.errors["is_default"] == [
        "'The default' is the default route; untick it there first."
    ]


def test_admin_route_where_a_person_decides_needs_a_group_and_an_auto_route_does_not(groups):
    person = _route_form(groups, approver_group="")
    assert not person.is_valid()
    assert person.errors["approver_group"] == ["Choose who decides deals on this route."]
    assert _route_form(groups, decision="auto", approver_group="").is_valid()


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf", "1e999"])
def test_admin_route_threshold_refuses_nan_and_infinities(groups, threshold):
    form = _route_form(groups, condition_kind="deal_value_above", threshold=threshold)
    assert not form.is_valid()
    assert "threshold" in form.errors


def test_the_system_check_warns_without_a_default_route(make_route):
    from approvals.checks import default_route_check

    (warning,) = default_route_check(None, databases=["default"])
    assert warning.id == "approvals.W001"
    assert "No default approval route" in warning.msg
    assert default_route_check(None) == []  # only with --database
    make_route(condition_kind="always", threshold=None, is_default=True)
    assert default_route_check(None, databases=["default"]) == []
    out = io.StringIO()
    call_command("check", "--database", "default", stdout=out, stderr=out)
    assert "approvals.W001" not in out.getvalue()
