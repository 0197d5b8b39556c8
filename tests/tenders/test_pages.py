"""Tender pages: the list and its start form, the tender page (ladder, screens
with traffic lights, award and why), the home block, the approver's view of the
flags, and the team rule (another team's tender does not exist)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from tenders.models import Tender, TenderStatus
from tenders.services.lifecycle import tender_create
from tests.negotiator.test_views import make_user
from tests.tenders.conftest import RING, run_tender

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged(template, default_route):
    return run_tender(
        tender_create(
            template=template, title="Ring", bidders=RING, overrides={"format": "first_score"}
        )
    )


def test_the_list_shows_tenders_and_an_operator_starts_one(client, template, flagged):
    operator = make_user("olivia", "Operators", "Procurement")
    client.force_login(operator)
    page = client.get(reverse("tenders:list")).content.decode()
    assert "Ring" in page and "flagged" in page and "Start a tender" in page
    response = client.post(
        reverse("tenders:new"),
        {"template": template.pk, "format": "second_score", "title": "Q3 bolts"},
    )
    tender = Tender.objects.get(title="Q3 bolts")
    assert response.status_code == 302 and response.url == reverse(
        "tenders:detail", args=[tender.pk]
    )
    assert tender.status == TenderStatus.RUNNING and tender.config["format"] == "second_score"


def test_a_bad_start_form_changes_nothing(client, template):
    client.force_login(make_user("olivia", "Operators", "Procurement"))
    before = Tender.objects.count()
    for data in ({"template": "x"}, {"template": template.pk, "format": "dutch"}, {}):
        response = client.post(reverse("tenders:new"), data, follow=True)
        assert response.status_code == 200
        assert "Choose a tender playbook" in response.content.decode()
    assert Tender.objects.count() == before


def test_someone_who_is_not_an_operator_cannot_start_a_tender(client, template):
    client.force_login(make_user("paula", "Procurement"))
    assert client.post(reverse("tenders:new"), {"template": template.pk}).status_code == 404
    assert not Tender.objects.exists()


def test_the_tender_page_shows_ladder_screens_and_the_award(client, flagged):
    client.force_login(make_user("mia", "Procurement"))
    page = client.get(reverse("tenders:detail", args=[flagged.pk])).content.decode()
    assert "Bid ladder" in page and "<svg" in page and "bid-line" in page
    assert 'data-screen="shared_owner"' in page and "light-red" in page
    assert "Apex Industrial Supply and Summit Fasteners share an owner" in page
    assert "Award decision" in page and "Approval request #" in page
    assert "Private cost" not in page  # only auditors see the bidders' private costs


def test_an_auditor_sees_private_costs(client, flagged):
    client.force_login(make_user("audrey", "Auditors"))
    page = client.get(reverse("tenders:detail", args=[flagged.pk])).content.decode()
    assert "Private cost" in page and "100,000" in page


def test_a_running_tender_polls_and_the_partial_stops_when_it_closes(client, template):
    client.force_login(make_user("mia", "Procurement"))
    tender = tender_create(template=template, title="Live")
    page = client.get(reverse("tenders:detail", args=[tender.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    run_tender(tender)
    partial = client.get(
        reverse("tenders:detail", args=[tender.pk]), headers={"HX-Request": "true"}
    )
    assert 'id="tender-live"' in partial.content.decode()
    assert "every 2s" not in partial.content.decode()
    assert "<html" not in partial.content.decode()


def test_home_and_the_negotiation_list_show_tenders(client, flagged):
    client.force_login(make_user("mia", "Procurement"))
    for url in (reverse("home"), reverse("negotiation_list")):
        page = client.get(url).content.decode()
        assert "Tenders" in page and "Ring" in page


def test_the_approver_sees_the_screen_flags_in_the_request(client, flagged):
    request = ApprovalRequest.objects.get(negotiation=flagged.award_negotiation)
    client.force_login(make_user("anna", "Approvers", "Procurement"))
    page = client.get(reverse("approvals:detail", args=[request.pk])).content.decode()
    assert "Bid-rigging screens" in page and "Shared owner or contact" in page
    assert reverse("tenders:detail", args=[flagged.pk]) in page


def test_another_teams_tender_does_not_exist(client, flagged):
    client.force_login(make_user("olga", "Marketing", "Operators"))
    assert client.get(reverse("tenders:detail", args=[flagged.pk])).status_code == 404
    assert client.post(reverse("tenders:final", args=[flagged.pk])).status_code == 404
    assert "Ring" not in client.get(reverse("tenders:list")).content.decode()


def test_the_winner_of_an_awarded_tender_goes_to_a_final_negotiation(client, template, auto_route):
    tender = run_tender(tender_create(template=template, title="Clean", seed=1))
    assert tender.status == TenderStatus.AWARDED
    client.force_login(make_user("olivia", "Operators", "Procurement"))
    response = client.post(reverse("tenders:final", args=[tender.pk]))
    tender.refresh_from_db()
    negotiation = tender.final_negotiation
    assert response.url == reverse("negotiation_detail", args=[negotiation.pk])
    assert negotiation.status == "running" and tender.award_supplier in negotiation.title
    cap = negotiation.own_policies.get()
    assert cap.parameters == {"issue": "price", "max": tender.award_terms["price"]}
    again = client.post(reverse("tenders:final", args=[tender.pk]), follow=True)
    assert "already has its final negotiation" in again.content.decode()
