"""Celery tasks for tenders: thin wrappers that take ids and call one service.
Services enqueue them by name (tenders.services.lifecycle.TENDER_ROUND)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from tenders.services import lifecycle, rounds, sweeper


@shared_task(
    name=lifecycle.TENDER_ROUND,
    # A lost connection rolls the round back; retrying is safe (claimed by CAS).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=8,
)
def run_tender_round(tender_id: int, round_number: int) -> bool:
    return rounds.tender_run_round(tender_id=tender_id, round_number=round_number)


@shared_task(name="tenders.tasks.sweep_tenders")
def sweep_tenders() -> int:
    """Periodic (beat): enqueue overdue tender rounds again."""
    return len(sweeper.tenders_sweep())
