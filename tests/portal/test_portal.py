"""The portal, as an invited person uses it: the page behind the invite link, each
move and what it led to, errors in place with nothing sent, idempotent posts, the
one 404 for every link that does not open a seat, rate limits, CSRF without a
session, and nothing private in any response."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from negotiator.models import (
    AuditEvent,
    CredentialKind,
    Negotiation,
    NegotiationStatus,
    Offer,
    PolicyCheck,
    SeatCredential,
    SeatMessage,
)
from negotiator.services import seats
from tests.portal.conftest import (
    PRIVATE_VALUES,
    RESERVATIONS,
    STRATEGY_PARAMS,
    counter_data,
    form_of,
    open_seat,
    revoking_after_the_check,
)

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return response.content.decode()


def state(seat) -> tuple:
    """Everything a move could change (the uses of the link are recorded apart)."""
    negotiation = seat.refresh()
    return (
        negotiation.status,
        negotiation.current_round,
        negotiation.waiting_for,
        Offer.objects.filter(negotiation=negotiation).count(),
        PolicyCheck.objects.filter(negotiation=negotiation).count(),
        SeatMessage.objects.filter(participant=seat.participant).count(),
        AuditEvent.objects.filter(negotiation=negotiation)
        .exclude(kind="seat.credential_used")
        .count(),
    )


# --------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------


def test_the_link_opens_the_offer_in_plain_language_whose_turn_and_until_when(client, seat):
    response = client.get(seat.url)
    assert response.status_code == 200
    html = page(response)
    assert "You negotiate as <strong>Supplier (Globex Components)</strong>" in html
    assert "Your turn." in html
    due = timezone.localtime(seat.negotiation.turn_due_at)
    assert f"Answer by <strong>{due:%a} {due.day} {due:%b, %H:%M}" in html
    # the offer on the table, with labels and units from the playbook
    for text in ("<dt>Price</dt><dd>85,000 USD</dd>", "<dd>5 days</dd>", "<dd>36 months</dd>"):
        assert text in html
    # a control per issue, prefilled with the offer, bounded as the playbook says
    assert 'name="term_price" id="id_term_price"' in html
    assert 'value="85000"' in html and 'min="80000" max="125000" step="1000"' in html
    assert "80,000 to 125,000 USD, in steps of 1,000" in html
    assert 'value="accept"' in html and 'value="reject"' in html
    assert "Laws of England and Wales" in html  # the fixed terms every offer carries


def test_a_categorical_issue_is_a_select_with_the_playbooks_options(client, saas, mailoutbox):
    seat = open_seat(saas, role="vendor")
    html = page(client.get(seat.url))
    assert '<select name="term_sla_tier"' in html and '<select name="term_payment_terms"' in html
    for label in ("bronze", "platinum", "net30", "annual upfront"):
        assert f">{label}</option>" in html
    standing = Offer.objects.filter(negotiation=seat.negotiation).latest("id").terms
    assert f'<option value="{standing["sla_tier"]}" selected>' in html
    assert 'name="term_annual_price"' in html and 'step="2500"' in html


def test_the_portal_carries_the_products_security_headers_and_no_session(client, seat):
    response = client.get(seat.url)
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "sessionid" not in response.cookies
    assert "csrftoken" in response.cookies  # CSRF works from the cookie alone
    # The link is no login: the product's own pages stay closed.
    for url in ("/", f"/negotiations/{seat.negotiation.pk}/", "/approvals/"):
        assert client.get(url).status_code == 302, url
    assert "_auth_user_id" not in client.session


def test_every_use_of_the_link_is_recorded(client, seat):
    client.get(seat.url)
    client.get(seat.url, REMOTE_ADDR="203.0.113.9")
    credential = SeatCredential.objects.get(participant=seat.participant)
    assert credential.uses == 2 and credential.last_used_from == "203.0.113.9"
    events = AuditEvent.objects.filter(negotiation=seat.negotiation, kind="seat.credential_used")
    assert [e.payload["what"] for e in events.order_by("seq")] == ["portal get", "portal get"]
    assert [e.actor for e in events] == ["person:seller", "person:seller"]


# --------------------------------------------------------------------------
# Moves and what they led to
# --------------------------------------------------------------------------


def test_a_counteroffer_is_sent_and_the_buyer_answers_in_the_same_request(client, seat):
    html = page(client.get(seat.url))
    data = counter_data(html, price=118_000, delivery_days=15)
    data["message"] = "Our list price for this volume."
    response = client.post(seat.url, data)
    assert response.status_code == 302
    assert response["Location"] == f"{seat.url}?m={data['message_id']}"
    offers = list(Offer.objects.filter(negotiation=seat.negotiation).order_by("id"))
    assert [(o.sender, o.performative) for o in offers] == [
        ("buyer", "propose"),
        ("seller", "counter"),
        ("buyer", "counter"),
    ]
    assert offers[1].terms == {"price": 118_000, "delivery_days": 15, "warranty_months": 12}
    assert offers[1].rationale == "Our list price for this volume."
    result = page(client.get(response["Location"]))
    assert "Your counteroffer was sent." in result
    assert "Buyer (Acme Manufacturing) answered with a counteroffer, shown below." in result
    assert "Your turn." in result  # what happens next
    assert "Our list price for this volume." in result  # in the history


def test_accepting_agrees_and_says_it_waits_for_approval(client, seat):
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    ApprovalRoute.objects.create(
        name="All",
        condition_kind="deal_value_above",
        threshold=1,
        approver_group=Group.objects.get(name="Approvers"),
        sla_hours=24,
    )
    html = page(client.get(seat.url))
    response = client.post(seat.url, {"action": "accept", **form_of(html)})
    assert response.status_code == 302
    negotiation = seat.refresh()
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert negotiation.agreed_terms == {"price": 85_000, "delivery_days": 5, "warranty_months": 36}
    result = page(client.get(response["Location"]))
    assert "You accepted the offer." in result
    assert "Agreed.</strong> The deal now waits for approval at Buyer" in result
    assert "Agreed terms" in result and 'id="answer"' not in result


def test_rejecting_clears_the_table_and_the_buyer_makes_a_new_offer(client, seat):
    html = page(client.get(seat.url))
    response = client.post(seat.url, {"action": "reject", **form_of(html)})
    assert response.status_code == 302
    moves = list(
        Offer.objects.filter(negotiation=seat.negotiation)
        .order_by("id")
        .values_list("sender", "performative")
    )
    assert moves[1] == ("seller", "reject") and moves[2][0] == "buyer"
    assert "You rejected the offer." in page(client.get(response["Location"]))


def test_walking_away_ends_the_negotiation(client, seat):
    html = page(client.get(seat.url))
    response = client.post(seat.url, {"action": "withdraw", **form_of(html)})
    assert response.status_code == 302
    assert seat.refresh().status == NegotiationStatus.FAILED
    result = page(client.get(response["Location"]))
    assert "You ended the negotiation." in result and "Ended without a deal." in result
    assert 'id="answer"' not in result


def test_the_same_form_posted_twice_is_one_move(client, seat):
    data = counter_data(page(client.get(seat.url)))
    first = client.post(seat.url, data)
    after = state(seat)
    again = client.post(seat.url, data)  # a double click, the back button, a resend
    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"]
    assert state(seat) == after
    assert SeatMessage.objects.filter(participant=seat.participant).count() == 1


def at_once(*requests) -> list[int | str]:
    """Run each request (a callable taking a fresh Client) in its own thread,
    together; their status codes, or the exception one raised."""
    answers: list[int | str] = []

    def run(request) -> None:
        try:
            answers.append(request(Client()).status_code)
        except Exception as exc:  # shown by the caller's assertion
            answers.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(answers, key=str)


@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_twice_at_once_is_one_move(procurement, mailoutbox):
    # Several tries: which post wins, and when the loser looks, varies.
    for seed in range(5):
        seat = open_seat(procurement, seed=seed, title=f"Race {seed}")
        data = counter_data(page(Client().get(seat.url)))
        answers = at_once(*[lambda c, d=data, u=seat.url: c.post(u, d)] * 2)
        assert answers == [302, 302], seed
        assert Offer.objects.filter(negotiation=seat.negotiation, sender="seller").count() == 1
        assert SeatMessage.objects.filter(participant=seat.participant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_looking_at_the_page_while_a_move_plays_does_not_deadlock(procurement, mailoutbox):
    """Recording a page view appends to the audit chain while the move holds the
    negotiation's row: both must take the row first."""
    for seed in range(5):
        seat = open_seat(procurement, seed=seed, title=f"Look {seed}")
        data = counter_data(page(Client().get(seat.url)))
        answers = at_once(
            lambda c, d=data, u=seat.url: c.post(u, d),
            lambda c, u=seat.url: c.get(u),
            lambda c, u=seat.url: c.get(u),
        )
        assert answers == [200, 200, 302], seed


# --------------------------------------------------------------------------
# Errors: shown in place, nothing sent
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "field", "error"),
    [
        ({"price": 112_500}, "price", "Use a value from 80,000 to 125,000 USD, in steps of 1,000."),
        ({"price": 130_000}, "price", "Use a value from 80,000 to 125,000 USD"),
        ({"delivery_days": 11}, "delivery_days", "Use a value from 5 to 45 days, in steps of 5."),
        ({"price": "cheap"}, "price", "Enter a number."),
        ({"warranty_months": ""}, "warranty_months", "Enter the warranty you offer."),
    ],
)
def test_a_bad_value_is_shown_next_to_its_field_and_nothing_is_sent(
    client, seat, terms, field, error
):
    data = counter_data(page(client.get(seat.url)), **terms)
    before = state(seat)
    response = client.post(seat.url, data)
    assert response.status_code == 400
    html = page(response)
    assert f'<p class="field-error" id="error-{field}">{error}' in html
    assert 'aria-invalid="true"' in html
    assert state(seat) == before
    # what they typed stays in the form, with the same message id
    assert f'value="{terms[field]}"' in html
    assert form_of(html)["message_id"] == data["message_id"]


def test_a_categorical_value_outside_the_options_is_refused_next_to_it(client, saas, mailoutbox):
    seat = open_seat(saas, role="vendor")
    html = page(client.get(seat.url))
    data = {
        "action": "counter",
        **form_of(html),
        "term_annual_price": "60000",
        "term_term_months": "24",
        "term_sla_tier": "diamond",
        "term_payment_terms": "net30",
    }
    before = state(seat)
    response = client.post(seat.url, data)
    assert response.status_code == 400
    assert '<p class="field-error" id="error-sla_tier">Choose one of the options.' in page(response)
    assert state(seat) == before


def test_a_message_over_the_limit_is_refused(client, seat):
    data = counter_data(page(client.get(seat.url)))
    data["message"] = "x" * (seats.MAX_RATIONALE + 1)
    before = state(seat)
    response = client.post(seat.url, data)
    assert response.status_code == 400
    assert 'id="message-error">Ensure this value has at most 2000 characters' in page(response)
    assert state(seat) == before


def test_a_move_our_policies_block_says_what_to_do_without_naming_the_rule(client, seat):
    data = counter_data(page(client.get(seat.url)), price=80_000)  # under the price floor
    before = state(seat)
    response = client.post(seat.url, data)
    assert response.status_code == 400
    html = page(response)
    assert "breaks a rule this negotiation runs under" in html
    for private in ("Price floor", "floor", "85,000 is", "margin", "unit_cost"):
        assert private not in html, private
    assert state(seat) == before


def test_a_page_loaded_before_the_offer_changed_is_refused(client, seat):
    stale = page(client.get(seat.url))
    client.post(seat.url, counter_data(page(client.get(seat.url))))  # the table moves on
    before = state(seat)
    response = client.post(seat.url, {"action": "accept", **form_of(stale)})
    assert response.status_code == 409
    assert "The offer on the table changed since this page was loaded" in page(response)
    assert state(seat) == before


def test_a_move_when_it_is_not_their_turn_is_refused(client, seat):
    html = page(client.get(seat.url))
    Negotiation.objects.filter(pk=seat.negotiation.pk).update(waiting_for="")
    before = state(seat)
    response = client.post(seat.url, counter_data(html))
    assert response.status_code == 409
    assert "It is not your turn: the negotiation waits for Buyer" in page(response)
    assert state(seat) == before


def test_a_forged_message_id_is_refused(client, seat):
    data = counter_data(page(client.get(seat.url)))
    data["message_id"] = "../../other"
    before = state(seat)
    assert client.post(seat.url, data).status_code == 400
    assert state(seat) == before


def test_a_post_without_the_csrf_token_is_refused_and_with_it_goes_through(seat):
    browser = Client(enforce_csrf_checks=True)
    html = page(browser.get(seat.url))
    data = counter_data(html)
    before = state(seat)
    assert browser.post(seat.url, data).status_code == 403
    assert state(seat) == before
    token = browser.cookies["csrftoken"].value
    response = browser.post(seat.url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert state(seat) != before


# --------------------------------------------------------------------------
# Links that do not open a seat
# --------------------------------------------------------------------------


def _agent_invite(procurement):
    """An invite-kind credential on an outside *agent's* seat: not a person's."""
    from negotiator.services.lifecycle import negotiation_create

    negotiation = negotiation_create(playbook=procurement, seats={"seller": "remote_agent"})
    _, secret = seats.seat_credential_issue(
        participant=negotiation.participants.get(role="seller"), kind=CredentialKind.INVITE
    )
    return secret


@pytest.mark.parametrize(
    "spoil",
    ["wrong", "truncated", "expired", "revoked", "agent_token", "agent_seat", "too_long"],
)
def test_a_link_that_does_not_open_a_seat_is_the_same_404_and_changes_nothing(
    client, seat, procurement, spoil
):
    html = page(client.get(seat.url))
    credential = SeatCredential.objects.get(participant=seat.participant)
    secret = seat.secret
    if spoil == "wrong":
        secret = "ni_" + "A" * 43
    elif spoil == "truncated":
        secret = seat.secret[:-2]
    elif spoil == "expired":
        SeatCredential.objects.filter(pk=credential.pk).update(expires_at=timezone.now())
    elif spoil == "revoked":
        seats.seat_credential_revoke(credential=credential)
    elif spoil == "agent_token":  # a bearer token of this very seat is no invite
        _, secret = seats.seat_credential_issue(participant=seat.participant)
    elif spoil == "agent_seat":
        secret = _agent_invite(procurement)
    else:
        secret = "ni_" + "A" * 300
    reference = client.get("/portal/ni_never-issued-anywhere-000000000/")
    before = state(seat)
    uses = SeatCredential.objects.get(pk=credential.pk).uses
    response = client.get(f"/portal/{secret}/")
    posted = client.post(f"/portal/{secret}/", counter_data(html))
    for answer in (response, posted):
        assert answer.status_code == 404
        assert answer.content == reference.content  # not distinguishable
        assert "This link does not open a negotiation" in page(answer)
    assert state(seat) == before
    assert SeatCredential.objects.get(pk=credential.pk).uses == uses


# --------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------


@override_settings(PORTAL_RATE_PER_LINK=3, PORTAL_RATE_PER_ADDRESS=100)
def test_one_link_is_limited_per_minute(client, seat, procurement):
    other = open_seat(procurement, seed=4, title="Other")
    assert [client.get(seat.url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert "Too many requests" in page(client.get(seat.url))
    assert client.get(other.url).status_code == 200  # another link is counted apart
    # a refused request is not recorded as a use
    assert SeatCredential.objects.get(participant=seat.participant).uses == 3


@override_settings(PORTAL_RATE_PER_LINK=100, PORTAL_RATE_PER_ADDRESS=3)
def test_one_address_is_limited_per_minute_wrong_links_included(client, seat):
    for _ in range(3):
        assert client.get("/portal/ni_guessing-0000000000000000000/").status_code == 404
    assert client.get(seat.url).status_code == 429  # even the right link, from there
    assert client.get(seat.url, REMOTE_ADDR="198.51.100.7").status_code == 200


# --------------------------------------------------------------------------
# Every state a person can find
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "waiting_for", "text"),
    [
        ("running", "", "Waiting for Buyer (Acme Manufacturing).</strong> We e-mail you"),
        ("escalated", "", "Paused.</strong> Buyer (Acme Manufacturing) is reviewing"),
        ("pending_approval", "", "Agreed.</strong> The deal now waits for approval"),
        ("approved", "", "Agreed and approved.</strong>"),
        ("rejected", "", "Not approved.</strong> Buyer (Acme Manufacturing) did not approve"),
        ("failed", "", "Ended without a deal.</strong>"),
        ("timed_out", "", "Ended: out of time.</strong>"),
        ("cancelled", "", "Ended.</strong> Buyer (Acme Manufacturing) closed the negotiation"),
    ],
)
def test_each_state_says_what_happens_next(client, seat, status, waiting_for, text):
    Negotiation.objects.filter(pk=seat.negotiation.pk).update(
        status=status, waiting_for=waiting_for
    )
    html = page(client.get(seat.url))
    assert text in html
    assert 'id="answer"' not in html and 'value="accept"' not in html
    assert "Answer by" not in html


def test_before_our_side_opens_the_person_is_told_to_wait(client, procurement, mailoutbox):
    from negotiator.services.invites import Invitee, negotiation_create_with_seats
    from negotiator.services.scheduling import rounds_held

    with rounds_held():
        _, issued = negotiation_create_with_seats(
            playbook=procurement,
            seats={"seller": "person"},
            invitees={"seller": Invitee("Sam", "sam@globex.example")},
            base_url="",
        )
    html = page(client.get(issued[0].link))
    assert "Starting.</strong> Buyer (Acme Manufacturing) makes the first offer" in html
    assert "No offers yet." in html


def test_the_portal_home_asks_for_the_invite_link(client):
    response = client.get("/portal/")
    assert response.status_code == 200
    assert "Open your invitation link" in page(response)


# --------------------------------------------------------------------------
# Nothing private, in any response
# --------------------------------------------------------------------------


def private_strings(negotiation: Negotiation) -> list[str]:
    from negotiator.models import Policy

    out = []
    for values in PRIVATE_VALUES.values():
        for value in values.values():
            out += [str(value), f"{value:,}"]
    out += [str(v) for v in STRATEGY_PARAMS.values()]
    out += [str(v) for v in RESERVATIONS.values()]
    out += ["reservation", "budget_cap", "unit_cost", "weights", "utilit", "strategy"]
    for policy in Policy.objects.all():
        out += [policy.name, policy.description]
        if policy.kind == "expression":
            out += [policy.parameters["expression"], policy.parameters["message"]]
    for offer in Offer.objects.filter(negotiation=negotiation):
        out += [f"{u:.4f}" for u in (offer.utilities or {}).values()]
    out += list(
        PolicyCheck.objects.filter(negotiation=negotiation).values_list("message", flat=True)
    )
    return [s for s in out if s]


def test_no_private_string_reaches_the_person_in_any_response(client, seat):
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    ApprovalRoute.objects.create(
        name="Big deals",
        condition_kind="deal_value_above",
        threshold=1,
        approver_group=Group.objects.get(name="Approvers"),
        sla_hours=24,
    )
    bodies = []

    def keep(response):
        bodies.append(page(response))
        return response

    html = page(keep(client.get(seat.url)))
    keep(client.post(seat.url, counter_data(html, price=80_000)))  # blocked by policies
    keep(client.post(seat.url, counter_data(html, price=112_500)))  # invalid
    done = keep(client.post(seat.url, counter_data(html, price=120_000)))  # over the cap
    done = keep(client.post(seat.url, counter_data(html, price=117_000)))
    html = page(keep(client.get(done["Location"])))
    done = keep(client.post(seat.url, {"action": "accept", **form_of(html)}))
    keep(client.get(done["Location"]))
    assert seat.refresh().status == NegotiationStatus.PENDING_APPROVAL
    keep(client.get("/portal/"))
    keep(client.get("/portal/ni_not-a-real-secret-0000000000/"))
    forbidden = private_strings(seat.negotiation)
    assert len(forbidden) > 30
    leaks = {s for s in forbidden for body in bodies if s in body}
    assert leaks == set()
    # The detector works: the product's own page shows an auditor these strings.
    from tests.negotiator.test_views import make_user

    client.force_login(make_user("audrey", "Auditors"))
    inside = page(client.get(f"/negotiations/{seat.negotiation.pk}/"))
    assert {"Price floor", "111,987", "Budget cap"} <= {s for s in forbidden if s in inside}


def test_an_offers_utilities_are_not_even_read(client, seat, django_assert_max_num_queries):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(seat.url)
    offer_selects = [q["sql"] for q in queries if 'FROM "negotiator_offer"' in q["sql"]]
    assert offer_selects and all('"utilities"' not in sql for sql in offer_selects)
    assert all("negotiator_policycheck" not in q["sql"] for q in queries)


def test_an_expired_invite_in_the_past_is_refused_even_mid_negotiation(client, seat):
    """The lifetime counts even while it is the person's turn (fail closed)."""
    credential = SeatCredential.objects.get(participant=seat.participant)
    SeatCredential.objects.filter(pk=credential.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(seat.url).status_code == 404


def test_a_link_revoked_while_the_move_is_on_its_way_plays_nothing(client, seat, monkeypatch):
    """Revoked between the door's check of the link and the move (the move re-checks
    under the negotiation's lock): the page of a bad link, nothing played."""
    html = page(client.get(seat.url))
    data = counter_data(html, price=118_000, delivery_days=15)
    monkeypatch.setattr(
        seats,
        "seat_credential_use_record",
        revoking_after_the_check(seats.seat_credential_use_record, seats.seat_credential_revoke),
    )
    response = client.post(seat.url, data)
    assert response.status_code == 404
    assert not Offer.objects.filter(negotiation=seat.negotiation, sender="seller").exists()
    assert seat.refresh().waiting_for == "seller"
    assert client.get(seat.url).status_code == 404
