"""Starting a negotiation through the API: the same service the page calls
(negotiator.services.lifecycle.negotiation_create), with the same permission
rule, plus one new credential per outside seat (a bearer token for an outside
agent, an invite for an outside person) in the same transaction, so a caller
never gets a negotiation without the credentials it asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from negotiator import permissions
from negotiator.models import CredentialKind, Negotiation, Playbook, SeatKind
from negotiator.selectors.visibility import playbooks_startable_by
from negotiator.services.errors import NotAllowed
from negotiator.services.lifecycle import LimitOverrides, negotiation_create
from negotiator.services.seats import seat_credential_issue

CREDENTIAL_KIND = {
    SeatKind.REMOTE_AGENT: CredentialKind.TOKEN,
    SeatKind.PERSON: CredentialKind.INVITE,
}


@dataclass(frozen=True)
class IssuedCredential:
    """An outside seat's new credential with its secret (shown once, stored nowhere)."""

    role: str
    seat: str
    kind: str
    prefix: str
    expires_at: datetime
    secret: str


def negotiation_start_with_seats(
    *,
    user,
    playbook: Playbook,
    title: str = "",
    seed: int | None = None,
    overrides: LimitOverrides | None = None,
    strategies: Mapping[str, str] | None = None,
    seats: Mapping[str, str] | None = None,
    credential_days: int = 30,
) -> tuple[Negotiation, list[IssuedCredential]]:
    """Create and start a negotiation from a playbook the person may start from,
    and issue its outside seats' credentials. NotAllowed for anyone else; any
    ServiceError leaves nothing behind."""
    if not permissions.may_operate(user):
        raise NotAllowed("Only operators may start negotiations.")
    if not playbooks_startable_by(user).filter(pk=playbook.pk).exists():
        raise NotAllowed("You may start negotiations only from your teams' playbooks.")
    with transaction.atomic():
        negotiation = negotiation_create(
            playbook=playbook,
            user=user,
            title=title,
            overrides=overrides,
            strategies=strategies,
            seats=seats,
            seed=seed,
        )
        issued = []
        for participant in negotiation.participants.order_by("order", "id"):
            if not participant.is_outside:
                continue
            credential, secret = seat_credential_issue(
                participant=participant,
                kind=CREDENTIAL_KIND[participant.seat],
                user=user,
                valid_for=timedelta(days=credential_days),
            )
            issued.append(
                IssuedCredential(
                    role=participant.role,
                    seat=participant.seat,
                    kind=credential.kind,
                    prefix=credential.prefix,
                    expires_at=credential.expires_at,
                    secret=secret,
                )
            )
    return negotiation, issued
