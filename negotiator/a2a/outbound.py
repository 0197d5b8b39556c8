"""Calling a supplier's own A2A agent for its seat (we are the client).

When the negotiation waits for a seat whose participant has a :class:`SeatAgent`,
the ``agent_turn`` task reads the agent's card (kept in the shared cache),
sends our offer on the table with SendMessage through the a2a-sdk client, and
plays the move in its reply with ``seat_move_submit``: the same checks, the same
idempotency (the reply is keyed by our message id), the same turn deadline.
A reply that cannot be played is audited and asked again with the problem
named, with growing pauses, until the turn deadline; then the sweeper applies
the playbook's rule. Nothing from a reply is played unless it passes every check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import AgentCard, Message, Part, Role, SendMessageRequest, TaskState
from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, VERSION_HEADER
from a2a.utils.errors import A2AError
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Struct, Value

from negotiator.a2a.messages import move_parts
from negotiator.a2a.offers import move_from_data, offer_public
from negotiator.a2a.seat_task import TERMINAL, space_of
from negotiator.audit import audit_append
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    SeatAgent,
    SeatKind,
)
from negotiator.services.errors import ServiceError
from negotiator.services.roles import actor_of
from negotiator.services.scheduling import task_enqueue_on_commit
from negotiator.services.seats import (
    MoveBlocked,
    MoveInvalid,
    OutOfTurn,
    seat_move_submit,
)

log = logging.getLogger(__name__)

AGENT_TURN = "negotiator.a2a.tasks.agent_turn"
MAX_PAUSE_SECONDS = 60


@dataclass(frozen=True)
class TurnOutcome:
    """What one call to the supplier's agent came to: ``retry_in`` seconds when it
    should be asked again (``note`` tells it what was wrong), else None."""

    result: str
    retry_in: float | None = None
    note: str = ""


class ReplyUnusable(Exception):
    """Their reply carries no move we can play; ``problems`` says why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [p[:300] for p in problems][:10]
        super().__init__("; ".join(self.problems))


def seat_agent_connect(*, participant: Participant, url: str, user=None) -> SeatAgent:
    """Point an outside agent seat at the supplier's A2A agent (its base URL). If
    the negotiation already waits for that seat, the agent is called at once."""
    if participant.seat != SeatKind.REMOTE_AGENT:
        raise ServiceError(f"'{participant.role}' is not an outside agent seat.")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ServiceError(f"{url!r} is not an http(s) URL.") from None
    with transaction.atomic():
        agent, _ = SeatAgent.objects.update_or_create(
            participant=participant,
            defaults={"url": url, "remote_task_id": "", "remote_context_id": ""},
        )
        audit_append(
            negotiation=participant.negotiation_id,
            kind="seat.agent_connected",
            actor=actor_of(user),
            user=user,
            payload={"party": participant.role, "url": url},
        )
        negotiation = Negotiation.objects.get(pk=participant.negotiation_id)
        if negotiation.waiting_for == participant.role:
            task_enqueue_on_commit(
                AGENT_TURN, negotiation.pk, participant.role, negotiation.current_round
            )
    return agent


def agent_turn_wanted(participant: Participant) -> bool:
    """Whether agent_turn_notify has anything to do for the seat: only a seat
    with an agent URL is called (an agent connected later is called then).
    Asked after every outside move: one plain query, not the ORM's building."""
    with connection.cursor() as cursor:
        cursor.execute(_AGENT_SQL, [participant.pk])
        return cursor.fetchone() is not None


_AGENT_SQL = f"SELECT 1 FROM {SeatAgent._meta.db_table} WHERE participant_id = %s"


def agent_turn_notify(negotiation: Negotiation, participant: Participant, reminder: bool) -> None:
    """The seat-turn notifier for outside agent seats: call those that have an
    agent URL; an agent that calls us finds its turn with GetTask or ListTasks."""
    if not agent_turn_wanted(participant):
        log.info("negotiation %s waits for %s (it calls us)", negotiation.pk, participant.role)
        return
    task_enqueue_on_commit(AGENT_TURN, negotiation.pk, participant.role, negotiation.current_round)


def agent_turn_play(
    *, negotiation_id: int, party: str, round_number: int, attempt: int = 0, note: str = ""
) -> TurnOutcome:
    """Ask the seat's agent for its move at this turn and play it. A turn that
    is over (moved, ended, another round) is left alone."""
    negotiation = (
        Negotiation.objects.select_related("playbook_version").filter(pk=negotiation_id).first()
    )
    if not _still_waiting(negotiation, party, round_number):
        return TurnOutcome("stale")
    participant = negotiation.participants.select_related("agent").get(role=party)
    agent = getattr(participant, "agent", None)
    if agent is None:
        return TurnOutcome("no agent")
    request = _request_for(negotiation, participant, agent, attempt, note)
    try:
        reply = _exchange(agent, request)
        message = _move_message(agent, reply)
        data, rationale = _parts(message)
        seat_move_submit(
            participant=participant,
            move=move_from_data(data, rationale),
            message_id=f"a2a-out:{request.message.message_id}",
        )
    except OutOfTurn:
        return TurnOutcome("stale")
    except ReplyUnusable as exc:
        return _retry_after_problem(negotiation, party, attempt, "unusable reply", exc.problems)
    except MoveInvalid as exc:
        return _retry_after_problem(negotiation, party, attempt, "invalid offer", exc.problems)
    except MoveBlocked:
        problem = "Our policies do not allow that offer; send a different one."
        return _retry_after_problem(negotiation, party, attempt, "blocked offer", [problem])
    except (A2AError, httpx.HTTPError, ValueError, OSError) as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        return _retry_after_problem(negotiation, party, attempt, "unreachable", [problem])
    return TurnOutcome("played")


def _still_waiting(negotiation: Negotiation | None, party: str, round_number: int) -> bool:
    return (
        negotiation is not None
        and negotiation.status == NegotiationStatus.RUNNING
        and negotiation.waiting_for == party
        and negotiation.current_round == round_number
    )


def _request_for(negotiation, participant, agent, attempt: int, note: str) -> SendMessageRequest:
    """Our offer on the table as a data part (public fields only), its rationale
    and, when asking again, what was wrong with the last reply."""
    ours = (
        Offer.objects.filter(negotiation=negotiation)
        .exclude(sender=participant.role)
        .order_by("-id")
        .first()
    )
    parts = []
    if ours is not None:
        parts.append(
            Part(data=ParseDict(offer_public(ours), Value()), media_type="application/json")
        )
        if ours.rationale:
            parts.append(Part(text=ours.rationale, media_type="text/plain"))
    if note:
        parts.append(
            Part(text=f"Your last reply could not be used: {note}", media_type="text/plain")
        )
    seat = {"negotiation": negotiation.pk, "your_role": participant.role}
    if negotiation.turn_due_at:
        seat["turn_due_at"] = negotiation.turn_due_at.isoformat()
    message = Message(
        message_id=f"negotiator-{negotiation.pk}-{participant.role}-r{negotiation.current_round}-a{attempt}",
        role=Role.ROLE_USER,
        task_id=agent.remote_task_id,
        context_id=agent.remote_context_id,
        parts=parts,
        metadata=ParseDict({"seat": seat, "space": space_of(negotiation)}, Struct()),
    )
    return SendMessageRequest(message=message)


def _card_key(url: str) -> str:
    return "a2a:card:" + hashlib.sha256(url.encode()).hexdigest()


def _exchange(agent: SeatAgent, request: SendMessageRequest):
    """One SendMessage through the a2a-sdk client; the card comes from the shared
    cache when it is there. Returns the first (only) StreamResponse."""
    cache = caches[settings.A2A_CACHE_ALIAS]
    card_data = cache.get(_card_key(agent.url))
    reply, fetched = asyncio.run(_send(agent.url, card_data, request))
    if fetched is not None and settings.A2A_CARD_CACHE_SECONDS:
        cache.set(_card_key(agent.url), fetched, timeout=settings.A2A_CARD_CACHE_SECONDS)
    return reply


async def _send(url: str, card_data: dict[str, Any] | None, request: SendMessageRequest):
    timeout = httpx.Timeout(settings.A2A_CLIENT_TIMEOUT_SECONDS)
    headers = {VERSION_HEADER: PROTOCOL_VERSION_CURRENT}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as http:
        fetched = None
        if card_data is None:
            card = await A2ACardResolver(http, url).get_agent_card()
            fetched = MessageToDict(card)
        else:
            card = ParseDict(card_data, AgentCard(), ignore_unknown_fields=True)
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        try:
            async for event in client.send_message(request):
                return event, fetched
        finally:
            await client.close()
    raise ReplyUnusable(["the agent sent no reply"])


def _move_message(agent: SeatAgent, reply) -> Message:
    """The message that carries their move: a direct reply, or their task's status
    message. Their task and context ids are kept so the next turn continues them."""
    if reply.HasField("message"):
        message = reply.message
        task = None
    elif reply.HasField("task"):
        task = reply.task
        message = task.status.message
    else:
        raise ReplyUnusable(["the reply is neither a message nor a task"])
    task_id = task.id if task is not None and task.status.state not in TERMINAL else ""
    context_id = (task.context_id if task is not None else message.context_id) or ""
    if (agent.remote_task_id, agent.remote_context_id) != (task_id, context_id[:200]):
        SeatAgent.objects.filter(pk=agent.pk).update(
            remote_task_id=task_id[:200], remote_context_id=context_id[:200]
        )
    if (
        task is not None
        and task.status.state
        in (
            TaskState.TASK_STATE_CANCELED,
            TaskState.TASK_STATE_REJECTED,
        )
        and not any(p.HasField("data") for p in message.parts)
    ):
        # Their agent ended the conversation without an offer: it walks away.
        return _withdrawal(message)
    return message


def _withdrawal(message: Message) -> Message:
    withdraw = Message(message_id=message.message_id or "withdraw", role=Role.ROLE_AGENT)
    withdraw.parts.append(Part(data=ParseDict({"performative": "withdraw"}, Value())))
    withdraw.parts.extend(p for p in message.parts if p.HasField("text"))
    return withdraw


def _parts(message: Message) -> tuple[dict[str, Any], str]:
    try:
        return move_parts(message, role=Role.ROLE_AGENT)
    except A2AError as exc:
        details = (exc.data or {}).get("errors") or []
        problems = [f"{d['field']}: {d['message']}" for d in details]
        raise ReplyUnusable(problems or [exc.message]) from None


def _retry_after_problem(
    negotiation: Negotiation, party: str, attempt: int, what: str, problems: list[str]
) -> TurnOutcome:
    """Audit the failed exchange, then ask again after a growing pause, as long
    as the pause ends before the turn deadline (after it, the sweeper decides)."""
    problems = [str(p)[:300] for p in problems][:10]
    with transaction.atomic():
        audit_append(
            negotiation=negotiation.pk,
            kind="seat.agent_reply_failed",
            actor=f"{SeatKind.REMOTE_AGENT}:{party}",
            payload={"party": party, "attempt": attempt, "what": what, "problems": problems},
        )
    pause = float(min(2**attempt, MAX_PAUSE_SECONDS))
    due = negotiation.turn_due_at
    if due is not None and timezone.now().timestamp() + pause >= due.timestamp():
        return TurnOutcome(f"{what}; turn deadline reached")
    return TurnOutcome(what, retry_in=pause, note="; ".join(problems)[:1000])
