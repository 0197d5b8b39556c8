"""What an outside person sees of their negotiation in the portal: the public
offers of every side (terms and messages; never utilities, policy checks,
profiles or strategies), the offer on the table, whose turn it is and until when,
and the form's fields as the playbook defines the issues. Nothing here reads a
private column: offers are loaded without their utilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.models import Negotiation, NegotiationStatus, Offer, Participant, SeatMessage
from negotiator.selectors.formatting import TermView, format_value, issue_meta, term_views

HISTORY_LIMIT = 200
PUBLIC_OFFER_FIELDS = (
    "id",
    "round",
    "sender",
    "performative",
    "terms",
    "rationale",
    "engine_id",
    "created_at",
)

VERBS = {
    "propose": "offer",
    "counter": "counteroffer",
    "accept": "accepted",
    "reject": "rejected the offer",
    "withdraw": "walked away",
}

# The result of a person's own move, and how another side's answer reads.
SENT = {
    "propose": "Your offer was sent.",
    "counter": "Your counteroffer was sent.",
    "accept": "You accepted the offer.",
    "reject": "You rejected the offer.",
    "withdraw": "You ended the negotiation.",
}
ANSWERED = {
    "propose": "made an offer",
    "counter": "answered with a counteroffer",
    "accept": "accepted your offer",
    "reject": "rejected your offer",
    "withdraw": "walked away",
}


class Phase(StrEnum):
    YOUR_TURN = "your_turn"
    THEIR_TURN = "their_turn"
    STARTING = "starting"
    PAUSED = "paused"
    AGREED = "agreed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ENDED = "ended"


_PHASE_OF_STATUS = {
    NegotiationStatus.DRAFT: Phase.STARTING,
    NegotiationStatus.ESCALATED: Phase.PAUSED,
    NegotiationStatus.PENDING_APPROVAL: Phase.AGREED,
    NegotiationStatus.APPROVED: Phase.APPROVED,
    NegotiationStatus.REJECTED: Phase.REJECTED,
    NegotiationStatus.FAILED: Phase.ENDED,
    NegotiationStatus.TIMED_OUT: Phase.ENDED,
    NegotiationStatus.CANCELLED: Phase.ENDED,
}


@dataclass(frozen=True)
class PublicOffer:
    id: int
    round: int
    sender_label: str
    mine: bool
    performative: str
    verb: str
    terms: list[TermView]
    message: str
    created_at: datetime

    @property
    def sent_sentence(self) -> str:
        return SENT.get(self.performative, "Your answer was sent.")

    @property
    def answer_phrase(self) -> str:
        return ANSWERED.get(self.performative, self.performative)


@dataclass(frozen=True)
class IssueField:
    """One negotiable issue as a form control."""

    name: str
    label: str
    kind: str  # numeric, categorical, ordinal
    unit: str
    minimum: str
    maximum: str
    step: str
    options: tuple[tuple[str, str], ...]  # (value, label) for a select
    value: str
    hint: str


@dataclass(frozen=True)
class PortalView:
    negotiation_id: int
    title: str
    me: str
    others: str
    status: str
    phase: Phase
    due_at: datetime | None
    reminded: bool
    standing: PublicOffer | None
    history: list[PublicOffer]
    fields: list[IssueField]
    fixed_terms: list[tuple[str, str]]
    fixed_hash: str  # what every move carries: the person never types it
    reply_to: int | None  # the offer on the table as the move service knows it
    agreed_terms: list[TermView]

    @property
    def standing_is_theirs(self) -> bool:
        return self.standing is not None and not self.standing.mine

    @property
    def may_move(self) -> bool:
        return self.phase == Phase.YOUR_TURN


@dataclass(frozen=True)
class MoveOutcome:
    """What a person's move led to: their own offer and the answers that came back."""

    mine: PublicOffer | None
    answers: list[PublicOffer]


def _plain(value: Any) -> str:
    """A number as an input's value: no separators, no needless decimals."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def issue_fields(spec: Mapping[str, Any], values: Mapping[str, Any]) -> list[IssueField]:
    """The form's controls, in the playbook's order, prefilled with ``values``."""
    out = []
    for item in spec.get("issues") or []:
        name = item["name"]
        unit = item.get("unit", "")
        label = item.get("label") or name.replace("_", " ").capitalize()
        kind = item.get("type", "numeric")
        if kind == "numeric":
            low, high, step = item.get("lower"), item.get("upper"), item.get("step")
            hint = f"{format_value(low)} to {format_value(high, unit)}"
            if step:
                hint += f", in steps of {format_value(step)}"
            options: tuple[tuple[str, str], ...] = ()
        else:
            low = high = step = None
            hint = "from lowest to highest" if kind == "ordinal" else ""
            options = tuple((str(o), format_value(str(o))) for o in item.get("options") or [])
        out.append(
            IssueField(
                name=name,
                label=label,
                kind=kind,
                unit=unit,
                minimum=_plain(low),
                maximum=_plain(high),
                step=_plain(step) if step else ("1" if item.get("integer", True) else "any"),
                options=options,
                value=_plain(values.get(name)),
                hint=hint,
            )
        )
    return out


def _public_offers(negotiation_id: int) -> list[Offer]:
    """The newest offers, oldest first, without any private column."""
    rows = Offer.objects.filter(negotiation_id=negotiation_id).only(*PUBLIC_OFFER_FIELDS)
    return list(reversed(rows.order_by("-id")[:HISTORY_LIMIT]))


def _public(offer: Offer, me: str, labels: Mapping[str, str], meta) -> PublicOffer:
    return PublicOffer(
        id=offer.pk,
        round=offer.round,
        sender_label="You" if offer.sender == me else labels.get(offer.sender, offer.sender),
        mine=offer.sender == me,
        performative=offer.performative,
        verb=VERBS.get(offer.performative, offer.performative),
        terms=term_views(offer.terms, meta),
        message=offer.rationale,
        created_at=offer.created_at,
    )


def standing_engine_id(negotiation: Negotiation) -> str | None:
    """The engine id of the offer on the table (None: nothing stands)."""
    state = negotiation.engine_state or {}
    index, history = state.get("standing"), state.get("history") or []
    if not isinstance(index, int) or not 0 <= index < len(history):
        return None
    return history[index].get("id")


def humanized(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _phase(negotiation: Negotiation, me: str, offers: list[Offer]) -> Phase:
    if negotiation.status != NegotiationStatus.RUNNING:
        return _PHASE_OF_STATUS.get(negotiation.status, Phase.ENDED)
    if negotiation.waiting_for == me:
        return Phase.YOUR_TURN
    return Phase.THEIR_TURN if offers else Phase.STARTING


def portal_view(participant: Participant) -> PortalView:
    """The portal page of one outside person's seat."""
    negotiation = Negotiation.objects.select_related("playbook_version").get(
        pk=participant.negotiation_id
    )
    spec = negotiation.playbook_version.spec
    fixed = spec.get("fixed_terms") or {}
    meta = issue_meta(spec.get("issues"))
    parties = list(negotiation.participants.only("role", "label"))
    labels = {p.role: p.label or p.role for p in parties}
    me = participant.role
    rows = _public_offers(negotiation.pk)
    history = [_public(o, me, labels, meta) for o in rows]
    standing_id = standing_engine_id(negotiation)
    standing = next(
        (o for o, row in zip(history, rows, strict=True) if row.engine_id == standing_id), None
    )
    mine = next((row.terms for row in reversed(rows) if row.sender == me and row.terms), {})
    prefill = dict(next((r.terms for r in rows if r.engine_id == standing_id), None) or mine)
    return PortalView(
        negotiation_id=negotiation.pk,
        title=str(negotiation),
        me=labels.get(me, me),
        others=" and ".join(label for role, label in labels.items() if role != me),
        status=negotiation.status,
        phase=_phase(negotiation, me, rows),
        due_at=negotiation.turn_due_at if negotiation.waiting_for == me else None,
        reminded=negotiation.turn_reminded_at is not None and negotiation.waiting_for == me,
        standing=standing,
        history=list(reversed(history)),
        fields=issue_fields(spec, prefill),
        fixed_terms=[(humanized(k), str(v)) for k, v in fixed.items()],
        fixed_hash=fixed_terms_hash(fixed),
        reply_to=(negotiation.engine_state or {}).get("offer_pks", {}).get(standing_id or ""),
        agreed_terms=term_views(negotiation.agreed_terms, meta) if negotiation.agreed_terms else [],
    )


def move_outcome(participant: Participant, message_id: str) -> MoveOutcome | None:
    """The recorded result of one of this seat's messages (None: no such message)."""
    message = SeatMessage.objects.filter(participant=participant, message_id=message_id).first()
    if message is None:
        return None
    negotiation = Negotiation.objects.select_related("playbook_version").get(
        pk=participant.negotiation_id
    )
    meta = issue_meta(negotiation.playbook_version.spec.get("issues"))
    labels = {p.role: p.label or p.role for p in negotiation.participants.only("role", "label")}
    ids = list((message.reply or {}).get("offer_ids") or [])
    offers = [
        _public(o, participant.role, labels, meta)
        for o in Offer.objects.filter(negotiation=negotiation, pk__in=ids)
        .only(*PUBLIC_OFFER_FIELDS)
        .order_by("id")
    ]
    return MoveOutcome(
        mine=next((o for o in offers if o.mine), None),
        answers=[o for o in offers if not o.mine],
    )
