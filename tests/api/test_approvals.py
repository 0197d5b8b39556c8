"""Approvals through the API follow the inbox's rules: the list is what waits for
the caller; the route's group decides (not the person who started the
negotiation); one decision per person; a decided request is a 409; another
team's request is missing unless it is routed to the caller."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalStatus
from negotiator.models import NegotiationStatus, Policy
from tests.api.conftest import agreed
from tests.api.test_tokens import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(teams):
    return agreed(teams["team_a"], "Valves", user=teams["operator"])


def test_the_list_is_what_waits_for_the_caller(api_as, teams, pending):
    request = pending.approval_requests.get()
    waiting = api_as(teams["approver"]).get("/approvals").json()
    assert waiting["count"] == 1
    [row] = waiting["results"]
    assert row["id"] == request.pk and row["negotiation"]["id"] == pending.pk
    assert row["terms"] == pending.agreed_terms and row["may_decide"] is True
    assert row["currency"] == "USD" and row["approvals_required"] == 1
    # The operator started it, and is no approver: nothing waits for them.
    assert api_as(teams["operator"]).get("/approvals").json()["count"] == 0
    seen = api_as(teams["operator"]).get(f"/approvals/{request.pk}").json()
    assert seen["may_decide"] is False and seen["why_not"]


def test_an_approver_approves_and_the_deal_is_approved_with_its_plan(api_as, teams, pending):
    request = pending.approval_requests.get()
    response = api_as(teams["approver"]).post(
        f"/approvals/{request.pk}/decision", {"decision": "approve", "comment": "Fine."}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    pending.refresh_from_db()
    assert pending.status == NegotiationStatus.APPROVED and pending.plan
    decided = pending.audit_events.get(kind="approval.decided")
    assert decided.user_id == teams["approver"].pk and decided.payload["comment"] == "Fine."
    again = api_as(teams["approver"]).post(
        f"/approvals/{request.pk}/decision", {"decision": "approve"}
    )
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"


def test_request_changes_with_constraints_sends_it_back_under_new_block_policies(
    api_as, teams, pending
):
    request = pending.approval_requests.get()
    response = api_as(teams["approver"]).post(
        f"/approvals/{request.pk}/decision",
        {
            "decision": "request_changes",
            "comment": "Too dear.",
            "constraints": ["price <= 95,000", "delivery_days <= 20"],
        },
    )
    assert response.status_code == 200, response.content
    request.refresh_from_db()
    pending.refresh_from_db()
    assert request.status == ApprovalStatus.CHANGES_REQUESTED
    assert pending.status == NegotiationStatus.RUNNING
    assert Policy.objects.filter(negotiation=pending, severity="block").count() == 2


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"decision": "reject"}, 400, "Say why you are rejecting"),
        (
            {"decision": "request_changes", "comment": "x", "constraints": ["price <= oops"]},
            400,
            "",
        ),
        ({"decision": "approve", "constraints": ["price <= 1"]}, 400, "only be added"),
        ({"decision": "maybe"}, 400, "body.decision"),
        ({"decision": "approve", "comment": "x" * 4001}, 400, "body.comment"),
        ({"decision": "request_changes", "comment": "x", "constraints": ["a\nb"]}, 400, ""),
        ({"decision": "approve", "extra": 1}, 400, "body.extra"),
    ],
)
def test_bad_decisions_are_400_and_change_nothing(api_as, teams, pending, body, status, words):
    request = pending.approval_requests.get()
    response = api_as(teams["approver"]).post(f"/approvals/{request.pk}/decision", body)
    assert response.status_code == status, response.content
    assert words in error_of(response)["message"]
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not request.decisions.exists()


def test_who_may_not_decide_gets_403_and_other_teams_get_404(api_as, teams, pending):
    request = pending.approval_requests.get()
    # The member of the team sees the request but is not in the route's group.
    refused = api_as(teams["member"]).post(
        f"/approvals/{request.pk}/decision", {"decision": "approve"}
    )
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    # Whoever started the negotiation never approves it, even as an approver.
    teams["operator"].groups.add(teams["approver"].groups.get(name="Approvers"))
    starter = api_as(teams["operator"]).post(
        f"/approvals/{request.pk}/decision", {"decision": "approve"}
    )
    assert starter.status_code == 403 and "you cannot approve it" in error_of(starter)["message"]
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING and not request.decisions.exists()


def test_an_approver_outside_the_team_decides_what_is_routed_to_their_group(api_as, teams, pending):
    """olga (Marketing) is an Approver: the request is routed to her group, so she
    sees and decides it, while the negotiation itself stays a 404 for her."""
    request = pending.approval_requests.get()
    olga = api_as(teams["outsider"])
    assert olga.get(f"/negotiations/{pending.pk}").status_code == 404
    assert olga.get(f"/approvals/{request.pk}").status_code == 200
    assert (
        olga.post(f"/approvals/{request.pk}/decision", {"decision": "approve"}).status_code == 200
    )


def test_a_request_routed_elsewhere_is_404_outside_the_team(api_as, teams, pending, client):
    from tests.api.conftest import Api, token_for
    from tests.negotiator.test_views import make_user

    request = pending.approval_requests.get()
    stranger = Api(client, token_for(make_user("stu", "Marketing", "Operators")))
    theirs = stranger.get(f"/approvals/{request.pk}")
    missing = stranger.get("/approvals/987654")
    assert theirs.status_code == missing.status_code == 404
    posted = stranger.post(f"/approvals/{request.pk}/decision", {"decision": "approve"})
    assert posted.status_code == 404
    request.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
