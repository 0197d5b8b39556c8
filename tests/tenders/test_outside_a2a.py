"""A supplier's agent bids in a tender over A2A: the a2a-sdk client (a client
nobody here wrote) against the live server, and every guardrail of the door
(wrong token, another bidder's task, malformed, replay, over-rate, closed,
private data)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import ListTasksRequest, Message, Part, Role, SendMessageRequest, TaskState
from django.test import Client
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Value

from approvals.models import ApprovalRequest
from negotiator.models import AuditEvent
from tenders.models import BidderCredential, BidderMessage, TenderBid, TenderStatus
from tenders.services import outside
from tests.a2a.conftest import Rpc
from tests.tenders.conftest import run_tender

AGENT = {"supplier": "Quay Fasteners", "kind": "remote_agent"}
TERMS = {"price": 122700, "delivery_days": 15, "warranty_months": 36}


@pytest.fixture(autouse=True)
def _own_rate_counters(settings):
    settings.CACHES = {
        **settings.CACHES,
        settings.A2A_CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
    }


def _bid_params(terms, message_id="b-1", **extra):
    return {
        "message": {
            "messageId": message_id,
            "role": "ROLE_USER",
            "parts": [{"data": {"terms": terms}, "mediaType": "application/json"}],
            **extra,
        }
    }


async def _agent_bids(base_url: str, token: str) -> tuple:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        card = await A2ACardResolver(http, base_url).get_agent_card()
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        [task] = (await client.list_tasks(ListTasksRequest())).tasks
        before = task
        feedback = MessageToDict(task.status.message.parts[1].data)
        terms = dict(TERMS)  # sealed: the opening price is not shown, its own price is
        request = SendMessageRequest(
            message=Message(
                message_id="sealed-bid-1",
                role=Role.ROLE_USER,
                task_id=task.id,
                parts=[Part(data=ParseDict({"terms": terms}, Value())), Part(text="Our best.")],
            )
        )
        async for event in client.send_message(request):
            task = event.task
        await client.close()
        return before, feedback, task


@pytest.mark.django_db(transaction=True)
def test_an_sdk_agent_bids_in_a_sealed_tender_wins_and_the_award_waits_for_approval(
    live_server, template, default_route
):
    tender, [issued] = outside.tender_create_with_outside(
        template=template,
        base_url=live_server.url,
        outside=[AGENT],
        overrides={"format": "first_score"},
        seed=11,
    )
    before, feedback, task = asyncio.run(_agent_bids(live_server.url, issued.secret))
    assert before.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert feedback["open"] and feedback["tender"]["format"] == "first_score"
    assert feedback["standing"]["best_score"] is None  # sealed: nothing about the others
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    after = MessageToDict(task.status.message.parts[1].data)
    assert after["pending_bid"] == TERMS
    tender = run_tender(tender)
    assert tender.award_supplier == "Quay Fasteners"  # fast delivery, long warranty, low price
    assert tender.status == TenderStatus.PENDING_APPROVAL
    assert ApprovalRequest.objects.filter(negotiation=tender.award_negotiation).exists()
    assert TenderBid.objects.get(bidder__supplier__name="Quay Fasteners").price == 122700


@pytest.fixture
def agent(template, client):
    tender, [issued] = outside.tender_create_with_outside(
        template=template, base_url="http://testserver", outside=[AGENT], seed=5
    )
    return tender, Rpc(client, issued.secret)


@pytest.mark.django_db
def test_a_bid_over_a2a_is_taken_replayed_the_same_and_played_in_the_round(agent):
    tender, rpc = agent
    answer = rpc("SendMessage", _bid_params(TERMS, "b-1"))
    task = answer["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert "Your bid for this round is in" in task["status"]["message"]["parts"][0]["text"]
    again = rpc("SendMessage", _bid_params({"price": 1}, "b-1"))
    assert again["result"]["task"]["id"] == task["id"]
    assert BidderMessage.objects.count() == 1
    run_tender(tender, limit=1)
    got = rpc("GetTask", {"id": task["id"]})["result"]
    feedback = got["status"]["message"]["parts"][1]["data"]
    assert feedback["standing"]["rank"] is not None
    assert feedback["note"] == "Your bid in round 1 stands."
    used = AuditEvent.objects.filter(kind="tender.credential_used").count()
    assert used == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        (_bid_params({"price": 121000}), "delivery_days is missing"),
        (_bid_params({**TERMS, "price": "cheap"}), "price is not a number"),
        (_bid_params({**TERMS, "price": 5}), "price 5 is outside"),
        (
            {"message": {"messageId": "x", "role": "ROLE_USER", "parts": [{"data": TERMS}]}},
            '{"terms"',
        ),
        (
            {"message": {"messageId": "x", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
            "exactly one data part",
        ),
    ],
)
def test_a_malformed_bid_gets_a_precise_json_rpc_error_and_changes_nothing(agent, params, needle):
    tender, rpc = agent
    answer = rpc("SendMessage", params)
    assert answer["error"]["code"] == -32602 and needle in answer["error"]["message"]
    assert not BidderMessage.objects.exists()
    assert not AuditEvent.objects.filter(kind="tender.bid_received").exists()


@pytest.mark.django_db
def test_another_bidders_task_a_bad_token_and_a_seat_token_get_nothing(agent, template, client):
    tender, rpc = agent
    _, [other] = outside.tender_create_with_outside(
        template=template, base_url="http://testserver", outside=[AGENT], seed=6
    )
    theirs = Rpc(client, other.secret)("ListTasks")["result"]["tasks"][0]["id"]
    answer = rpc("GetTask", {"id": theirs})
    assert answer["error"]["code"] == -32001  # task not found
    bad = rpc.raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ListTasks"}), token="nb_x" * 4)
    assert bad.status_code == 401
    cancel = rpc("CancelTask", {"id": rpc("ListTasks")["result"]["tasks"][0]["id"]})
    assert "binding" in cancel["error"]["message"]


@pytest.mark.django_db
def test_over_the_rate_limit_nothing_is_done(agent, settings):
    tender, rpc = agent
    settings.A2A_RATE_PER_MINUTE = 2
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ListTasks"})
    assert [rpc.raw(body).status_code for _ in range(3)] == [200, 200, 429]
    over = rpc.raw(
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": _bid_params(TERMS)}
        )
    )
    assert over.status_code == 429 and not BidderMessage.objects.exists()


@pytest.mark.django_db
def test_a_token_revoked_after_the_door_checked_it_bids_nothing(agent, monkeypatch):
    """Revoked between the door's check and the bid (which re-checks it under the
    tender's lock): Unauthenticated, no bid kept, the refused use audited."""
    from tenders import a2a_bids

    tender, rpc = agent
    allow = a2a_bids.rate_allow

    def revoke_then_allow(key, **kwargs):
        for credential in BidderCredential.objects.filter(revoked_at__isnull=True):
            outside.bidder_credential_revoke(credential=credential)
        return allow(key, **kwargs)

    monkeypatch.setattr(a2a_bids, "rate_allow", revoke_then_allow)
    answer = rpc("SendMessage", _bid_params(TERMS, "b-1"))
    assert answer["error"]["code"] == -32040
    assert not BidderMessage.objects.exists()
    assert not AuditEvent.objects.filter(kind="tender.bid_received").exists()
    [use] = AuditEvent.objects.filter(kind="tender.credential_used")
    assert "refused (Unauthenticated)" in use.payload["what"]


@pytest.mark.django_db
def test_after_the_close_a_bid_is_refused_and_the_task_says_how_it_ended(agent):
    tender, rpc = agent
    tender = run_tender(tender)
    assert tender.status != TenderStatus.RUNNING
    answer = rpc("SendMessage", _bid_params(TERMS, "late"))
    assert answer["error"]["code"] == -32004 and "takes no bid now" in answer["error"]["message"]
    [task] = rpc("ListTasks")["result"]["tasks"]
    assert task["status"]["state"] in ("TASK_STATE_WORKING", "TASK_STATE_REJECTED")


@pytest.mark.django_db
def test_nothing_an_agent_bidder_can_fetch_holds_private_data(agent, template):
    tender, rpc = agent
    rpc("SendMessage", _bid_params(TERMS, "p1"))
    run_tender(tender, limit=3)
    [task] = rpc("ListTasks")["result"]["tasks"]
    rpc("GetTask", {"id": task["id"]})
    shown = "\n".join(rpc.responses)
    private = [b["supplier"] for b in template.bidders]
    private += [str(int(b["cost"])) for b in template.bidders] + ["150000"]  # costs, reserve
    assert [p for p in private if p in shown] == []
    assert Client().get("/a2a/").status_code == 405
