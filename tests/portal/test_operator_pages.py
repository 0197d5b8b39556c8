"""Outside seats in the product's own pages: the new-negotiation form offers the
seat kinds a role allows and asks who is invited; credentials are shown once; the
negotiation page shows the outside seat, its turn and deadline, its messages on
the timeline and its credentials, which the team's operators revoke and renew.
Another team gets a 404 on all of it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from negotiator.models import (
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Participant,
    SeatCredential,
)
from negotiator.services import sweeper
from tests.negotiator.test_views import make_user
from tests.portal.conftest import counter_data, open_seat

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(response) -> str:
    return response.content.decode()


@pytest.fixture
def operator(procurement):
    user = make_user("olga", "Operators", "Procurement")
    user.email = "olga@acme.example"
    user.save()
    return user


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


def new_form(playbook, **extra) -> dict:
    return {
        "playbook": playbook.pk,
        "title": "Q3 parts",
        "strategy_buyer": "default",
        "strategy_seller": "default",
        **extra,
    }


def once_of(html: str) -> str:
    return re.search(r'name="once" value="([0-9a-f]{32})"', html).group(1)


# --------------------------------------------------------------------------
# The new-negotiation form
# --------------------------------------------------------------------------


def test_the_form_offers_only_the_seat_kinds_a_role_allows(signed_in, procurement):
    html = page(signed_in.get(f"/negotiations/new/?playbook={procurement.pk}"))
    assert 'name="seat_buyer"' not in html  # our buyer is always our strategy
    seller = re.search(r'<select name="seat_seller".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', seller) == ["builtin", "remote_agent", "person"]
    assert 'name="invitee_name_seller"' in html and 'name="invitee_email_seller"' in html
    assert "js/seats.js" in html


def test_a_person_seat_needs_a_name_and_an_email_and_nothing_starts_without(signed_in, procurement):
    response = signed_in.post(
        "/negotiations/new/", new_form(procurement, seat_seller="person", invitee_email_seller="x")
    )
    assert response.status_code == 400
    html = page(response)
    assert "An outside person needs a name to be invited." in html
    assert "Enter a valid email address." in html
    assert Negotiation.objects.count() == 0 and mail.outbox == []


def test_a_kind_the_role_does_not_allow_is_refused(signed_in, procurement):
    response = signed_in.post("/negotiations/new/", new_form(procurement, seat_seller="martian"))
    assert response.status_code == 400
    assert "Select a valid choice" in page(response)
    assert Negotiation.objects.count() == 0


def test_inviting_a_person_shows_the_link_once_and_mails_it(signed_in, procurement):
    response = signed_in.post(
        "/negotiations/new/",
        new_form(
            procurement,
            seat_seller="person",
            invitee_name_seller="Sam Supplier",
            invitee_email_seller="sam@globex.example",
        ),
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = page(response)
    link = re.search(r'value="(http://testserver/portal/ni_[\w-]+/)"', html).group(1)
    assert "shown only this once" in html and "E-mailed to sam@globex.example" in html
    negotiation = Negotiation.objects.get()
    seller = negotiation.participants.get(role="seller")
    assert (seller.seat, seller.invitee_name, seller.invitee_email) == (
        "person",
        "Sam Supplier",
        "sam@globex.example",
    )
    assert seller.strategy == ""  # played from outside
    [invite] = mail.outbox
    assert invite.to == ["sam@globex.example"] and link in invite.body
    assert "olga invites you" in invite.body and "Q3 parts" in invite.subject
    assert invite.reply_to == ["olga@acme.example"]  # a reply reaches the operator
    assert "Questions? Reply to this e-mail." in invite.body
    # The secret exists nowhere after this response.
    secret = link.rsplit("/", 2)[1]
    credential = SeatCredential.objects.get(participant=seller)
    assert secret not in str(SeatCredential.objects.values_list().get(pk=credential.pk))
    assert not AuditEvent.objects.filter(payload_json__contains=secret).exists()
    detail = page(signed_in.get(f"/negotiations/{negotiation.pk}/"))
    assert secret not in detail and credential.prefix in detail


def test_an_agent_seat_gets_a_bearer_token_and_the_agent_card(signed_in, procurement):
    response = signed_in.post(
        "/negotiations/new/", new_form(procurement, seat_seller="remote_agent")
    )
    html = page(response)
    assert response.status_code == 200
    token = re.search(r'value="(nt_[\w-]+)"', html).group(1)
    assert 'value="http://testserver/.well-known/agent-card.json"' in html
    assert "Authorization: Bearer" in html
    credential = SeatCredential.objects.get()
    assert credential.kind == "token" and token.startswith(credential.prefix)
    assert mail.outbox == []


@override_settings(NEGOTIATOR_BASE_URL="https://negotiator.example.com")
def test_links_use_the_configured_address(signed_in, procurement):
    html = page(
        signed_in.post(
            "/negotiations/new/",
            new_form(
                procurement,
                seat_seller="person",
                invitee_name_seller="Sam",
                invitee_email_seller="sam@globex.example",
            ),
        )
    )
    assert 'value="https://negotiator.example.com/portal/ni_' in html


def test_the_same_form_sent_twice_starts_one_negotiation_and_sends_one_invite(
    signed_in, procurement
):
    once = once_of(page(signed_in.get(f"/negotiations/new/?playbook={procurement.pk}")))
    data = new_form(
        procurement,
        once=once,
        seat_seller="person",
        invitee_name_seller="Sam",
        invitee_email_seller="sam@globex.example",
    )
    assert signed_in.post("/negotiations/new/", data).status_code == 200
    again = signed_in.post("/negotiations/new/", data)  # reload of the credentials page
    negotiation = Negotiation.objects.get()
    assert again.status_code == 302 and again["Location"] == f"/negotiations/{negotiation.pk}/"
    assert len(mail.outbox) == 1 and SeatCredential.objects.count() == 1
    assert "was not started again" in page(signed_in.get(again["Location"]))


def test_a_playbook_role_without_outside_seats_starts_as_before(signed_in, procurement):
    response = signed_in.post("/negotiations/new/", new_form(procurement))
    assert response.status_code == 302
    assert set(Participant.objects.values_list("seat", flat=True)) == {"builtin"}


@override_settings(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    EMAIL_PORT=9,
)
def test_an_invite_that_cannot_be_mailed_is_still_shown_with_a_warning(signed_in, procurement):
    response = signed_in.post(
        "/negotiations/new/",
        new_form(
            procurement,
            seat_seller="person",
            invitee_name_seller="Sam",
            invitee_email_seller="sam@globex.example",
        ),
    )
    assert response.status_code == 200
    html = page(response)
    assert "could not be e-mailed to sam@globex.example: send them this link yourself" in html
    assert 'value="http://testserver/portal/ni_' in html
    event = AuditEvent.objects.get(kind="seat.invite_mailed")
    assert event.payload["sent"] is False


# --------------------------------------------------------------------------
# The negotiation page
# --------------------------------------------------------------------------


def test_the_page_shows_the_outside_seat_its_turn_and_its_credential(signed_in, procurement):
    seat = open_seat(procurement)
    html = page(signed_in.get(f"/negotiations/{seat.negotiation.pk}/"))
    turn = re.search(r'<div class="stat stat-turn" id="turn">.*?</div>', html, re.S).group(0)
    assert "Supplier (Globex Components)" in turn and "outside person" in turn
    assert f'data-deadline="{seat.negotiation.turn_due_at.isoformat()}"' in turn
    assert "reminded" not in turn
    assert 'id="outside-seats"' in html and "Invited: Sam Supplier" in html
    credential = SeatCredential.objects.get(participant=seat.participant)
    assert f"<code>{credential.prefix}…</code>" in html and "never used" in html
    assert "Revoke" in html and "Send a new invite link" in html

    signed_in.get(seat.url, REMOTE_ADDR="203.0.113.9")  # the person looks
    sweeper.seat_turns_sweep(now=seat.negotiation.turn_started_at + (seat.negotiation.turn_due_at - seat.negotiation.turn_started_at) * 0.8)  # fmt: skip
    html = page(signed_in.get(f"/negotiations/{seat.negotiation.pk}/"))
    assert "from 203.0.113.9 · 1 use" in html
    assert "reminded" in re.search(r'id="turn">.*?</div>', html, re.S).group(0)


def test_outside_moves_are_marked_on_the_timeline_and_reach_the_live_poll(signed_in, procurement):
    seat = open_seat(procurement)
    first = page(signed_in.get(f"/negotiations/{seat.negotiation.pk}/"))
    last_id = int(re.search(r"\?after=(\d+)", first).group(1))
    person = Client()
    portal = page(person.get(seat.url))
    data = {**counter_data(portal, price=118_000), "message": "Our list price."}
    assert person.post(seat.url, data).status_code == 302
    poll = signed_in.get(
        f"/negotiations/{seat.negotiation.pk}/timeline?after={last_id}&round=1&status=running",
        headers=HTMX,
    )
    assert poll.status_code == 200
    html = page(poll)
    item = re.search(r'<li id="offer-\d+" class="offer perf-counter.*?</li>', html, re.S).group(0)
    assert "Supplier (Globex Components)" in item and "from outside person" in item
    assert "Message from outside</span> Our list price." in item
    assert html.count("from outside person") == 1  # the buyer's answer is ours


def test_an_operator_revokes_a_credential_and_the_link_stops_working(
    signed_in, procurement, client
):
    seat = open_seat(procurement)
    credential = SeatCredential.objects.get(participant=seat.participant)
    response = signed_in.post(
        f"/negotiations/{seat.negotiation.pk}/seats/revoke/",
        {"credential": credential.pk},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = page(response)
    assert f"Revoked {credential.prefix}…" in html and "badge-cred-revoked" in html
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    assert AuditEvent.objects.filter(kind="seat.credential_revoked").count() == 1
    assert Client().get(seat.url).status_code == 404
    again = signed_in.post(
        f"/negotiations/{seat.negotiation.pk}/seats/revoke/",
        {"credential": credential.pk},
        headers=HTMX,
    )
    assert "was already revoked" in page(again)
    assert AuditEvent.objects.filter(kind="seat.credential_revoked").count() == 1


def test_an_operator_issues_a_new_link_shown_once_and_mailed(signed_in, procurement):
    seat = open_seat(procurement)
    mail.outbox.clear()
    response = signed_in.post(
        f"/negotiations/{seat.negotiation.pk}/seats/issue/", {"role": "seller"}, headers=HTMX
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    link = re.search(r'value="http://testserver(/portal/ni_[\w-]+/)"', page(response)).group(1)
    assert link != seat.url
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    assert SeatCredential.objects.filter(participant=seat.participant).count() == 2
    assert Client().get(link).status_code == 200 and Client().get(seat.url).status_code == 200
    # Without htmx the same action shows the credentials page.
    plain = signed_in.post(f"/negotiations/{seat.negotiation.pk}/seats/issue/", {"role": "seller"})
    assert plain.status_code == 200 and "shown only this once" in page(plain)
    # Not for a role of ours, nor once it has ended.
    ours = signed_in.post(
        f"/negotiations/{seat.negotiation.pk}/seats/issue/", {"role": "buyer"}, headers=HTMX
    )
    assert "buyer&#x27; is not an outside seat of this negotiation." in page(ours)
    Negotiation.objects.filter(pk=seat.negotiation.pk).update(status=NegotiationStatus.CANCELLED)
    ended = signed_in.post(
        f"/negotiations/{seat.negotiation.pk}/seats/issue/", {"role": "seller"}, headers=HTMX
    )
    assert "has ended" in page(ended)
    assert SeatCredential.objects.filter(participant=seat.participant).count() == 3


def test_another_teams_credentials_are_out_of_reach(signed_in, procurement):
    from negotiator.playbook_io import playbook_import
    from tests.negotiator.conftest import load_playbook_document

    ours = open_seat(procurement)
    theirs = open_seat(playbook_import(load_playbook_document("media")), role="publisher")
    their_credential = SeatCredential.objects.get(participant=theirs.participant)
    # Their negotiation does not exist for our operator...
    for action, data in (("revoke", {"credential": their_credential.pk}), ("issue", {"role": "publisher"})):  # fmt: skip
        url = f"/negotiations/{theirs.negotiation.pk}/seats/{action}/"
        assert signed_in.post(url, data, headers=HTMX).status_code == 404
    # ...and their credential id is unknown on ours.
    response = signed_in.post(
        f"/negotiations/{ours.negotiation.pk}/seats/revoke/",
        {"credential": their_credential.pk},
        headers=HTMX,
    )
    assert "No such credential on this negotiation." in page(response)
    their_credential.refresh_from_db()
    assert their_credential.revoked_at is None
    assert SeatCredential.objects.filter(participant=theirs.participant).count() == 1


def test_a_member_who_is_no_operator_sees_credentials_but_cannot_act(client, procurement):
    seat = open_seat(procurement)
    client.force_login(make_user("mo", "Procurement"))
    html = page(client.get(f"/negotiations/{seat.negotiation.pk}/"))
    assert 'id="outside-seats"' in html and "Revoke" not in html and "Send a new" not in html
    credential = SeatCredential.objects.get(participant=seat.participant)
    response = client.post(
        f"/negotiations/{seat.negotiation.pk}/seats/revoke/", {"credential": credential.pk}
    )
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.revoked_at is None
