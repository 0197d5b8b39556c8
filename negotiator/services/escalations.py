"""What a person does with an escalated negotiation, besides resuming and closing
it (lifecycle): accept the offer on the table, send a counteroffer of their own,
and override one failed policy for this negotiation only, with a second person
approving the override (four eyes).

A person's move is played through the round pipeline like any other move
(``rounds.negotiation_advance`` with our seat ``acting``): checked by the same
policies, audited, and refused without any change when a policy blocks it. An
agreement that follows goes through the approval gate like any agreement.

Permission: operators of the negotiation's team (``permissions.may_act_on``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from negotiator import bridge, permissions
from negotiator.audit import audit_append
from negotiator.engine.errors import InvalidOffer, MoveRefused
from negotiator.engine.offers import Performative
from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.engine.protocol import NegotiationState, Status
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    OverrideStatus,
    Participant,
    PolicyCheck,
    PolicyKindChoice,
    PolicyOverride,
    Severity,
)
from negotiator.selectors import escalations as views
from negotiator.services.agreements import agreement_gate_pass
from negotiator.services.errors import Conflict, NotAllowed, ServiceError, TransitionError
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.moves import MoveBlocked, MoveInput, MoveInvalid, move_to_engine
from negotiator.services.roles import actor_of
from negotiator.services.rounds import negotiation_advance

MIN_JUSTIFICATION = 10
MAX_TEXT = 4000


def _escalated_locked(negotiation_id: int, user, action: str) -> Negotiation:
    """The negotiation, locked, if it is escalated and this person may act on it."""
    negotiation = (
        Negotiation.objects.select_for_update()
        .select_related("playbook_version")
        .get(pk=negotiation_id)
    )
    if not permissions.may_act_on(user, negotiation):
        raise NotAllowed(f"Only operators of this negotiation's team may {action} it.")
    if negotiation.status != NegotiationStatus.ESCALATED:
        raise TransitionError(
            f"This negotiation is {negotiation.get_status_display().lower()}: a person "
            "steps in only while it is escalated."
        )
    return negotiation


def _seat_for_person(negotiation: Negotiation) -> Participant:
    seat = views.our_seat(list(negotiation.participants.all()), negotiation.team_id)
    if seat is None:
        raise ServiceError("Every seat of this negotiation is outside: no seat is ours to move.")
    return seat


def _state_for_person(state: NegotiationState, role: str, *, accept: bool) -> NegotiationState:
    """The stored state made ready for a person's move at our seat's turn
    (views.person_turn): running again, the stall window restarted. A standing
    offer that lapsed by then is off the table (a counter opens afresh)."""
    move_round, turn = views.person_turn(state, state.parties.index(role))
    standing, accepted_by = state.standing, state.accepted_by
    if standing is not None:
        lapsed = views.offer_lapsed(state.history[standing], move_round, timezone.now())
        if lapsed and accept:
            raise ServiceError(f"The offer on the table is no longer open ({lapsed}); counter it.")
        if lapsed:
            standing, accepted_by = None, ()
    return replace(
        state,
        status=Status.RUNNING,
        cause=None,
        reason="",
        round=move_round,
        turn=turn,
        standing=standing,
        accepted_by=accepted_by,
        best_joint_round=move_round,
    )


def _person_move(
    negotiation_id: int, user, *, accept: bool, terms: Mapping[str, Any], rationale: str
) -> Negotiation:
    """Play a person's accept or counter for our seat; all or nothing."""
    action = "accept" if accept else "counter"
    with transaction.atomic():
        negotiation = _escalated_locked(negotiation_id, user, action)
        state = views.stored_state(negotiation)
        if state is None or state.status == Status.AGREED:
            raise TransitionError(
                "The parties already agreed: send the agreement to the approval gate again, "
                "or resume to negotiate again."
            )
        seat = _seat_for_person(negotiation)
        standing = state.history[state.standing] if state.standing is not None else None
        if accept and (standing is None or standing.sender == seat.role):
            raise ServiceError("No offer from the other side is on the table; counter instead.")
        ready = _state_for_person(state, seat.role, accept=accept)
        negotiation.engine_state = {**negotiation.engine_state, **bridge.state_to_dict(ready)}
        negotiation.save(update_fields=["engine_state", "updated_at"])
        move = _move_input(negotiation, ready, seat.role, accept, terms, rationale)
        offer = move_to_engine(seat.role, negotiation, move)
        who = getattr(user, "username", "a person")
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.RUNNING,
            user=user,
            reason=f"{who} {'accepted' if accept else 'countered'} for {seat.label or seat.role}",
            extra={"person_move": str(offer.performative), "party": seat.role},
        )
        try:
            advanced = negotiation_advance(
                negotiation_id=negotiation.pk,
                round_number=negotiation.current_round,
                moves={seat.role: offer},
                acting={seat.role: f"{actor_of(user)} for {seat.role}"},
            )
        except MoveRefused as exc:
            raise MoveBlocked(f"Not sent: {exc}") from None
        except InvalidOffer as exc:
            raise MoveInvalid(exc.problems) from None
        if advanced is None:  # cannot happen while we hold the row; fail closed
            raise Conflict("The negotiation changed meanwhile; reload the page.")
    negotiation.refresh_from_db()
    return negotiation


def _move_input(
    negotiation: Negotiation,
    state: NegotiationState,
    role: str,
    accept: bool,
    terms: Mapping[str, Any],
    rationale: str,
) -> MoveInput:
    if len(rationale) > MAX_TEXT:
        raise MoveInvalid([f"the message is longer than {MAX_TEXT:,} characters"])
    fixed = negotiation.playbook_version.spec.get("fixed_terms", {})
    standing = state.history[state.standing] if state.standing is not None else None
    if accept:
        performative = Performative.ACCEPT
    elif standing is not None and standing.sender != role:
        performative = Performative.COUNTER
    else:
        performative = Performative.PROPOSE
    return MoveInput(
        performative=str(performative),
        terms={} if accept else dict(terms),
        fixed_terms_hash=fixed_terms_hash(fixed),
        rationale=rationale,
    )


def escalation_accept(*, negotiation: Negotiation, user) -> Negotiation:
    """Accept the offer on the table for our seat. An agreement the gate could not
    route is sent to the gate again instead (an admin may have added a route)."""
    with transaction.atomic():
        locked = _escalated_locked(negotiation.pk, user, "accept")
        state = views.stored_state(locked)
        if state is not None and state.status == Status.AGREED:
            negotiation_transition(
                negotiation=locked,
                to=NegotiationStatus.RUNNING,
                user=user,
                reason=f"sent to the approval gate again by {getattr(user, 'username', '')}",
                extra={"person_move": "regate"},
            )
            agreement_gate_pass(negotiation=locked)
            locked.refresh_from_db()
            return locked
    return _person_move(negotiation.pk, user, accept=True, terms={}, rationale="")


def escalation_counter(
    *, negotiation: Negotiation, user, terms: Mapping[str, Any], rationale: str = ""
) -> Negotiation:
    """Send a counteroffer for our seat, checked by the same policies as the
    agents' offers; a block (or an escalation, which needs an override first) is
    refused with MoveBlocked and nothing changes. The other side answers at once."""
    return _person_move(negotiation.pk, user, accept=False, terms=terms, rationale=rationale)


# --------------------------------------------------------------------------
# Overrides (four eyes)
# --------------------------------------------------------------------------


def _failed_in(negotiation: Negotiation, policy_id: int) -> PolicyCheck | None:
    """The latest failure of this policy in this negotiation that stopped a move."""
    return (
        PolicyCheck.objects.filter(
            negotiation=negotiation,
            policy_version__policy_id=policy_id,
            passed=False,
            waived_by__isnull=True,
            severity__in=[Severity.BLOCK, Severity.ESCALATE],
        )
        .exclude(policy_version__kind=PolicyKindChoice.APPROVAL_THRESHOLD)
        .select_related("policy_version__policy")
        .order_by("-id")
        .first()
    )


def policy_override_request(
    *, negotiation: Negotiation, user, policy_id: int, justification: str
) -> PolicyOverride:
    """Ask to waive one failed policy in this negotiation only. Nothing is waived
    until someone else approves it (policy_override_decide)."""
    justification = (justification or "").strip()
    if not MIN_JUSTIFICATION <= len(justification) <= MAX_TEXT:
        raise ServiceError(
            f"Write a justification of {MIN_JUSTIFICATION} to {MAX_TEXT:,} characters: "
            "the approver and the auditors read it."
        )
    with transaction.atomic():
        locked = _escalated_locked(negotiation.pk, user, "override a policy of")
        check = _failed_in(locked, policy_id)
        if check is None:
            raise ServiceError(
                "Only a policy that stopped a move in this negotiation (block or escalate) "
                "can be overridden."
            )
        policy = check.policy_version.policy
        if locked.policy_overrides.filter(
            policy=policy, status__in=[OverrideStatus.PENDING, OverrideStatus.APPROVED]
        ).exists():
            raise Conflict(f"An override of '{policy.name}' is already asked for or granted.")
        override = PolicyOverride.objects.create(
            negotiation=locked, policy=policy, justification=justification, requested_by=user
        )
        audit_append(
            negotiation=locked,
            kind="policy_override.requested",
            actor=actor_of(user),
            user=user,
            payload={
                "override": override.pk,
                "policy_id": policy.pk,
                "policy": policy.name,
                "severity": check.severity,
                "failed_check": check.pk,
                "justification": justification,
            },
        )
    return override


def policy_override_decide(
    *, negotiation: Negotiation, user, override_id: int, approve: bool, comment: str = ""
) -> PolicyOverride:
    """Approve or reject an override someone else asked for. Once approved, the
    policy's failures in this negotiation are recorded as waived (never passed)
    from the next move on, and the negotiation can resume."""
    comment = (comment or "").strip()
    if len(comment) > MAX_TEXT:
        raise ServiceError(f"Keep the comment under {MAX_TEXT:,} characters.")
    with transaction.atomic():
        locked = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if not permissions.may_act_on(user, locked):
            raise NotAllowed("Only operators of this negotiation's team may decide overrides.")
        override = (
            PolicyOverride.objects.select_for_update()
            .select_related("policy", "requested_by")
            .filter(pk=override_id, negotiation=locked)
            .first()
        )
        if override is None:
            raise ServiceError("There is no such override in this negotiation.")
        if override.status != OverrideStatus.PENDING:
            raise Conflict(f"This override was already {override.get_status_display().lower()}.")
        if override.requested_by_id == user.pk:
            raise NotAllowed(
                "Four eyes: you asked for this override; someone else must approve or reject it."
            )
        if locked.status not in (NegotiationStatus.ESCALATED, NegotiationStatus.RUNNING):
            raise Conflict(
                f"The negotiation is {locked.get_status_display().lower()}: an override "
                "no longer applies."
            )
        _override_settle(locked, override, user, approve=approve, comment=comment)
    return override


def _override_settle(
    negotiation: Negotiation, override: PolicyOverride, user, *, approve: bool, comment: str
) -> None:
    override.status = OverrideStatus.APPROVED if approve else OverrideStatus.REJECTED
    override.decided_by = user
    override.decided_at = timezone.now()
    override.decision_comment = comment
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_comment"])
    if approve:
        negotiation.waived_policies = {
            **(negotiation.waived_policies or {}),
            str(override.policy_id): override.pk,
        }
        negotiation.save(update_fields=["waived_policies", "updated_at"])
    audit_append(
        negotiation=negotiation,
        kind=f"policy_override.{override.status}",
        actor=actor_of(user),
        user=user,
        payload={
            "override": override.pk,
            "policy_id": override.policy_id,
            "policy": override.policy.name,
            "requested_by": override.requested_by.get_username(),
            "comment": comment,
            "waived_policies": negotiation.waived_policies if approve else None,
        },
    )
