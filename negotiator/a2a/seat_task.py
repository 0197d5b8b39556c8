"""A seat's negotiation as an A2A task, built only from what that seat may see:
the public offers (ours and its own), the outcome space and fixed terms, its
own turn deadline, and the agreed terms. Never a profile, a policy, a
utility, a strategy parameter or the reason text our side recorded (which
may name a policy).

One seat has exactly one task: its negotiation. The task id is an HMAC of the
negotiation and the seat under the server's secret, so it cannot be guessed
without the seat's credential; any other id is "not found".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from a2a.types import Artifact, Message, Part, Role, Task, TaskState, TaskStatus
from django.conf import settings
from google.protobuf.json_format import ParseDict
from google.protobuf.struct_pb2 import Struct, Value
from google.protobuf.timestamp_pb2 import Timestamp

from negotiator.a2a.offers import offer_public
from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    PlaybookVersion,
)
from negotiator.round_store import OFFER_FIELDS, OfferRow
from negotiator.services.seats import MoveResult

MAX_HISTORY = 200
# Never loaded for a seat: the engine state and plan (large, private parts) and
# each offer's utilities (private).
_NEGOTIATION_UNSEEN = ("engine_state", "plan")

# Our negotiation status → the A2A task state, and what the status message says.
# Running is split by whose move it is; "failed" by who ended it (see task_state).
STATE_OF_STATUS: dict[str, tuple[int, str]] = {
    NegotiationStatus.DRAFT: (TaskState.TASK_STATE_SUBMITTED, "Not started yet."),
    NegotiationStatus.PENDING_APPROVAL: (
        TaskState.TASK_STATE_WORKING,
        "Agreed. The deal is waiting for approval on our side.",
    ),
    NegotiationStatus.ESCALATED: (
        TaskState.TASK_STATE_WORKING,
        "On hold: a person on our side is reviewing the negotiation.",
    ),
    NegotiationStatus.APPROVED: (TaskState.TASK_STATE_COMPLETED, "Agreed and approved."),
    NegotiationStatus.REJECTED: (
        TaskState.TASK_STATE_REJECTED,
        "The agreement was not approved on our side.",
    ),
    NegotiationStatus.FAILED: (TaskState.TASK_STATE_FAILED, "Ended without an agreement."),
    NegotiationStatus.TIMED_OUT: (
        TaskState.TASK_STATE_FAILED,
        "Ended without an agreement: the negotiation's time ran out.",
    ),
    NegotiationStatus.CANCELLED: (TaskState.TASK_STATE_CANCELED, "Closed by our side."),
}
TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)


def _tag(kind: str, participant: Participant) -> str:
    key = settings.SECRET_KEY.encode()
    what = f"a2a-{kind}:{participant.negotiation_id}:{participant.role}".encode()
    return hmac.new(key, what, hashlib.sha256).hexdigest()[:32]


def task_id_for(participant: Participant) -> str:
    return "task-" + _tag("task", participant)


def context_id_for(participant: Participant) -> str:
    return "ctx-" + _tag("context", participant)


def task_state(
    negotiation: Negotiation,
    participant: Participant,
    *,
    status: str | None = None,
    waiting_for: str | None = None,
    last: Offer | None = None,
) -> tuple[int, str]:
    """The task state and its status text for the seat. ``status`` and
    ``waiting_for`` default to the negotiation's; a replayed message passes the
    ones recorded with it, so it gets the same answer."""
    status = negotiation.status if status is None else status
    waiting_for = negotiation.waiting_for if waiting_for is None else waiting_for
    if status == NegotiationStatus.RUNNING:
        if waiting_for == participant.role:
            return TaskState.TASK_STATE_INPUT_REQUIRED, "Your turn: answer our offer."
        return TaskState.TASK_STATE_WORKING, "The other side is moving."
    if (
        status == NegotiationStatus.FAILED
        and last is not None
        and last.sender == participant.role
        and last.performative == "withdraw"
    ):
        return TaskState.TASK_STATE_CANCELED, "You withdrew from the negotiation."
    return STATE_OF_STATUS[status]


def seat_state(participant: Participant) -> tuple[int, str]:
    """The seat's task state now, and its status text."""
    negotiation = Negotiation.objects.defer(*_NEGOTIATION_UNSEEN).get(pk=participant.negotiation_id)
    last = Offer.objects.defer("utilities").filter(negotiation=negotiation).order_by("-id").first()
    return task_state(negotiation, participant, last=last)


_SPACES: dict[int, dict[str, Any]] = {}


def space_of(negotiation: Negotiation) -> dict[str, Any]:
    """The outcome space and fixed terms the seat negotiates over (public). Kept
    per playbook version (immutable), so its spec is read once per process."""
    pk = negotiation.playbook_version_id
    if pk not in _SPACES:
        spec = PlaybookVersion.objects.values_list("spec", flat=True).get(pk=pk)
        fixed = dict(spec.get("fixed_terms") or {})
        if len(_SPACES) > 256:  # versions are immutable; the cache only bounds memory
            _SPACES.clear()
        _SPACES[pk] = {
            "issues": list(spec.get("issues") or []),
            "fixed_terms": fixed,
            "fixed_terms_hash": fixed_terms_hash(fixed),
            "currency": spec.get("currency", ""),
        }
    return _SPACES[pk]


def _struct(data: dict[str, Any]) -> Struct:
    return ParseDict(data, Struct())


def _timestamp(when) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def offer_message(offer: Offer, participant: Participant) -> Message:
    """One public offer as an A2A message: the offer as a data part, the
    rationale as a text part; the seat's own offers carry the user role."""
    parts = [Part(data=ParseDict(offer_public(offer), Value()), media_type="application/json")]
    if offer.rationale:
        parts.append(Part(text=offer.rationale, media_type="text/plain"))
    return Message(
        message_id=f"offer-{offer.pk}",
        context_id=context_id_for(participant),
        task_id=task_id_for(participant),
        role=Role.ROLE_USER if offer.sender == participant.role else Role.ROLE_AGENT,
        parts=parts,
    )


def seat_task(
    participant: Participant,
    *,
    history: bool = False,
    result: MoveResult | None = None,
) -> Task:
    """The seat's task now, or as a move left it (``result``: the answer to a
    message, the same for a replay of it)."""
    negotiation, offers = _rows(participant, result)
    last = offers[-1] if offers else None
    state, text = task_state(
        negotiation,
        participant,
        status=result.status if result else None,
        waiting_for=result.waiting_for if result else None,
        last=last,
    )
    ours = [o for o in offers if o.sender != participant.role]
    task = Task(
        id=task_id_for(participant),
        context_id=context_id_for(participant),
        status=_status(participant, state, text, ours[-1] if ours else None, last, negotiation),
        metadata=_struct(_metadata(negotiation, participant, state)),
    )
    if negotiation.agreed_terms and negotiation.status in (
        NegotiationStatus.PENDING_APPROVAL,
        NegotiationStatus.APPROVED,
    ):
        task.artifacts.append(_agreement(negotiation))
    if history:
        task.history.extend(offer_message(o, participant) for o in _all_offers(negotiation, offers))
    return task


def _rows(participant: Participant, result: MoveResult | None) -> tuple[Negotiation, list[Offer]]:
    """The negotiation and the offers to show: those a move produced (in hand
    when it was just played, else one query, the negotiation joined), or the
    newest of all."""
    offers = Offer.objects.defer("utilities")
    if result is not None and result.offer_ids and _in_hand(result):
        negotiation, rows = result.rows
        return negotiation, [_offer_of(row) for row in rows]
    if result is not None and result.offer_ids:
        rows = list(
            offers.filter(pk__in=result.offer_ids)
            .select_related("negotiation")
            .defer(*(f"negotiation__{f}" for f in _NEGOTIATION_UNSEEN))
            .order_by("id")
        )
        return rows[0].negotiation, rows
    negotiation = Negotiation.objects.defer(*_NEGOTIATION_UNSEEN).get(pk=participant.negotiation_id)
    if result is not None:
        return negotiation, []
    rows = list(offers.filter(negotiation=negotiation).order_by("-id")[:MAX_HISTORY])
    return negotiation, rows[::-1]


def _in_hand(result: MoveResult) -> bool:
    """Whether the move's rows came with it, as reading them back would give them
    (an offer's expiry is a string until the database parses it: read those)."""
    return result.rows is not None and all(row.expires_at is None for row in result.rows[1])


def _offer_of(row: OfferRow) -> Offer:
    """An offer row the move just wrote, as the model reading it back would give."""
    return Offer(**{name: getattr(row, name) for name in OFFER_FIELDS if name != "utilities"})


def _all_offers(negotiation: Negotiation, offers: Sequence[Offer]) -> Sequence[Offer]:
    if len(offers) < MAX_HISTORY:
        return offers
    newest = list(
        Offer.objects.defer("utilities")
        .filter(negotiation=negotiation)
        .order_by("-id")[:MAX_HISTORY]
    )
    return newest[::-1]


def _status(
    participant: Participant,
    state: int,
    text: str,
    ours: Offer | None,
    last: Offer | None,
    negotiation: Negotiation,
) -> TaskStatus:
    """Our latest offer is the status message (the answer the seat waits for),
    with the state's text as a second part; without one, the text alone."""
    if ours is not None:
        message = offer_message(ours, participant)
        message.parts.append(Part(text=text, media_type="text/plain"))
    else:
        message = Message(
            message_id=f"status-{negotiation.pk}-{last.pk if last else 0}",
            context_id=context_id_for(participant),
            task_id=task_id_for(participant),
            role=Role.ROLE_AGENT,
            parts=[Part(text=text, media_type="text/plain")],
        )
    when = last.created_at if last is not None else negotiation.created_at
    return TaskStatus(state=state, message=message, timestamp=_timestamp(when))


def _metadata(negotiation: Negotiation, participant: Participant, state: int) -> dict[str, Any]:
    seat: dict[str, Any] = {"negotiation": negotiation.pk, "your_role": participant.role}
    if (
        state == TaskState.TASK_STATE_INPUT_REQUIRED
        and negotiation.waiting_for == participant.role
        and negotiation.turn_due_at
    ):
        seat["turn_due_at"] = negotiation.turn_due_at.isoformat()
    return {"seat": seat, "space": space_of(negotiation)}


def _agreement(negotiation: Negotiation) -> Artifact:
    data = {"terms": negotiation.agreed_terms, "offer_id": negotiation.agreed_offer_id}
    return Artifact(
        artifact_id="agreement",
        name="Agreed terms",
        parts=[Part(data=ParseDict(data, Value()), media_type="application/json")],
    )
