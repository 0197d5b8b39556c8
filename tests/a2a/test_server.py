"""The A2A JSON-RPC server, through Django's test client: the card, a seat's
task, moves answered at once, idempotent replays, cancelling as withdrawing."""

from __future__ import annotations

import json

import pytest
from a2a.client.card_resolver import parse_agent_card
from google.protobuf.json_format import MessageToDict

from negotiator.a2a.offers import seat_offer_schema
from negotiator.a2a.seat_task import task_id_for
from negotiator.models import AuditEvent, NegotiationStatus, Offer, SeatCredential, SeatMessage
from tests.a2a.conftest import counter, offer_message, state_counts
from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def test_the_agent_card_is_public_and_names_the_endpoint_the_scheme_and_the_offer_schema(client):
    response = client.get("/.well-known/agent-card.json")
    assert response.status_code == 200
    card = parse_agent_card(response.json())
    assert card.name == "Negotiator"
    [interface] = card.supported_interfaces
    assert (interface.url, interface.protocol_binding, interface.protocol_version) == (
        "http://testserver/a2a/",
        "JSONRPC",
        "1.0",
    )
    assert card.capabilities.streaming is False
    assert card.capabilities.push_notifications is False
    scheme = card.security_schemes["seatToken"].http_auth_security_scheme
    assert scheme.scheme == "bearer"
    assert list(card.security_requirements[0].schemes) == ["seatToken"]
    [extension] = card.capabilities.extensions
    params = MessageToDict(extension.params)
    assert params["offer_schema_url"] == "http://testserver/a2a/offer.schema.json"
    assert params["offer_schema"] == seat_offer_schema()
    assert [s.id for s in card.skills] == ["negotiate", "tender-bid"]
    again = client.get("/.well-known/agent-card.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert client.get("/a2a/offer.schema.json").json() == seat_offer_schema()


def test_the_seat_offer_schema_in_docs_is_the_one_served():
    published = json.loads((REPO / "docs" / "a2a-seat-offer.schema.json").read_text())
    assert published == seat_offer_schema()


def test_list_tasks_shows_the_seats_one_task_waiting_for_its_move(seat, rpc):
    negotiation, seller, _ = seat
    result = rpc("ListTasks")["result"]
    assert result["nextPageToken"] == "" and result["totalSize"] == 1
    [task] = result["tasks"]
    assert task["id"] == task_id_for(seller)
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    opening = Offer.objects.get(negotiation=negotiation)
    data = task["status"]["message"]["parts"][0]["data"]
    assert data["offer_id"] == opening.pk
    assert data["sender"] == "buyer" and data["performative"] == "propose"
    assert task["metadata"]["seat"]["your_role"] == "seller"
    assert task["metadata"]["space"]["fixed_terms_hash"] == opening.fixed_terms_hash
    assert "artifacts" not in task


def test_send_message_plays_the_counter_and_replies_with_our_answer(seat, rpc):
    negotiation, seller, _ = seat
    reply = rpc(
        "SendMessage",
        offer_message(counter(negotiation), text="Our best price for this volume."),
    )
    task = reply["result"]["task"]
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert [(o.sender, o.performative) for o in offers] == [
        ("buyer", "propose"),
        ("seller", "counter"),
        ("buyer", "counter"),
    ]
    assert offers[1].rationale == "Our best price for this volume."
    assert offers[1].terms == {"price": 110_000, "delivery_days": 10, "warranty_months": 12}
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    answer = task["status"]["message"]
    assert answer["role"] == "ROLE_AGENT"
    assert answer["parts"][0]["data"]["offer_id"] == offers[2].pk
    assert answer["parts"][0]["data"]["in_reply_to"] == offers[1].pk


def test_a_replayed_message_id_gets_the_same_answer_and_changes_nothing(seat, rpc):
    negotiation, _, _ = seat
    first = rpc("SendMessage", offer_message(counter(negotiation)))
    before = state_counts(negotiation)
    again = rpc("SendMessage", offer_message(counter(negotiation, price=90_000)))
    assert again == first
    assert state_counts(negotiation) == before


def test_get_task_has_the_public_history(seat, rpc):
    negotiation, seller, _ = seat
    rpc("SendMessage", offer_message(counter(negotiation)))
    task = rpc("GetTask", {"id": task_id_for(seller)})["result"]
    roles = [m["role"] for m in task["history"]]
    assert roles == ["ROLE_AGENT", "ROLE_USER", "ROLE_AGENT"]
    short = rpc("GetTask", {"id": task_id_for(seller), "historyLength": 1})["result"]
    assert [m["messageId"] for m in short["history"]] == [task["history"][-1]["messageId"]]


def test_cancel_task_withdraws_and_is_idempotent(seat, rpc):
    negotiation, seller, _ = seat
    task = rpc("CancelTask", {"id": task_id_for(seller)})["result"]
    assert task["status"]["state"] == "TASK_STATE_CANCELED"
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.FAILED
    last = Offer.objects.filter(negotiation=negotiation).latest("id")
    assert (last.sender, last.performative) == ("seller", "withdraw")
    before = state_counts(negotiation)
    assert rpc("CancelTask", {"id": task_id_for(seller)})["result"] == task
    assert state_counts(negotiation) == before


def test_every_use_of_the_credential_is_audited_with_its_address(seat, rpc):
    negotiation, _, _ = seat
    rpc("ListTasks")
    rpc("SendMessage", offer_message(counter(negotiation), message_id="m-42"))
    uses = [
        e.payload
        for e in AuditEvent.objects.filter(negotiation=negotiation, kind="seat.credential_used")
    ]
    assert [u["what"] for u in uses] == ["ListTasks", "SendMessage m-42: played"]
    assert {u["address"] for u in uses} == {"127.0.0.1"}
    credential = SeatCredential.objects.get()
    assert (credential.uses, credential.last_used_from) == (2, "127.0.0.1")
    assert SeatMessage.objects.get().message_id == "m-42"
