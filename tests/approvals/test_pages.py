"""The inbox, the request page, the nav badge, metrics and the route admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import selectors
from approvals.models import ApprovalRequest, ApprovalRoute
from approvals.services.decisions import approval_decide
from approvals.services.expiry import approvals_process_due

HTMX = {"HX-Request": "true"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_inbox_lists_due_soon_first_and_highlights_overdue(agree, make_route, people):
    make_route()
    first = agree(seed=1).approval_requests.get()
    second = agree(seed=2).approval_requests.get()
    ApprovalRequest.objects.filter(pk=second.pk).update(due_at=timezone.now() - timedelta(hours=1))
    response = client_for(people["approver"]).get(reverse("approvals:inbox"))
    assert [r.pk for r in response.context["rows"]] == [second.pk, first.pk]
    body = response.content.decode()
    assert f'<tr class="overdue" data-request="{second.pk}">' in body
    assert f'<tr class="" data-request="{first.pk}">' in body


def test_inbox_is_empty_for_people_outside_the_group_and_for_the_initiator(pending, people):
    for who in ("outsider", "initiator", "director"):
        response = client_for(people[who]).get(reverse("approvals:inbox"))
        assert response.status_code == 200
        assert response.context["rows"] == []
        assert "Nothing waits for you" in response.content.decode()


def test_inbox_filters_and_htmx_partials(pending, people, playbook):
    client = client_for(people["approver"])
    route = ApprovalRoute.objects.get()
    url = reverse("approvals:inbox")
    assert len(client.get(url, {"route": route.pk}).context["rows"]) == 1
    assert client.get(url, {"route": route.pk + 99}).context["rows"] == []
    assert len(client.get(url, {"playbook": playbook.pk}).context["rows"]) == 1
    assert client.get(url, {"status": "approved"}).context["rows"] == []
    # Nonsense never breaks the page.
    assert client.get(url, {"status": "x", "route": "abc", "days": "-4"}).status_code == 200
    partial = client.get(url, {"status": "all"}, headers={**HTMX, "HX-Target": "inbox-table"})
    assert partial.content.decode().lstrip().startswith('<div id="inbox-table"')
    metrics = client.get(url, {"days": "7"}, headers={**HTMX, "HX-Target": "metrics"})
    assert metrics.content.decode().lstrip().startswith('<section class="card" id="metrics"')


def test_nav_badge_counts_requests_waiting_for_me(pending, people, rf):
    from approvals.context_processors import inbox

    request = rf.get("/")
    request.user = people["approver"]
    assert inbox(request)["approvals_pending_count"] == 1
    request.user = people["initiator"]
    assert inbox(request)["approvals_pending_count"] == 0
    approval_decide(request=pending, user=people["approver"], decision="approve")
    request.user = people["approver2"]
    assert inbox(request)["approvals_pending_count"] == 0


def test_request_page_explains_why_and_shows_the_timeline(pending, people):
    page = client_for(people["approver"]).get(reverse("approvals:detail", args=[pending.pk]))
    body = page.content.decode()
    assert "Why this deal needs approval" in body
    assert "Large deals" in body and "deal value &gt; 90,000" in body
    assert "Large orders need approval" in body  # the failed approval-threshold check
    assert "above the approval threshold" in body
    assert body.count('<li class="perf-') == pending.negotiation.offers.count()
    assert 'hx-confirm="Reject this deal?' in body
    assert "hx-post" in body


def test_private_limits_are_shown_only_to_owners_auditors_and_admins(pending, people, groups):
    url = reverse("approvals:detail", args=[pending.pk])
    # An approver sees the agreed terms but no party's private values.
    body = client_for(people["approver"]).get(url).content.decode()
    assert "Reservation price" not in body and "Budget cap" not in body
    # ... and is told why, and who sees them.
    assert "Hidden: Buyer&#x27;s limits are private to Procurement, Auditors and admins" in body
    assert 'id="no-outcome-chart"' in body and 'id="outcome-chart"' not in body
    # The buyer's owners see the buyer's limits (labelled, with the currency), not the supplier's.
    owner = people["buyer_owner"]
    owner.groups.add(groups["Approvers"])
    body = client_for(owner).get(url).content.decode()
    assert "<dt>Budget cap</dt><dd>115,000 USD</dd>" in body
    assert "Unit cost" not in body
    for who in ("auditor", "admin"):
        body = client_for(people[who]).get(url).content.decode()
        assert "Budget cap" in body and "<dt>Unit cost</dt><dd>78,000 USD</dd>" in body


def test_a_route_may_show_the_limits_to_its_approvers(pending, people):
    url = reverse("approvals:detail", args=[pending.pk])
    ApprovalRoute.objects.filter(pk=pending.route_id).update(approvers_see_limits=True)
    body = client_for(people["approver"]).get(url).content.decode()
    assert "<dt>Budget cap</dt><dd>115,000 USD</dd>" in body
    assert "<dt>Unit cost</dt><dd>78,000 USD</dd>" in body
    assert "Hidden:" not in body
    # With both profiles visible, the approver gets the outcome chart too.
    assert 'id="outcome-chart"' in body and 'id="agreement-quality"' in body
    # Only for those who may decide it: the initiator (who may not approve it) does not.
    body = client_for(people["initiator"]).get(url).content.decode()
    assert "Budget cap" not in body and "Hidden:" in body


def test_the_inbox_searches_sorts_and_shows_the_negotiation_and_currency(agree, make_route, people):
    make_route()
    first = agree(seed=1).approval_requests.get()
    second = agree(seed=2).approval_requests.get()
    client = client_for(people["approver"])
    url = reverse("approvals:inbox")
    body = client.get(url).content.decode()
    n = first.negotiation
    assert f"<strong>#{n.pk}</strong> {n.title}" in body
    assert f"{first.deal_value:,.0f} USD" in body
    rows = client.get(url, {"q": n.title}).context["rows"]
    assert [r.pk for r in rows] == [first.pk]
    # '#<n>' finds the negotiation (or the request) with that number.
    assert first.pk in [r.pk for r in client.get(url, {"q": f"#{n.pk}"}).context["rows"]]
    assert client.get(url, {"q": "no such thing"}).context["rows"] == []
    by_value = [r.pk for r in client.get(url, {"sort": "-value"}).context["rows"]]
    expected = sorted([first, second], key=lambda r: (-r.deal_value, -r.pk))
    assert by_value == [r.pk for r in expected]
    assert client.get(url, {"sort": "nonsense"}).status_code == 200


def test_bulk_approve_decides_each_request_on_its_own(agree, make_route, people):
    from negotiator.audit import audit_verify_chain, chain_of

    make_route(approvers_required=2)
    first = agree(seed=1).approval_requests.get()
    second = agree(seed=2).approval_requests.get()
    url = reverse("approvals:bulk_decide")
    client = client_for(people["approver"])
    response = client.post(url, {"requests": [first.pk, second.pk], "decision": "approve"})
    assert response.status_code == 200
    assert [ok for _, ok, _ in response.context["bulk_results"]] == [True, True]
    # Four eyes: one approval each, still pending; the same person again is refused.
    for request in (first, second):
        request.refresh_from_db()
        assert request.status == "pending" and request.decisions.count() == 1
        assert audit_verify_chain(chain_of(request.negotiation)).ok
        assert request.negotiation.audit_events.filter(kind="approval.decided").count() == 1
    again = client.post(url, {"requests": [first.pk], "decision": "approve"})
    assert [ok for _, ok, _ in again.context["bulk_results"]] == [False]
    # The initiator's own deals are not theirs to decide: refused one by one.
    mine = client_for(people["initiator"]).post(
        url, {"requests": [first.pk], "decision": "approve"}
    )
    assert [ok for _, ok, _ in mine.context["bulk_results"]] == [False]
    assert first.decisions.count() == 1
    # A second person completes both; rejecting needs a comment.
    other = client_for(people["approver2"])
    refused = other.post(url, {"requests": [first.pk], "decision": "reject"})
    assert refused.status_code == 400 and "Say why you are rejecting" in refused.content.decode()
    other.post(url, {"requests": [first.pk, second.pk], "decision": "approve"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("approved", "approved")


def test_decided_requests_show_who_decided_what_and_when(pending, people):
    approval_decide(
        request=pending, user=people["approver"], decision="approve", comment="within budget"
    )
    body = (
        client_for(people["approver2"])
        .get(reverse("approvals:detail", args=[pending.pk]))
        .content.decode()
    )
    assert "anna" in body and "within budget" in body and "Approved" in body
    assert 'name="decision"' not in body


def test_metrics_median_rate_and_expired_per_route(agree, make_route, people):
    make_route()
    approved = agree(seed=1).approval_requests.get()
    rejected = agree(seed=2).approval_requests.get()
    expired = agree(seed=3).approval_requests.get()
    approval_decide(request=approved, user=people["approver"], decision="approve")
    approval_decide(request=rejected, user=people["approver"], decision="reject", comment="no")
    approvals_process_due(now=expired.due_at + timedelta(minutes=1))
    total, per_route = selectors.approval_metrics(user=people["approver"], days=7)
    assert (total.opened, total.approved, total.rejected, total.expired) == (3, 1, 1, 1)
    assert total.approval_rate == pytest.approx(1 / 3)
    assert total.median_hours is not None and total.median_hours < 1
    assert [m.route for m in per_route] == ["Large deals"]
    page = client_for(people["approver"]).get(reverse("approvals:inbox"), {"days": 90})
    assert "33%" in page.content.decode()
    old = timezone.now() + timedelta(days=8)
    assert selectors.approval_metrics(user=people["approver"], days=7, now=old)[0].opened == 0


# --- admin ------------------------------------------------------------------------------------


def route_form(groups, **overrides):
    data = {
        "name": "CEL route",
        "description": "",
        "active": "on",
        "order": "10",
        "decision": "person",
        "condition_kind": "expression",
        "threshold": "",
        "playbook": "",
        "expression": "terms.price > 100000.0",
        "approver_group": str(groups["Approvers"].pk),
        "approvers_required": "2",
        "sla_hours": "24",
        "on_expiry": "expire",
        "escalation_group": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"expression": "terms.price >"}, "syntax error"),
        ({"expression": "nope.price > 1.0"}, "unknown variable"),
        ({"expression": "profile.reservation > 0.1"}, "cannot read"),
        ({"condition_kind": "deal_value_above"}, "Give the threshold"),
        ({"condition_kind": "risk_above", "threshold": "3"}, "between 0 and 1"),
        ({"condition_kind": "playbook"}, "Choose the playbook"),
        ({"on_expiry": "escalate"}, "Choose who decides"),
    ],
)
def test_route_admin_refuses_bad_conditions_and_saves_nothing(
    admin_client, groups, overrides, message
):
    response = admin_client.post(
        reverse("admin:approvals_approvalroute_add"), route_form(groups, **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApprovalRoute.objects.exists()


def test_route_admin_saves_a_good_route_and_clears_unused_fields(admin_client, groups):
    response = admin_client.post(
        reverse("admin:approvals_approvalroute_add"), route_form(groups, threshold="5")
    )
    assert response.status_code == 302
    route = ApprovalRoute.objects.get()
    assert route.expression == "terms.price > 100000.0"
    assert route.threshold is None
    assert route.approvers_required == 2


def test_requests_and_decisions_are_read_only_in_admin(admin_client, pending):
    assert (
        admin_client.get(reverse("admin:approvals_approvalrequest_changelist")).status_code == 200
    )
    assert admin_client.get(reverse("admin:approvals_approvalrequest_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:approvals_approvalrequest_change", args=[pending.pk]), {"status": "approved"}
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"
