"""Recovery: re-enqueue running negotiations that stopped making progress (a lost
message, a killed worker)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from negotiator.models import Negotiation, NegotiationStatus
from negotiator.services.scheduling import round_schedule

log = logging.getLogger(__name__)


def negotiations_sweep(*, stale_after_seconds: float = 60.0) -> list[int]:
    """Re-enqueue running negotiations that made no progress for a while, so a lost
    message or a killed worker never strands one. Returns the ids re-enqueued."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    candidates = (
        Negotiation.objects.filter(status=NegotiationStatus.RUNNING)
        .filter(Q(last_progress_at__lt=cutoff) | Q(last_progress_at__isnull=True))
        .values_list("pk", "current_round", "pace_seconds", "last_progress_at")
    )
    requeued = []
    for pk, current_round, pace, last in candidates:
        # A paced negotiation legitimately waits `pace` seconds between rounds.
        if last is not None and last > cutoff - timedelta(seconds=pace or 0):
            continue
        # Touch the row so the next sweep does not enqueue the same round again
        # before this message had a chance to run.
        touched = Negotiation.objects.filter(
            pk=pk, status=NegotiationStatus.RUNNING, current_round=current_round
        ).update(last_progress_at=now)
        if touched:
            round_schedule(pk, current_round)
            requeued.append(pk)
    if requeued:
        log.info("sweeper re-enqueued %d negotiations: %s", len(requeued), requeued)
    return requeued
