"""Opening outside seats to the people and agents who play them: the credential a
new negotiation's outside seat starts with (an agent's bearer token; a person's
invite link, mailed to them), a new one when an operator asks, and the mails that
tell a person it is their turn.

A secret is never stored (only its hash), so an invite link is mailed the moment
it is made, from the request that made it; the credential is shown to the
operator once as well. Turn notices and reminders carry no secret: they ask the
person to open the invite link they were sent. So a secret travels once, to the
address an operator typed; a notice that is forwarded or read by a mail scanner
opens nothing; and the seat's credential list on the negotiation page shows every
link that works (revoking is one click), instead of one more live link per turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from negotiator.audit import audit_append
from negotiator.models import (
    CredentialKind,
    Negotiation,
    Participant,
    Playbook,
    SeatCredential,
    SeatKind,
    SeatMessage,
)
from negotiator.services import lifecycle
from negotiator.services.errors import ServiceError
from negotiator.services.seats import (
    DEFAULT_CREDENTIAL_DAYS,
    negotiation_lock,
    seat_credential_issue,
    seat_notifier_register,
)

log = logging.getLogger(__name__)

MAX_NAME = 120
AGENT_CARD_PATH = "/.well-known/agent-card.json"


@dataclass(frozen=True)
class Invitee:
    """The outside person a seat is given to."""

    name: str
    email: str


@dataclass(frozen=True)
class IssuedCredential:
    """A credential just made, with its secret: shown once, never again."""

    role: str
    label: str
    seat: str
    credential: SeatCredential
    secret: str
    link: str = ""  # a person's portal link
    agent_card: str = ""  # where an agent finds how to talk to us
    mailed_to: str = ""  # the invite went to this address
    mail_failed: bool = False  # the invite could not be mailed: pass the link on


def portal_link(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}{reverse('portal:seat', args=[secret])}"


def base_url_for(request_base: str) -> str:
    """Links in mails use NEGOTIATOR_BASE_URL when it is set (the address people
    reach us at behind a proxy), else the host of the request that made them."""
    return settings.NEGOTIATOR_BASE_URL or request_base.rstrip("/")


def invitee_checked(role: str, invitee: Invitee | None) -> Invitee:
    """The invitee of a person seat, or ServiceError saying what is missing."""
    name = (invitee.name if invitee else "").strip()
    email = (invitee.email if invitee else "").strip()
    if not email:
        raise ServiceError(
            f"The outside person for '{role}' needs an e-mail address: the invite link "
            "is mailed to it."
        )
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(f"'{email}' is not an e-mail address (for '{role}').") from None
    if not name or len(name) > MAX_NAME:
        raise ServiceError(
            f"The outside person for '{role}' needs a name of 1 to {MAX_NAME} characters "
            "(the invite mail greets them with it)."
        )
    return Invitee(name=name, email=email)


def negotiation_create_with_seats(
    *,
    playbook: Playbook,
    seats: Mapping[str, str],
    invitees: Mapping[str, Invitee],
    base_url: str,
    user=None,
    title: str = "",
    overrides: lifecycle.LimitOverrides | None = None,
    strategies: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> tuple[Negotiation, list[IssuedCredential]]:
    """Create a negotiation whose ``seats`` may be outside ones, and the first
    credential of each outside seat, in one transaction; then mail each invited
    person their link. ``invitees``: the person of each ``person`` seat."""
    unexpected = set(invitees) - {r for r, s in seats.items() if s == SeatKind.PERSON}
    if unexpected:
        raise ServiceError(
            f"Only an outside person seat takes an invitee: {', '.join(sorted(unexpected))}."
        )
    checked = {
        role: invitee_checked(role, invitees.get(role))
        for role, seat in seats.items()
        if seat == SeatKind.PERSON
    }
    with transaction.atomic():
        negotiation = lifecycle.negotiation_create(
            playbook=playbook,
            user=user,
            title=title,
            overrides=overrides,
            strategies=strategies,
            seats=seats,
            seed=seed,
        )
        outside = [p for p in negotiation.participants.all() if p.is_outside]
        for participant in outside:
            invitee = checked.get(participant.role)
            if invitee is not None:
                participant.invitee_name, participant.invitee_email = invitee.name, invitee.email
                participant.save(update_fields=["invitee_name", "invitee_email"])
        issued = [_issue(participant, user=user, base_url=base_url) for participant in outside]
    return negotiation, [_mailed(i, negotiation, user) for i in issued]


def seat_credential_new(
    *, negotiation: Negotiation, role: str, user=None, base_url: str
) -> IssuedCredential:
    """Another credential for one outside seat (an operator asked: the first was
    lost or revoked); a person's new link is mailed to them too. Earlier ones keep
    working until they expire or are revoked."""
    participant = negotiation.participants.filter(role=role).first()
    if participant is None or not participant.is_outside:
        raise ServiceError(f"'{role}' is not an outside seat of this negotiation.")
    if negotiation.is_final:
        raise ServiceError("This negotiation has ended; its seats need no new credentials.")
    if participant.seat == SeatKind.PERSON and not participant.invitee_email:
        raise ServiceError(f"The outside person for '{role}' has no e-mail address to invite.")
    with transaction.atomic():
        negotiation_lock(negotiation.pk)
        issued = _issue(participant, user=user, base_url=base_url)
    return _mailed(issued, negotiation, user)


def _issue(participant: Participant, *, user, base_url: str) -> IssuedCredential:
    person = participant.seat == SeatKind.PERSON
    credential, secret = seat_credential_issue(
        participant=participant,
        kind=CredentialKind.INVITE if person else CredentialKind.TOKEN,
        user=user,
        valid_for=timedelta(
            days=settings.PORTAL_INVITE_DAYS if person else DEFAULT_CREDENTIAL_DAYS
        ),
    )
    return IssuedCredential(
        role=participant.role,
        label=participant.label or participant.role,
        seat=participant.seat,
        credential=credential,
        secret=secret,
        link=portal_link(base_url, secret) if person else "",
        agent_card="" if person else f"{base_url.rstrip('/')}{AGENT_CARD_PATH}",
    )


# --------------------------------------------------------------------------
# Mails to an outside person
# --------------------------------------------------------------------------


def _others(negotiation: Negotiation, participant: Participant) -> str:
    labels = [p.label or p.role for p in negotiation.participants.all() if p.pk != participant.pk]
    return " and ".join(labels) or "the other side"


def reply_to_of(user) -> list[str]:
    """Replies reach the person on our side (the product's own sender address
    is no one's inbox)."""
    email = getattr(user, "email", "") if getattr(user, "is_authenticated", False) else ""
    return [email] if email else []


def outside_mail_send(subject: str, body: str, to: str, *, reply_to: list[str]) -> None:
    """A mail to an outside person (an invite, a turn notice; a tender bidder's
    invite too), with a line on whom to ask."""
    questions = (
        "Questions? Reply to this e-mail."
        if reply_to
        else "Questions? Ask the person who invited you."
    )
    EmailMessage(subject, f"{body}\n{questions}\n", None, [to], reply_to=reply_to).send()


def invited_by(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "You are invited"
    return f"{user.get_full_name() or user.get_username()} invites you"


def _invite_body(negotiation: Negotiation, participant: Participant, issued, user) -> str:
    expires = timezone.localtime(issued.credential.expires_at)
    minutes = negotiation.playbook_version.spec["limits"].get("turn_deadline_minutes", 60)
    return (
        f"Hello {participant.invitee_name},\n\n"
        f"{invited_by(user)} to negotiate “{negotiation}” as "
        f"{participant.label or participant.role}, with {_others(negotiation, participant)}.\n\n"
        "Open this link to see the offers and answer them, on a phone or a computer:\n\n"
        f"{issued.link}\n\n"
        "The link is personal: whoever has it can answer for you, so please do not forward "
        f"it. It works until {expires:%d %b %Y, %H:%M %Z}.\n"
        f"When it is your turn you have {minutes} minutes to answer; we e-mail you each "
        "time it is your turn again.\n\n"
        "If you did not expect this invitation, ignore this e-mail.\n"
    )


def _mailed(issued: IssuedCredential, negotiation: Negotiation, user) -> IssuedCredential:
    """Mail a person's new invite link (now, from this request: the secret is not
    kept for a worker to send later). A mail that fails is logged and reported to
    the operator, who is shown the link and can pass it on."""
    if issued.seat != SeatKind.PERSON:
        return issued
    participant = issued.credential.participant
    failed = False
    try:
        outside_mail_send(
            f"Invitation to negotiate: {negotiation}",
            _invite_body(negotiation, participant, issued, user),
            participant.invitee_email,
            reply_to=reply_to_of(user),
        )
    except Exception:  # SMTP down or refused: the operator still has the link
        log.exception(
            "negotiation %s: mailing the invite for %s failed", negotiation.pk, issued.role
        )
        failed = True
    with transaction.atomic():
        negotiation_lock(negotiation.pk)
        audit_append(
            negotiation=negotiation,
            kind="seat.invite_mailed",
            actor="system",
            payload={
                "credential": issued.credential.pk,
                "party": issued.role,
                "sent": not failed,
            },
        )
    return replace(issued, mailed_to=participant.invitee_email, mail_failed=failed)


def _turn_body(negotiation: Negotiation, participant: Participant, reminder: bool) -> str:
    due = timezone.localtime(negotiation.turn_due_at) if negotiation.turn_due_at else None
    by = f" by {due:%d %b %Y, %H:%M %Z}" if due else ""
    lead = (
        f"A reminder: “{negotiation}” still waits for your answer{by}."
        if reminder
        else f"{_others(negotiation, participant)} answered in “{negotiation}”. "
        f"It is your turn: please answer{by}."
    )
    help_page = (
        f" {settings.NEGOTIATOR_BASE_URL}{reverse('portal:home')} explains more."
        if settings.NEGOTIATOR_BASE_URL
        else ""
    )
    return (
        f"Hello {participant.invitee_name},\n\n{lead}\n\n"
        "Open the invitation link we e-mailed you (subject “Invitation to negotiate: "
        f"{negotiation}”). For your safety this e-mail carries no link that opens the "
        f"negotiation.{help_page}\n\n"
        "If you cannot find the invitation, ask the person who invited you for a new link.\n"
    )


def seat_turn_mail(negotiation: Negotiation, participant: Participant, reminder: bool) -> None:
    """The person-seat notifier (registered by :func:`invite_notifier_register`):
    mail the invited person that it is their turn, or remind them. The first turn
    gets no notice: the invite mail says the offers wait behind the link."""
    if not participant.invitee_email:
        log.warning("negotiation %s: %s has no e-mail address", negotiation.pk, participant.role)
        return
    if not reminder and not SeatMessage.objects.filter(participant=participant).exists():
        return
    subject = "Reminder: your turn" if reminder else "Your turn"
    try:
        outside_mail_send(
            f"{subject}: {negotiation}",
            _turn_body(negotiation, participant, reminder),
            participant.invitee_email,
            reply_to=reply_to_of(negotiation.started_by),
        )
    except Exception:  # the reminder (or the person's next visit) is the second chance
        log.exception("negotiation %s: mailing the turn notice failed", negotiation.pk)
        return
    with transaction.atomic():
        negotiation_lock(negotiation.pk)
        audit_append(
            negotiation=negotiation,
            kind="seat.turn_notice_mailed",
            actor="system",
            payload={"party": participant.role, "reminder": reminder},
        )


def invite_notifier_register() -> None:
    """Person seats are told about their turn by mail (NegotiatorConfig.ready)."""
    seat_notifier_register(SeatKind.PERSON, seat_turn_mail)
