"""An escalated negotiation as a person meets it: why it stopped, which seat is
ours, the offer on the table, the policies that stopped it (and whether they
still would), the overrides asked for, and what resuming needs.

The cause is read from the stored engine state, never from the wording of the
reason: the engine's cause, ``agreement`` when the parties agreed but no
approval route took the deal, ``turn_missed`` when an outside seat let its turn
pass (the engine was still running).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from negotiator import bridge, permissions
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.protocol import Cause, NegotiationState, Status
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    OverrideStatus,
    Participant,
    PolicyCheck,
    PolicyKindChoice,
    SeatKind,
    Severity,
)
from negotiator.selectors import formatting

AGREEMENT = "agreement"
TURN_MISSED = "turn_missed"

# What stopped it, and what a person can do about it, by cause.
CAUSES: dict[str, tuple[str, str]] = {
    AGREEMENT: (
        "The parties agreed, but no approval route takes this deal and there is no default route.",
        "Send it to the approval gate again once an admin has added a route that takes it "
        "(a default route takes every deal), or close it.",
    ),
    Cause.POLICY_ESCALATION: (
        "A policy says a person must look at this move.",
        "Accept or counter yourself, or have the policy overridden for this negotiation "
        "(four eyes) and resume; resuming as it is would stop again for the same reason.",
    ),
    Cause.BLOCK_RETRIES_EXHAUSTED: (
        "Our policies blocked every move the agent tried.",
        "Counter yourself, or have a blocking policy overridden (four eyes) and resume.",
    ),
    Cause.STALLED: (
        "The offers stopped improving.",
        "Accept or counter yourself, or resume: the stall window starts again.",
    ),
    Cause.MAX_ROUNDS: (
        "The negotiation used its last round.",
        "Accept or counter yourself, or resume with more rounds.",
    ),
    Cause.DEADLINE: (
        "The deadline passed.",
        "Accept or counter yourself, or resume with more minutes.",
    ),
    TURN_MISSED: (
        "The other side did not move within its turn.",
        "Resume to give it a new turn, counter yourself, or close it.",
    ),
}
UNKNOWN = ("The negotiation stopped and needs a decision.", "Resume it or close it.")


def stored_state(negotiation: Negotiation) -> NegotiationState | None:
    # a mediated coalition keeps its own state (services.coalition), not the engine's
    stored = negotiation.engine_state or {}
    return bridge.state_from_dict(stored) if "parties" in stored else None


def escalation_cause(negotiation: Negotiation, state: NegotiationState | None) -> str:
    if state is None:
        return ""
    if state.status == Status.AGREED:
        return AGREEMENT
    if state.cause is not None:
        return str(state.cause)
    return TURN_MISSED


def our_seat(participants: Sequence[Participant], team_id: int | None) -> Participant | None:
    """The seat a person of the team moves for: our strategy's seat owned by the
    negotiation's team, else our first strategy's seat. None: every seat is outside."""
    ours = [p for p in participants if p.seat == SeatKind.BUILTIN]
    owned = [p for p in ours if team_id is not None and p.owner_group_id == team_id]
    return (owned or ours or [None])[0]


def person_turn(state: NegotiationState, index: int) -> tuple[int, int]:
    """The round and turn at which a person moving for our seat ``index`` moves:
    in the current round if that seat has not moved in it yet (the seats between
    pass), else at the start of the next round (the seats after the one that
    stopped pass). An escalated move was never played, so nothing is undone."""
    if index < state.turn:
        return state.round + 1, index
    return state.round, index


def offer_lapsed(offer: EngineOffer, round_number: int, now: datetime) -> str:
    """Why the offer is no longer open at that round and time ("" while it is)."""
    if offer.expires_at_round is not None and round_number > offer.expires_at_round:
        return f"it expired at round {offer.expires_at_round}"
    if offer.expires_at is not None and datetime.fromisoformat(offer.expires_at) < now:
        return f"it expired at {offer.expires_at}"
    return ""


def stopping_checks(negotiation: Negotiation, state: NegotiationState) -> list[PolicyCheck]:
    """The failed checks of the move that stopped the negotiation (its round and
    party), not waived, by the policies that stop moves (block and escalate)."""
    if state.turn >= len(state.parties):
        return []
    return list(
        PolicyCheck.objects.filter(
            negotiation=negotiation,
            round=state.round,
            sender=state.parties[state.turn],
            passed=False,
            waived_by__isnull=True,
            severity__in=[Severity.BLOCK, Severity.ESCALATE],
        )
        .exclude(policy_version__kind=PolicyKindChoice.APPROVAL_THRESHOLD)
        .select_related("policy_version__policy")
        .order_by("id")
    )


def _still_applies(check: PolicyCheck, negotiation: Negotiation) -> bool:
    """The policy is in force exactly as it was when it stopped the move, and not waived."""
    policy = check.policy_version.policy
    return (
        policy.active
        and policy.current_version_id == check.policy_version_id
        and str(policy.pk) not in (negotiation.waived_policies or {})
    )


def resume_refusal(negotiation: Negotiation, state: NegotiationState | None) -> str:
    """Why resuming as things are would escalate again at once for the same reason
    ("" when it would not). The agents are deterministic: the same state and the
    same policies give the same move."""
    cause = escalation_cause(negotiation, state)
    if cause == AGREEMENT:
        return (
            "The parties agreed on this deal; resuming would not change that. Send it to the "
            "approval gate again once a route takes it, or close it."
        )
    if cause not in (Cause.POLICY_ESCALATION, Cause.BLOCK_RETRIES_EXHAUSTED):
        return ""
    mover = state.parties[state.turn] if state.turn < len(state.parties) else ""
    if negotiation.participants.filter(role=mover).exclude(seat=SeatKind.BUILTIN).exists():
        return ""  # an outside seat is asked again and may move otherwise
    checks = stopping_checks(negotiation, state)
    if cause == Cause.POLICY_ESCALATION:
        stuck = [c for c in checks if c.severity == Severity.ESCALATE]
        stuck = [c for c in stuck if _still_applies(c, negotiation)]
    else:
        blocking = [c for c in checks if c.severity == Severity.BLOCK]
        changed = any(not _still_applies(c, negotiation) for c in blocking)
        stuck = [] if changed else blocking
    if not stuck:
        return ""
    names = ", ".join(dict.fromkeys(c.policy_version.name for c in stuck))
    return (
        f"Resuming now would stop again for the same reason: {names} still applies. "
        "Have it overridden for this negotiation (four eyes), or accept or counter yourself."
    )


@dataclass(frozen=True)
class OverridablePolicy:
    policy_id: int
    name: str
    severity: str
    message: str


def overridable_policies(negotiation: Negotiation) -> list[OverridablePolicy]:
    """Policies that stopped a move in this negotiation (block or escalate) and
    have no override asked for or granted yet, the latest failure first."""
    live = set(
        negotiation.policy_overrides.filter(
            status__in=[OverrideStatus.PENDING, OverrideStatus.APPROVED]
        ).values_list("policy_id", flat=True)
    )
    failed = (
        PolicyCheck.objects.filter(
            negotiation=negotiation,
            passed=False,
            waived_by__isnull=True,
            severity__in=[Severity.BLOCK, Severity.ESCALATE],
        )
        .exclude(policy_version__kind=PolicyKindChoice.APPROVAL_THRESHOLD)
        .select_related("policy_version")
        .order_by("-id")
    )
    out: dict[int, OverridablePolicy] = {}
    for check in failed[:500]:
        policy_id = check.policy_version.policy_id
        if policy_id not in live and policy_id not in out:
            out[policy_id] = OverridablePolicy(
                policy_id, check.policy_version.name, check.severity, check.message
            )
    return list(out.values())


@dataclass(frozen=True)
class OverrideView:
    pk: int
    policy: str
    justification: str
    status: str
    status_label: str
    requested_by: str
    decided_by: str
    comment: str
    may_decide: bool  # this person may approve or reject it (four eyes)
    is_own: bool


def overrides_of(negotiation: Negotiation, user) -> list[OverrideView]:
    may_act = permissions.may_act_on(user, negotiation)
    rows = negotiation.policy_overrides.select_related("policy", "requested_by", "decided_by")
    return [
        OverrideView(
            pk=o.pk,
            policy=o.policy.name,
            justification=o.justification,
            status=o.status,
            status_label=o.get_status_display(),
            requested_by=o.requested_by.get_username(),
            decided_by=o.decided_by.get_username() if o.decided_by_id else "",
            comment=o.decision_comment,
            may_decide=may_act
            and o.status == OverrideStatus.PENDING
            and o.requested_by_id != getattr(user, "pk", None),
            is_own=o.requested_by_id == getattr(user, "pk", None),
        )
        for o in rows[:50]
    ]


@dataclass(frozen=True)
class EscalationView:
    cause: str
    what: str
    advice: str
    our_role: str
    our_label: str
    standing_sender: str
    standing_terms: list[formatting.TermView]
    accept_label: str  # "" when there is nothing to accept
    can_counter: bool
    resume_refusal: str
    overridable: list[OverridablePolicy]
    overrides: list[OverrideView] = field(default_factory=list)
    # what the counteroffer form starts from: the offer on the table, else our last one
    initial_terms: dict[str, Any] = field(default_factory=dict)


def _last_terms(state: NegotiationState | None, role: str) -> dict[str, Any]:
    for offer in reversed(state.history if state is not None else ()):
        if offer.sender == role and offer.terms:
            return dict(offer.terms)
    return {}


def _standing_from_others(
    state: NegotiationState, our_role: str
) -> tuple[EngineOffer | None, dict[str, Any]]:
    if state.standing is None:
        return None, {}
    offer = state.history[state.standing]
    return (offer, dict(offer.terms)) if offer.sender != our_role else (None, {})


def escalation_view(negotiation: Negotiation, user, *, now: datetime) -> EscalationView | None:
    """What the escalation banner shows; None unless the negotiation is escalated."""
    if negotiation.status != NegotiationStatus.ESCALATED:
        return None
    state = stored_state(negotiation)
    cause = escalation_cause(negotiation, state)
    what, advice = CAUSES.get(cause, UNKNOWN)
    participants = list(negotiation.participants.all())
    seat = our_seat(participants, negotiation.team_id)
    labels = {p.role: p.label or p.role for p in participants}
    standing, terms = (None, {})
    if state is not None and seat is not None and cause != AGREEMENT:
        standing, terms = _standing_from_others(state, seat.role)
        move_round, _ = person_turn(state, state.parties.index(seat.role))
        if standing is not None and offer_lapsed(standing, move_round, now):
            standing, terms = None, {}
    meta = formatting.issue_meta(negotiation.playbook_version.spec.get("issues"))
    accept = ""
    if cause == AGREEMENT:
        accept = "Send to the approval gate again"
    elif standing is not None:
        accept = f"Accept {labels.get(standing.sender, standing.sender)}'s offer"
    return EscalationView(
        cause=cause,
        what=what,
        advice=advice,
        our_role=seat.role if seat else "",
        our_label=labels.get(seat.role, "") if seat else "",
        standing_sender=labels.get(standing.sender, standing.sender) if standing else "",
        standing_terms=formatting.term_views(terms, meta),
        accept_label=accept,
        can_counter=seat is not None and state is not None and cause != AGREEMENT,
        resume_refusal=resume_refusal(negotiation, state),
        overridable=overridable_policies(negotiation),
        overrides=overrides_of(negotiation, user),
        initial_terms=terms or (_last_terms(state, seat.role) if seat else {}),
    )
