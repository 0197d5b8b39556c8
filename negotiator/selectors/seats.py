"""Outside seats as the negotiation page shows them to its team: who plays each
outside seat, whose turn it is and until when, and each seat's credentials
(never a secret: only the prefix, dates, last use and the number of uses)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Participant,
    SeatCredential,
    SeatKind,
)

SEAT_BADGES = {
    SeatKind.REMOTE_AGENT: "outside agent",
    SeatKind.PERSON: "outside person",
}


@dataclass(frozen=True)
class CredentialView:
    pk: int
    kind: str
    kind_label: str
    prefix: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str
    uses: int

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "active"


@dataclass(frozen=True)
class SeatView:
    role: str
    label: str
    seat: str
    badge: str
    invitee_name: str
    invitee_email: str
    credentials: tuple[CredentialView, ...]

    @property
    def is_person(self) -> bool:
        return self.seat == SeatKind.PERSON

    @property
    def active_count(self) -> int:
        return sum(1 for c in self.credentials if c.state == "active")


@dataclass(frozen=True)
class TurnView:
    """An outside seat's running turn."""

    party: str
    label: str
    badge: str
    started_at: datetime | None
    due_at: datetime | None
    reminded_at: datetime | None


def _credential_view(credential: SeatCredential) -> CredentialView:
    return CredentialView(
        pk=credential.pk,
        kind=credential.kind,
        kind_label="invite link" if credential.kind == "invite" else "bearer token",
        prefix=credential.prefix,
        created_at=credential.created_at,
        created_by=credential.created_by.get_username() if credential.created_by_id else "",
        expires_at=credential.expires_at,
        revoked_at=credential.revoked_at,
        last_used_at=credential.last_used_at,
        last_used_from=credential.last_used_from,
        uses=credential.uses,
    )


def outside_seats_of(negotiation: Negotiation) -> list[SeatView]:
    """The negotiation's outside seats with their credentials, newest first (two
    queries; none of them when every seat is ours)."""
    credentials = SeatCredential.objects.select_related("created_by").order_by("-created_at")
    participants = (
        Participant.objects.filter(negotiation=negotiation)
        .exclude(seat=SeatKind.BUILTIN)
        .only("role", "label", "seat", "invitee_name", "invitee_email", "negotiation_id")
        .prefetch_related(Prefetch("credentials", queryset=credentials))
    )
    return [
        SeatView(
            role=p.role,
            label=p.label or p.role,
            seat=p.seat,
            badge=SEAT_BADGES.get(p.seat, p.seat),
            invitee_name=p.invitee_name,
            invitee_email=p.invitee_email,
            credentials=tuple(_credential_view(c) for c in p.credentials.all()),
        )
        for p in participants
    ]


def turn_of(negotiation: Negotiation, parties: Sequence[Any]) -> TurnView | None:
    """The outside seat whose move the negotiation waits for, if any. ``parties``:
    the page's party views (role, label, seat), so the live poll adds no query."""
    if negotiation.status != NegotiationStatus.RUNNING or not negotiation.waiting_for:
        return None
    party = next((p for p in parties if p.role == negotiation.waiting_for), None)
    return TurnView(
        party=negotiation.waiting_for,
        label=party.label if party else negotiation.waiting_for,
        badge=SEAT_BADGES.get(party.seat, "") if party else "",
        started_at=negotiation.turn_started_at,
        due_at=negotiation.turn_due_at,
        reminded_at=negotiation.turn_reminded_at,
    )


def credential_of(negotiation: Negotiation, pk: int) -> SeatCredential | None:
    """One of this negotiation's credentials; None for another negotiation's, so
    an id from elsewhere is treated like a missing one."""
    return (
        SeatCredential.objects.select_related("participant")
        .filter(pk=pk, participant__negotiation=negotiation)
        .first()
    )
