"""Time-driven work on running negotiations: re-enqueue those that stopped making
progress (a lost message, a killed worker), and keep outside seats to their turn
deadlines (a reminder at three quarters of the turn, then the playbook's rule)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from negotiator.audit import audit_append
from negotiator.models import Negotiation, NegotiationStatus, TurnTimeout
from negotiator.services.lifecycle import negotiation_transition
from negotiator.services.scheduling import (
    SEAT_TURN,
    countdown_clamp,
    round_schedule,
    task_enqueue_on_commit,
)

log = logging.getLogger(__name__)


def negotiations_sweep(*, stale_after_seconds: float = 60.0) -> list[int]:
    """Re-enqueue running negotiations that made no progress for a while, so a lost
    message or a killed worker never strands one. Returns the ids re-enqueued."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    candidates = (
        Negotiation.objects.filter(status=NegotiationStatus.RUNNING, waiting_for="")
        .filter(Q(last_progress_at__lt=cutoff) | Q(last_progress_at__isnull=True))
        .values_list("pk", "current_round", "pace_seconds", "last_progress_at")
    )
    requeued = []
    for pk, current_round, pace, last in candidates:
        # One negotiation's fields (a NaN or infinite pace stored by hand) never
        # stop the sweep for the others: a row that fails is logged and skipped.
        try:
            if _requeue_if_stale(pk, current_round, pace, last, now=now, cutoff=cutoff):
                requeued.append(pk)
        except Exception:
            log.exception("sweeper skipped negotiation %s", pk)
    if requeued:
        log.info("sweeper re-enqueued %d negotiations: %s", len(requeued), requeued)
    return requeued


def _requeue_if_stale(
    pk: int, current_round: int, pace, last: datetime | None, *, now: datetime, cutoff: datetime
) -> bool:
    # A paced negotiation legitimately waits its pace between rounds (as scheduled:
    # clamped, so a NaN, infinite or huge pace reads as the countdown really used).
    if last is not None and last > cutoff - timedelta(seconds=countdown_clamp(pace)):
        return False
    # Touch the row so the next sweep does not enqueue the same round again
    # before this message had a chance to run.
    with transaction.atomic():
        touched = Negotiation.objects.filter(
            pk=pk, status=NegotiationStatus.RUNNING, current_round=current_round
        ).update(last_progress_at=now)
        if touched:
            round_schedule(pk, current_round)
    return bool(touched)


REMIND_AT = 0.75  # share of an outside seat's turn after which it is reminded once


def seat_turns_sweep(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Remind outside seats whose turn is three quarters over, and apply the
    playbook's rule (escalate to a person, or end as timed out) to those whose
    turn deadline passed. Returns the negotiation ids per action."""
    now = now or timezone.now()
    done: dict[str, list[int]] = {"reminded": [], "escalated": [], "timed_out": []}
    waiting = Negotiation.objects.filter(
        status=NegotiationStatus.RUNNING, turn_due_at__isnull=False
    ).exclude(waiting_for="")
    for pk, party, started, due, reminded in waiting.values_list(
        "pk", "waiting_for", "turn_started_at", "turn_due_at", "turn_reminded_at"
    )[:500]:
        if due <= now:
            outcome = _turn_missed(pk, party, now)
            if outcome:
                done[outcome].append(pk)
        elif (
            reminded is None
            and started is not None
            and now >= started + (due - started) * REMIND_AT
        ) and _turn_remind(pk, party, now):
            done["reminded"].append(pk)
    return done


def _turn_remind(pk: int, party: str, now: datetime) -> bool:
    with transaction.atomic():
        claimed = Negotiation.objects.filter(
            pk=pk, status=NegotiationStatus.RUNNING, waiting_for=party, turn_reminded_at=None
        ).update(turn_reminded_at=now)
        if not claimed:
            return False
        audit_append(
            negotiation=pk,
            kind="negotiation.turn_reminded",
            actor="system",
            payload={"party": party},
        )
        task_enqueue_on_commit(SEAT_TURN, pk, party, True, retried_later=True)
    return True


def _turn_missed(pk: int, party: str, now: datetime) -> str:
    """The playbook's rule for a missed turn: escalate (a person decides) or end
    as timed out. The engine state stays at the seat's turn, so a person who
    resumes it gives the seat a new deadline."""
    with transaction.atomic():
        negotiation = (
            Negotiation.objects.select_for_update()
            .select_related("playbook_version")
            .filter(
                pk=pk, status=NegotiationStatus.RUNNING, waiting_for=party, turn_due_at__lte=now
            )
            .first()
        )
        if negotiation is None:
            return ""
        limits = negotiation.playbook_version.spec["limits"]
        minutes = limits.get("turn_deadline_minutes", 60)
        ends = limits.get("on_turn_timeout", TurnTimeout.ESCALATE) == TurnTimeout.END
        to = NegotiationStatus.TIMED_OUT if ends else NegotiationStatus.ESCALATED
        Negotiation.objects.filter(pk=pk).update(waiting_for="", turn_due_at=None)
        negotiation.waiting_for = ""
        negotiation_transition(
            negotiation=negotiation,
            to=to,
            actor="system",
            reason=f"{party} did not move within its turn of {minutes} minutes",
            extra={"cause": "turn_missed", "party": party},
        )
    return "timed_out" if ends else "escalated"
