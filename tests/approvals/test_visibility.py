"""Who sees an approval request: its negotiation's team (auditors and superusers:
all), the groups it is routed to and their delegates, and whoever decided it.
Anyone else gets a 404. Seeing is not deciding; an approver outside the team
decides from the request page without seeing the negotiation's own pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from approvals import selectors
from approvals.context_processors import inbox
from approvals.models import Delegation

pytestmark = pytest.mark.django_db


def rf_request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def routed(playbook, groups, make_route, agree, people):
    """A Procurement deal (the fixture playbook's team) waiting for one member of Approvers."""
    make_route()
    negotiation = agree()
    assert negotiation.team == groups["Procurement"]
    return negotiation.approval_requests.get()


def test_an_approver_outside_the_team_decides_what_is_routed_to_their_group(routed, people):
    anna = people["approver"]  # Approvers only, not Procurement
    client = client_for(anna)
    page = client.get(reverse("approvals:detail", args=[routed.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    # Everything needed to decide is on the request page …
    assert "Why this deal needs approval" in text
    assert text.count('<li class="perf-') == routed.negotiation.offers.count()
    # … and the negotiation's own pages stay with its team.
    assert f'href="/negotiations/{routed.negotiation.pk}/"' not in text
    assert client.get(f"/negotiations/{routed.negotiation.pk}/").status_code == 404
    assert inbox(rf_request(anna))["approvals_pending_count"] == 1
    response = client.post(
        reverse("approvals:decide", args=[routed.pk]),
        {"decision": "approve", "comment": "fine"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    routed.refresh_from_db()
    assert routed.status == "approved"


def test_a_team_member_who_is_no_approver_sees_the_request_but_may_not_decide(routed, people):
    paula = people["buyer_owner"]  # Procurement only
    client = client_for(paula)
    page = client.get(reverse("approvals:detail", args=[routed.pk]))
    assert page.status_code == 200
    assert f'href="/negotiations/{routed.negotiation.pk}/"' in page.content.decode()
    response = client.post(reverse("approvals:decide", args=[routed.pk]), {"decision": "approve"})
    assert response.status_code == 403
    assert routed.decisions.count() == 0
    assert inbox(rf_request(paula))["approvals_pending_count"] == 0
    rows = client.get("/approvals/?status=all").context["rows"]
    assert [r.pk for r in rows] == [routed.pk]


def test_anyone_else_gets_404_and_an_empty_inbox(routed, people):
    for who in ("outsider", "director", "colleague"):
        client = client_for(people[who])
        assert client.get(reverse("approvals:detail", args=[routed.pk])).status_code == 404
        response = client.post(
            reverse("approvals:decide", args=[routed.pk]), {"decision": "approve"}
        )
        assert response.status_code == 404
        assert client.get("/approvals/?status=all").context["rows"] == []
        assert inbox(rf_request(people[who]))["approvals_pending_count"] == 0
    assert routed.decisions.count() == 0


def test_a_delegate_sees_and_decides_for_the_approver(routed, people):
    carl = people["colleague"]
    now = timezone.now()
    Delegation.objects.create(
        delegator=people["approver"],
        delegate=carl,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
    )
    client = client_for(carl)
    assert client.get(reverse("approvals:detail", args=[routed.pk])).status_code == 200
    response = client.post(reverse("approvals:decide", args=[routed.pk]), {"decision": "approve"})
    assert response.status_code == 302
    decision = routed.decisions.get()
    assert (decision.user, decision.on_behalf_of) == (carl, people["approver"])


def test_the_escalation_group_and_past_deciders_keep_seeing_it(routed, people, groups):
    route = routed.route
    route.escalation_group = groups["Finance directors"]
    route.save()
    assert (
        client_for(people["director"])
        .get(reverse("approvals:detail", args=[routed.pk]))
        .status_code
        == 200
    )
    people["approver"].groups.remove(groups["Approvers"])
    assert selectors.visible_requests(people["approver"]).filter(pk=routed.pk).count() == 0
    people["approver"].groups.add(groups["Approvers"])
    approver = type(people["approver"]).objects.get(pk=people["approver"].pk)
    client_for(approver).post(
        reverse("approvals:decide", args=[routed.pk]), {"decision": "reject", "comment": "no"}
    )
    approver.groups.remove(groups["Approvers"])
    approver = type(approver).objects.get(pk=approver.pk)
    assert selectors.visible_requests(approver).filter(pk=routed.pk).count() == 1
