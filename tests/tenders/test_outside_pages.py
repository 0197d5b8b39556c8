"""Pages for outside bidders: the start form invites them and shows their
credentials once; the tender page lists them (revoke, new link); the bid portal
takes a person's bid with errors in place, and opens nothing else."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from negotiator.models import AuditEvent
from tenders.models import BidderCredential, BidderMessage, Tender, TenderBid
from tenders.services import outside
from tenders.services.rounds import tender_run_round
from tests.negotiator.test_views import make_user
from tests.portal.conftest import revoking_after_the_check

pytestmark = pytest.mark.django_db

PERSON = {"supplier": "Harbor Bolt Works", "kind": "person", "name": "Ana", "email": "ana@h.test"}


def _form(template, **rows):
    data = {"template": template.pk, "title": "Q4 bolts"}
    data.update(rows)
    return data


def test_an_operator_invites_outside_bidders_and_sees_their_credentials_once(client, template):
    client.force_login(make_user("olivia", "Operators", "Procurement"))
    response = client.post(
        reverse("tenders:new"),
        _form(
            template,
            **{
                "outside-0-supplier": "Harbor Bolt Works",
                "outside-0-kind": "person",
                "outside-0-name": "Ana",
                "outside-0-email": "ana@h.test",
                "outside-1-supplier": "Quay Fasteners",
                "outside-1-kind": "remote_agent",
            },
        ),
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "shown only this once" in page
    link = re.search(r'value="(http://testserver/tenders/bid/nl_[^"]+)"', page).group(1)
    token = re.search(r'value="(nb_[^"]+)"', page).group(1)
    assert link in mail.outbox[-1].body and mail.outbox[-1].to == ["ana@h.test"]
    tender = Tender.objects.get(title="Q4 bolts")
    detail = client.get(reverse("tenders:detail", args=[tender.pk])).content.decode()
    assert "Outside bidders" in detail and "Quay Fasteners" in detail
    assert token not in detail and link not in detail  # never shown again
    assert "Round 1 is played at" in detail


def test_a_bad_outside_bidder_row_says_why_and_starts_nothing(client, template):
    client.force_login(make_user("olivia", "Operators", "Procurement"))
    response = client.post(
        reverse("tenders:new"),
        _form(template, **{"outside-0-supplier": "Harbor", "outside-0-kind": "person"}),
        follow=True,
    )
    assert "needs a valid e-mail address" in response.content.decode()
    assert not Tender.objects.exists() and not mail.outbox


def test_revoke_and_a_new_link_from_the_tender_page(client, template):
    tender, issued = outside.tender_create_with_outside(
        template=template, base_url="http://testserver", outside=[PERSON], seed=1
    )
    operator = make_user("olivia", "Operators", "Procurement")
    credential = issued[0].credential
    # Someone who may see but not operate the tender cannot revoke.
    client.force_login(make_user("paula", "Procurement"))
    url = reverse("tenders:credential_revoke", args=[tender.pk, credential.pk])
    assert client.post(url).status_code == 404
    client.force_login(operator)
    assert client.post(url).status_code == 302
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    assert Client().get(reverse("tenders:bid", args=[issued[0].secret])).status_code == 404
    new = client.post(reverse("tenders:credential_new", args=[tender.pk, issued[0].bidder.pk]))
    link = re.search(r'value="(http://testserver/tenders/bid/nl_[^"]+)"', new.content.decode())
    assert Client().get(link.group(1)).status_code == 200
    assert BidderCredential.objects.filter(bidder=issued[0].bidder).count() == 2


def _message_id(page) -> str:
    """The bid form's one-time message id."""
    return re.search(r'name="message_id" value="([0-9a-f]{32})"', page.content.decode()).group(1)


@pytest.fixture
def invited(template):
    tender, issued = outside.tender_create_with_outside(
        template=template, base_url="http://testserver", outside=[PERSON], seed=1
    )
    return tender, issued[0].secret


def test_a_person_bids_through_the_link_and_sees_the_result_after_the_round(invited):
    tender, secret = invited
    browser = Client(enforce_csrf_checks=True)
    url = reverse("tenders:bid", args=[secret])
    page = browser.get(url)
    assert page.status_code == 200 and page["X-Robots-Tag"] == "noindex, nofollow"
    html = page.content.decode()
    assert "Bidding is open: round 1" in html and "Harbor Bolt Works" in html
    assert "{#" not in html and "#}" not in html  # no template comment leaks
    message_id = re.search(r'name="message_id" value="([0-9a-f]{32})"', html).group(1)
    csrf = browser.cookies["csrftoken"].value
    form = {
        "csrfmiddlewaretoken": csrf,
        "message_id": message_id,
        "term_price": "141000",
        "term_delivery_days": "20",
        "term_warranty_months": "24",
    }
    sent = browser.post(url, form)
    assert sent.status_code == 302 and sent.url.endswith("?sent=1")
    again = browser.post(url, form)  # the same form twice is one bid
    assert again.status_code == 302
    assert BidderMessage.objects.count() == 1
    assert "Your bid is in" in browser.get(sent.url).content.decode()
    tender_run_round(tender_id=tender.pk, round_number=0)
    html = browser.get(url).content.decode()
    assert "Your bid in round 1 stands." in html
    assert TenderBid.objects.filter(bidder__supplier__name="Harbor Bolt Works").count() == 1
    assert AuditEvent.objects.filter(kind="tender.credential_used").count() >= 4


def test_a_bad_bid_shows_its_error_next_to_the_term_and_changes_nothing(invited):
    tender, secret = invited
    url = reverse("tenders:bid", args=[secret])
    browser = Client()
    message_id = _message_id(browser.get(url))
    response = browser.post(
        url,
        {
            "message_id": message_id,
            "term_price": "999999999",
            "term_delivery_days": "20",
            "term_warranty_months": "24",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="error-price"' in html and "outside 80000" in html
    response = browser.post(url, {"message_id": message_id, "term_price": "x"})
    assert response.status_code == 400 and "Enter a number" in response.content.decode()
    assert not BidderMessage.objects.exists()


def test_a_link_revoked_while_the_bid_is_on_its_way_takes_no_bid(invited, monkeypatch):
    """Revoked between the door's check of the link and the bid (which re-checks it
    under the tender's lock): the page of a bad link, no bid kept."""
    _, secret = invited
    url = reverse("tenders:bid", args=[secret])
    browser = Client()
    message_id = _message_id(browser.get(url))
    monkeypatch.setattr(
        outside,
        "bidder_credential_use_record",
        revoking_after_the_check(
            outside.bidder_credential_use_record, outside.bidder_credential_revoke
        ),
    )
    response = browser.post(
        url,
        {
            "message_id": message_id,
            "term_price": "141000",
            "term_delivery_days": "20",
            "term_warranty_months": "24",
        },
    )
    assert response.status_code == 404
    assert not BidderMessage.objects.exists()
    assert not AuditEvent.objects.filter(kind="tender.bid_received").exists()


def test_the_bid_link_opens_nothing_else_and_bad_links_get_one_plain_404(invited, template):
    tender, secret = invited
    browser = Client()
    for bad in ("nl_" + "x" * 40, secret[:-2] + "zz", "a" * 300, "nb_" + secret[3:]):
        assert browser.get(reverse("tenders:bid", args=[bad])).status_code == 404
    # The link is not a login: the product's pages stay closed.
    browser.get(reverse("tenders:bid", args=[secret]))
    assert browser.get(reverse("tenders:detail", args=[tender.pk])).status_code == 302
    # An agent's token does not open the portal.
    _, issued = outside.tender_create_with_outside(
        template=template,
        base_url="http://testserver",
        outside=[{"supplier": "Quay", "kind": "remote_agent"}],
        seed=2,
    )
    assert browser.get(reverse("tenders:bid", args=[issued[0].secret])).status_code == 404


def test_the_bid_page_never_shows_the_reserve_costs_or_other_bidders(invited, template):
    tender, secret = invited
    tender_run_round(tender_id=tender.pk, round_number=0)
    html = Client().get(reverse("tenders:bid", args=[secret])).content.decode()
    assert "Bidding is open: round 2" in html
    private = [b["supplier"] for b in template.bidders]
    private += [f"{int(b['cost']):,}" for b in template.bidders] + ["150,000", "150000"]
    assert [p for p in private if p in html] == []
