"""Our side as the A2A client: a seat that points at a supplier's agent is
played by calling that agent (a small agent built with the a2a-sdk's own server,
run with uvicorn on a free port) from a real Celery worker, move by move, to
the approval gate; a reply that cannot be played is audited and asked again."""

from __future__ import annotations

import socket
import threading

import pytest
import uvicorn
from a2a.helpers.proto_helpers import new_message
from a2a.server.agent_execution import AgentExecutor
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Part,
    Role,
)
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Value
from starlette.applications import Starlette

from negotiator.a2a.outbound import seat_agent_connect
from negotiator.models import AuditEvent, Negotiation, NegotiationStatus, Offer, SeatKind
from negotiator.services.lifecycle import negotiation_create
from tests.a2a.conftest import ConcedingSeller
from tests.conftest import celery_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class SupplierExecutor(AgentExecutor):
    """The supplier's agent: answers each of our offers with the conceding
    seller's move, as a direct message. Its first answer can be made unusable."""

    def __init__(self, *, first_reply_broken: bool = False) -> None:
        self.seller: ConcedingSeller | None = None
        self.broken = first_reply_broken
        self.received: list[dict] = []

    async def execute(self, context, event_queue) -> None:
        message = context.message
        self.received.append(MessageToDict(message))
        meta = MessageToDict(message.metadata)
        if self.seller is None:
            self.seller = ConcedingSeller(meta["space"]["fixed_terms_hash"])
        ours = next(MessageToDict(p.data) for p in message.parts if p.HasField("data"))
        if self.broken:
            self.broken = False
            move = {"performative": "counter", "terms": {"price": 1}}
        else:
            move = self.seller.move(ours)
        reply = new_message(
            [Part(data=ParseDict(move, Value())), Part(text="Supplier's answer.")],
            context_id=context.context_id,
            role=Role.ROLE_AGENT,
        )
        await event_queue.enqueue_event(reply)

    async def cancel(self, context, event_queue) -> None:  # never asked here
        raise NotImplementedError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def supplier_agent():
    """Yield (base URL, executor) of a running stand-in supplier agent."""

    def start(**kwargs):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        card = AgentCard(
            name="Supplier agent",
            description="Globex's sales agent (test stand-in)",
            version="1.0.0",
            supported_interfaces=[
                AgentInterface(url=f"{url}/", protocol_binding="JSONRPC", protocol_version="1.0")
            ],
            capabilities=AgentCapabilities(streaming=False),
            default_input_modes=["application/json"],
            default_output_modes=["application/json"],
            skills=[
                AgentSkill(id="sell", name="Sell", description="Negotiates prices", tags=["sales"])
            ],
        )
        executor = SupplierExecutor(**kwargs)
        handler = DefaultRequestHandler(
            agent_executor=executor, task_store=InMemoryTaskStore(), agent_card=card
        )
        app = Starlette(
            routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")]
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=20)
        servers.append((server, thread))
        return url, executor

    servers: list = []
    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def settled(pk: int) -> Negotiation | None:
    negotiation = Negotiation.objects.get(pk=pk)
    return negotiation if negotiation.status != NegotiationStatus.RUNNING else None


def test_we_negotiate_with_a_suppliers_agent_through_a_real_worker(
    tmp_path, worker_env, playbook, approval_route, supplier_agent
):
    url, executor = supplier_agent()
    negotiation = negotiation_create(
        playbook=playbook, seed=3, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    seat_agent_connect(participant=negotiation.participants.get(role="seller"), url=url)
    with celery_worker(tmp_path, worker_env) as worker:
        negotiation = wait_for(lambda: settled(negotiation.pk), timeout=120)
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL, worker.log()[-3000:]
    # the same seed and the same conceding seller as over the server: the same deal
    assert negotiation.agreed_terms == {"price": 97_000, "delivery_days": 20, "warranty_months": 12}
    assert negotiation.approval_requests.get().route_id == approval_route.pk
    sellers = Offer.objects.filter(negotiation=negotiation, sender="seller")
    assert set(sellers.values_list("performative", flat=True)) == {"counter"}
    assert sellers.count() == 29
    assert len(executor.received) == 29
    first = executor.received[0]
    assert first["role"] == "ROLE_USER"
    assert first["parts"][0]["data"]["sender"] == "buyer"
    # the moves went into the audit chain as the outside seat's (our buyer accepted)
    assert (
        AuditEvent.objects.filter(
            negotiation=negotiation, kind="offer.counter", actor="remote_agent:seller"
        ).count()
        == 29
    )


def test_a_reply_that_cannot_be_played_is_audited_and_asked_again(
    tmp_path, worker_env, playbook, approval_route, supplier_agent
):
    url, executor = supplier_agent(first_reply_broken=True)
    negotiation = negotiation_create(
        playbook=playbook, seed=3, seats={"seller": SeatKind.REMOTE_AGENT}
    )
    seat_agent_connect(participant=negotiation.participants.get(role="seller"), url=url)
    with celery_worker(tmp_path, worker_env):
        negotiation = wait_for(lambda: settled(negotiation.pk), timeout=120)
    assert negotiation.status == NegotiationStatus.PENDING_APPROVAL
    [failed] = AuditEvent.objects.filter(negotiation=negotiation, kind="seat.agent_reply_failed")
    assert failed.payload["what"] == "unusable reply"
    assert failed.payload["problems"] == [
        "message.parts[0].data: 'fixed_terms_hash' is a required property"
    ]
    # nothing of the broken reply was played; the agent was asked again, told why
    assert not Offer.objects.filter(negotiation=negotiation, terms__price=1).exists()
    again = executor.received[1]
    texts = [p["text"] for p in again["parts"] if "text" in p]
    assert texts[-1] == (
        "Your last reply could not be used: "
        "message.parts[0].data: 'fixed_terms_hash' is a required property"
    )
    assert again["messageId"].endswith("-r1-a1")
