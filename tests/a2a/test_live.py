"""End to end through the real server: the a2a-sdk client (a client nobody here
wrote) resolves our agent card, finds its seat's task, and negotiates a
procurement deal against our built-in buyer until the deal reaches the approval
gate."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import ListTasksRequest, Message, Part, Role, SendMessageRequest, TaskState
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Value

from approvals.models import ApprovalRequest
from negotiator.models import NegotiationStatus, Offer
from tests.a2a.conftest import ConcedingSeller, open_seat

pytestmark = pytest.mark.django_db(transaction=True)


async def play_seller(base_url: str, token: str, max_turns: int = 40):
    """The outside agent: the SDK's card resolver, client factory and client."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        card = await A2ACardResolver(http, base_url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        [task] = (await client.list_tasks(ListTasksRequest())).tasks
        space = MessageToDict(task.metadata)["space"]
        seller = ConcedingSeller(space["fixed_terms_hash"])
        turns = 0
        while task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED and turns < max_turns:
            ours = MessageToDict(task.status.message.parts[0].data)
            move = seller.move(ours)
            request = SendMessageRequest(
                message=Message(
                    message_id=f"seller-turn-{turns}",
                    role=Role.ROLE_USER,
                    task_id=task.id,
                    parts=[
                        Part(data=ParseDict(move, Value())),
                        Part(text="Our price for this volume."),
                    ],
                )
            )
            async for event in client.send_message(request):
                task = event.task
            turns += 1
        await client.close()
        return card, task, turns


def test_an_sdk_client_negotiates_to_agreement_and_the_deal_waits_for_approval(
    live_server, playbook, approval_route
):
    negotiation, seller, token = open_seat(playbook)
    card, task, turns = asyncio.run(play_seller(live_server.url, token))
    assert card.supported_interfaces[0].url == f"{live_server.url}/a2a/"
    negotiation.refresh_from_db()
    # the seed and the seller's fixed concession give one outcome
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    assert task.status.state == TaskState.TASK_STATE_WORKING
    texts = [p.text for p in task.status.message.parts if p.HasField("text")]
    assert texts[-1] == "Agreed. The deal is waiting for approval on our side."
    # our buyer's acceptance is the answer to the seller's last counter
    ours = MessageToDict(task.status.message.parts[0].data)
    assert (ours["sender"], ours["performative"]) == ("buyer", "accept")
    [artifact] = task.artifacts
    agreed = MessageToDict(artifact.parts[0].data)
    assert {k: int(v) for k, v in agreed["terms"].items()} == negotiation.agreed_terms
    request = ApprovalRequest.objects.get(negotiation=negotiation)
    assert request.route_id == approval_route.pk
    last = Offer.objects.filter(negotiation=negotiation).latest("id")
    assert (last.pk, last.sender, last.performative) == (int(ours["offer_id"]), "buyer", "accept")
    assert negotiation.agreed_terms == {"price": 97_000, "delivery_days": 20, "warranty_months": 12}
    assert turns == 29  # the default concedes slowly on the 46 prices (wide issues)
