"""The cure for a lost round: a running tender whose round is overdue (its pace,
or for outside bidders its round window, plus the sweep grace) is enqueued again
by a periodic task. Playing it twice is harmless: a round is claimed by
compare-and-set on (status, round)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from negotiator.services.scheduling import task_enqueue_on_commit
from tenders.models import Tender, TenderStatus
from tenders.services.lifecycle import TENDER_ROUND
from tenders.services.setup import tender_config_parse


def round_due_at(tender: Tender) -> datetime:
    """When the tender's current round should have been played."""
    config = tender_config_parse(tender.config)
    if tender.round_opened_at is not None:  # outside bidders: the round's window
        return tender.round_opened_at + timedelta(seconds=config.outside_round_seconds)
    return tender.updated_at + timedelta(seconds=config.pace_seconds)


def tenders_sweep(*, now: datetime | None = None) -> list[int]:
    """Enqueue the overdue round of every running tender; the ids enqueued."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.NEGOTIATOR_SWEEP_AFTER_SECONDS)
    running = Tender.objects.filter(status=TenderStatus.RUNNING).only(
        "pk", "round", "config", "round_opened_at", "updated_at"
    )
    swept = []
    for tender in running:
        if now >= round_due_at(tender) + grace:
            task_enqueue_on_commit(TENDER_ROUND, tender.pk, tender.round, retried_later=True)
            swept.append(tender.pk)
    return swept
