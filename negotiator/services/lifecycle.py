"""A negotiation's life outside its rounds: creating and starting it, the one
place its status changes (with the allowed moves as data), resuming, closing, and
reopening it when an approver sends the agreement back."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from negotiator import bridge, status_hooks
from negotiator.audit import audit_append
from negotiator.engine.protocol import Status
from negotiator.engine.strategies import STRATEGIES
from negotiator.llm.config import strategy_known as llm_strategy_known
from negotiator.models import (
    FINAL_STATUSES,
    Negotiation,
    NegotiationStatus,
    Participant,
    Playbook,
    SeatKind,
)
from negotiator.selectors import escalations
from negotiator.services.certificates import plan_feasibility_record, plan_model_of
from negotiator.services.errors import Conflict, ServiceError, TransitionError
from negotiator.services.roles import actor_of
from negotiator.services.scheduling import round_schedule

TRANSITIONS: dict[str, set[str]] = {
    NegotiationStatus.DRAFT: {NegotiationStatus.RUNNING, NegotiationStatus.CANCELLED},
    NegotiationStatus.RUNNING: {
        NegotiationStatus.ESCALATED,
        NegotiationStatus.PENDING_APPROVAL,
        NegotiationStatus.APPROVED,
        NegotiationStatus.FAILED,
        NegotiationStatus.TIMED_OUT,
        NegotiationStatus.CANCELLED,
    },
    NegotiationStatus.ESCALATED: {
        NegotiationStatus.RUNNING,
        NegotiationStatus.CANCELLED,
        NegotiationStatus.FAILED,
    },
    NegotiationStatus.PENDING_APPROVAL: {
        NegotiationStatus.APPROVED,
        NegotiationStatus.REJECTED,
        NegotiationStatus.RUNNING,  # changes requested: the parties negotiate again
        NegotiationStatus.TIMED_OUT,  # the approval expired
        NegotiationStatus.ESCALATED,
    },
}


def negotiation_transition(
    *,
    negotiation: Negotiation,
    to: str,
    reason: str = "",
    user=None,
    actor: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Negotiation:
    """The one place a negotiation's status changes. Call inside a transaction
    with the row locked (select_for_update)."""
    source = negotiation.status
    if to not in TRANSITIONS.get(source, set()):
        raise TransitionError(
            f"A {negotiation.get_status_display().lower()} negotiation cannot become "
            f"{NegotiationStatus(to).label.lower()}."
        )
    now = timezone.now()
    negotiation.status = to
    if reason:
        negotiation.outcome_reason = reason
    if to in FINAL_STATUSES:
        negotiation.ended_at = now
    negotiation.last_progress_at = now
    negotiation.save(
        update_fields=["status", "outcome_reason", "ended_at", "last_progress_at", "updated_at"]
    )
    audit_append(
        negotiation=negotiation,
        kind="negotiation.status_changed",
        actor=actor or actor_of(user),
        user=user,
        payload={"from": source, "to": to, "reason": reason, **(extra or {})},
    )
    status_hooks.status_changed(
        negotiation=negotiation, source=source, reason=reason, actor=actor or actor_of(user)
    )
    return negotiation


@dataclass(frozen=True)
class LimitOverrides:
    max_rounds: int | None = None
    deadline_minutes: int | None = None
    pace_seconds: float | None = None


@dataclass(frozen=True)
class Limits:
    """A negotiation's protocol limits: the playbook's, with any overrides applied."""

    max_rounds: int
    deadline_minutes: int | None
    pace_seconds: float


def limits_resolve(spec: Mapping[str, Any], overrides: LimitOverrides) -> Limits:
    """The limits a new negotiation runs under; ServiceError names a bad value."""
    limits = spec["limits"]
    max_rounds = overrides.max_rounds or limits["max_rounds"]
    if not isinstance(max_rounds, int) or not 1 <= max_rounds <= 10_000:
        raise ServiceError("Max rounds must be a whole number between 1 and 10,000.")
    pace = (
        limits.get("pace_seconds", 0.0)
        if overrides.pace_seconds is None
        else overrides.pace_seconds
    )
    # Fail closed on a NaN or infinite pace: it would stop the negotiation's rounds.
    if not (isinstance(pace, int | float) and math.isfinite(pace)) or not (
        0 <= pace <= settings.NEGOTIATOR_MAX_COUNTDOWN
    ):
        raise ServiceError(
            f"Pace must be a number of seconds from 0 to {settings.NEGOTIATOR_MAX_COUNTDOWN}."
        )
    deadline = overrides.deadline_minutes
    if deadline is not None and (not isinstance(deadline, int) or not 1 <= deadline <= 43_200):
        raise ServiceError("The deadline must be a whole number of minutes from 1 to 43,200.")
    return Limits(
        max_rounds=max_rounds,
        deadline_minutes=overrides.deadline_minutes or limits.get("deadline_minutes"),
        pace_seconds=pace,
    )


def _strategies_check(spec: Mapping[str, Any], strategies: Mapping[str, str]) -> None:
    unknown_roles = set(strategies) - {r["name"] for r in spec["roles"]}
    if unknown_roles:
        raise ServiceError(f"Unknown roles: {', '.join(sorted(unknown_roles))}.")
    for role, name in strategies.items():
        if name not in STRATEGIES and not llm_strategy_known(name):
            raise ServiceError(f"Unknown strategy '{name}' for role '{role}'.")


def _seats_check(spec: Mapping[str, Any], seats: Mapping[str, str]) -> None:
    roles = {r["name"]: r for r in spec["roles"]}
    unknown_roles = set(seats) - set(roles)
    if unknown_roles:
        raise ServiceError(f"Unknown roles: {', '.join(sorted(unknown_roles))}.")
    for role, seat in seats.items():
        allowed = roles[role].get("seats") or [SeatKind.BUILTIN]
        if seat not in SeatKind.values:
            raise ServiceError(
                f"Unknown seat kind {seat!r} for role '{role}'; known: {', '.join(SeatKind.values)}."
            )
        if seat not in allowed:
            raise ServiceError(
                f"Role '{role}' cannot be a {SeatKind(seat).label.lower()} seat; "
                f"the playbook allows: {', '.join(allowed)}."
            )


def _seat_of(role: str, seats: Mapping[str, str]) -> str:
    return seats.get(role, SeatKind.BUILTIN)


def _strategy_of(
    role: Mapping[str, Any], strategies: Mapping[str, str], seats: Mapping[str, str]
) -> str:
    """The strategy that plays a role: none for an outside seat."""
    if _seat_of(role["name"], seats) != SeatKind.BUILTIN:
        return ""
    return strategies.get(role["name"], role["strategy"])


def _participants_create(
    negotiation: Negotiation,
    spec: Mapping[str, Any],
    strategies: Mapping[str, str],
    seats: Mapping[str, str],
) -> None:
    """One participant per playbook role, with a copy of its private profile. A
    strategy chosen for this negotiation replaces the role's strategy and its
    parameters; an outside seat has no strategy of ours."""
    groups = {
        g.name: g
        for g in Group.objects.filter(
            name__in=[r["owner_group"] for r in spec["roles"] if r.get("owner_group")]
        )
    }
    Participant.objects.bulk_create(
        [
            Participant(
                negotiation=negotiation,
                role=role["name"],
                label=role.get("label") or role["name"],
                seat=_seat_of(role["name"], seats),
                strategy=_strategy_of(role, strategies, seats),
                strategy_params=(
                    {} if role["name"] in strategies else role.get("strategy_params") or {}
                ),
                profile=role["profile"],
                owner_group=groups.get(role.get("owner_group") or ""),
                order=i,
            )
            for i, role in enumerate(spec["roles"])
        ]
    )


def negotiation_create(
    *,
    playbook: Playbook,
    user=None,
    title: str = "",
    overrides: LimitOverrides | None = None,
    strategies: Mapping[str, str] | None = None,
    seats: Mapping[str, str] | None = None,
    seed: int | None = None,
    start: bool = True,
) -> Negotiation:
    """Create a negotiation under the playbook's current version and (by default)
    start it in the background. ``seats`` gives a role an outside seat (an agent
    over A2A, a person in the portal) where its playbook role allows it; the
    others are played by our strategies."""
    version = playbook.current_version
    if version is None:
        raise ServiceError(
            f"Playbook '{playbook.name}' has no published version yet; save it in admin first."
        )
    spec = version.spec
    limits = limits_resolve(spec, overrides or LimitOverrides())
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise ServiceError("The seed must be a whole number from 0 to 2**63-1.")
    strategies = dict(strategies or {})
    seats = dict(seats or {})
    _strategies_check(spec, strategies)
    _seats_check(spec, seats)
    with transaction.atomic():
        negotiation = Negotiation.objects.create(
            playbook=playbook,
            playbook_version=version,
            team_id=playbook.team_id,
            title=title or f"{playbook.name}",
            max_rounds=limits.max_rounds,
            pace_seconds=limits.pace_seconds,
            seed=seed if seed is not None else random.SystemRandom().randrange(2**31),
            started_by=user if getattr(user, "pk", None) else None,
        )
        _participants_create(negotiation, spec, strategies, seats)
        audit_append(
            negotiation=negotiation,
            kind="negotiation.created",
            actor=actor_of(user),
            user=user,
            payload=_created_payload(negotiation, version, limits, strategies, seats),
        )
        if start:
            negotiation_start(
                negotiation=negotiation, user=user, deadline_minutes=limits.deadline_minutes
            )
    return negotiation


def _created_payload(
    negotiation: Negotiation,
    version,
    limits: Limits,
    strategies: Mapping[str, str],
    seats: Mapping[str, str],
) -> dict[str, Any]:
    roles = version.spec["roles"]
    return {
        "playbook": version.spec["name"],
        "playbook_version": version.number,
        "playbook_digest": version.digest,
        "max_rounds": limits.max_rounds,
        "deadline_minutes": limits.deadline_minutes,
        "pace_seconds": limits.pace_seconds,
        "seed": negotiation.seed,
        "participants": [
            {
                "role": r["name"],
                "seat": _seat_of(r["name"], seats),
                "strategy": _strategy_of(r, strategies, seats),
            }
            for r in roles
        ],
    }


def negotiation_start(
    *, negotiation: Negotiation, user=None, deadline_minutes: int | None = None
) -> Negotiation:
    """Start a draft negotiation: set its deadline and enqueue its first round."""
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if plan_model_of(negotiation) is not None and not plan_feasibility_record(
            negotiation=negotiation, user=user
        ):
            return negotiation  # refused: it stays a draft showing the conflicting constraints
        now = timezone.now()
        negotiation.started_at = now
        if deadline_minutes:
            negotiation.deadline = now + timedelta(minutes=deadline_minutes)
        negotiation.save(update_fields=["started_at", "deadline", "updated_at"])
        negotiation_transition(negotiation=negotiation, to=NegotiationStatus.RUNNING, user=user)
        round_schedule(negotiation.pk, negotiation.current_round)
    return negotiation


def _stored_state(negotiation: Negotiation):
    # a mediated coalition keeps its own state (services.coalition), not the engine's
    stored = negotiation.engine_state or {}
    return bridge.state_from_dict(stored) if "parties" in stored else None


def _state_store(negotiation: Negotiation, state) -> None:
    """Put a changed engine state back, keeping the keys the round path adds."""
    negotiation.engine_state = {**negotiation.engine_state, **bridge.state_to_dict(state)}


def _extensions_check(extra_rounds: int, extra_minutes: int) -> None:
    if extra_rounds < 0 or extra_minutes < 0:
        raise ServiceError("Extensions must not be negative.")
    if extra_rounds > 10_000 or extra_minutes > 43_200:
        raise ServiceError("Extend by at most 10,000 rounds and 43,200 minutes at a time.")


def negotiation_resume(
    *,
    negotiation: Negotiation,
    user=None,
    extra_rounds: int = 0,
    extra_minutes: int = 0,
    reason: str = "",
) -> Negotiation:
    """Resume an escalated negotiation, optionally with extended limits, so that it
    does not stop again at once for the same reason: the stall window restarts,
    used-up rounds or a passed deadline need more, and a policy that stopped a
    move must be overridden or changed first (selectors.escalations.resume_refusal)."""
    _extensions_check(extra_rounds, extra_minutes)
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status != NegotiationStatus.ESCALATED:
            raise TransitionError("Only an escalated negotiation can be resumed.")
        state = _stored_state(negotiation)
        refusal = escalations.resume_refusal(negotiation, state)
        if refusal:
            raise ServiceError(refusal)
        max_rounds = negotiation.max_rounds + extra_rounds
        if state is not None and state.round >= max_rounds:
            raise ServiceError(
                f"The negotiation has used {state.round} of {negotiation.max_rounds} rounds; "
                "add rounds to resume it."
            )
        now = timezone.now()
        deadline = negotiation.deadline
        if extra_minutes:
            deadline = max(deadline or now, now) + timedelta(minutes=extra_minutes)
        if deadline is not None and deadline <= now:
            raise ServiceError("The deadline has passed; add minutes to resume it.")
        negotiation.max_rounds = max_rounds
        negotiation.deadline = deadline
        if state is not None:
            # The engine stopped on escalation or stall; running again restarts
            # the stall window from this round.
            _state_store(
                negotiation,
                replace(
                    state,
                    status=Status.RUNNING,
                    cause=None,
                    reason="",
                    best_joint_round=state.round,
                ),
            )
        negotiation.save(update_fields=["max_rounds", "deadline", "engine_state", "updated_at"])
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.RUNNING,
            user=user,
            reason=reason or "resumed by a person",
            extra={"extra_rounds": extra_rounds, "extra_minutes": extra_minutes},
        )
        round_schedule(negotiation.pk, negotiation.current_round)
    return negotiation


def negotiation_close(*, negotiation: Negotiation, user=None, reason: str = "") -> Negotiation:
    """A person ends a negotiation that has not ended (cancelled)."""
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status in FINAL_STATUSES:
            raise Conflict("This negotiation has already ended.")
        if negotiation.status == NegotiationStatus.PENDING_APPROVAL:
            raise TransitionError("Decide the open approval request instead of closing it.")
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.CANCELLED,
            user=user,
            reason=reason or f"closed by {getattr(user, 'username', 'a person')}",
        )
    return negotiation


def _agreement_void(negotiation: Negotiation, *, extra_rounds: int) -> None:
    """Undo an agreement on the row and in the engine state, with room to negotiate
    again. Only a negotiation that used up its rounds gets more: the strategies
    concede with elapsed time (round / max_rounds), and a longer horizon would make
    them demand more again than what the approver just sent back."""
    state = _stored_state(negotiation)
    now = timezone.now()
    used = state.round + 1 if state is not None else negotiation.current_round
    if used + 2 > negotiation.max_rounds:
        negotiation.max_rounds = used + extra_rounds
    if negotiation.deadline is not None and negotiation.deadline <= now + timedelta(minutes=5):
        minutes = negotiation.playbook_version.spec.get("limits", {}).get("deadline_minutes", 60)
        negotiation.deadline = now + timedelta(minutes=minutes or 60)
    if state is not None:
        # Nothing stands on the table and the next engine round gets a fresh
        # number (offer ids embed it); the stall window restarts.
        _state_store(
            negotiation,
            replace(
                state,
                status=Status.RUNNING,
                cause=None,
                reason="",
                agreement=None,
                agreement_outcome=None,
                standing=None,
                accepted_by=(),
                round=used,
                best_joint_round=used,
            ),
        )
    negotiation.agreed_terms = None
    negotiation.agreed_offer = None
    negotiation.deal_value = None
    negotiation.deal_risk = None


def negotiation_reopen_after_changes(
    *, negotiation: Negotiation, user=None, reason: str = "", extra_rounds: int = 20
) -> Negotiation:
    """An approver sent the agreement back: the parties negotiate again from where
    they stopped, under any constraints the approver added, with room for more rounds."""
    if extra_rounds < 0:
        raise ServiceError("Extensions must not be negative.")
    with transaction.atomic():
        negotiation = Negotiation.objects.select_for_update().get(pk=negotiation.pk)
        if negotiation.status != NegotiationStatus.PENDING_APPROVAL:
            raise TransitionError("Only a negotiation waiting for approval can be sent back.")
        _agreement_void(negotiation, extra_rounds=extra_rounds)
        negotiation.save(
            update_fields=[
                "max_rounds",
                "deadline",
                "engine_state",
                "agreed_terms",
                "agreed_offer",
                "deal_value",
                "deal_risk",
                "updated_at",
            ]
        )
        negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.RUNNING,
            user=user,
            reason=reason or "changes requested by an approver",
            extra={"max_rounds": negotiation.max_rounds},
        )
        round_schedule(negotiation.pk, negotiation.current_round)
    return negotiation
