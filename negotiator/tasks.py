"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from negotiator import services


@shared_task(name="negotiator.tasks.record_heartbeat")
def record_heartbeat(token: str = "") -> None:
    services.heartbeat_record(token=token)


@shared_task(
    name="negotiator.tasks.run_round",
    # A lost database connection (failover, pg_terminate_backend) rolls the
    # round back; retrying is safe because the round is claimed by CAS.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=8,
)
def run_round(negotiation_id: int, round_number: int) -> bool:
    return services.negotiation_run_round(negotiation_id=negotiation_id, round_number=round_number)


@shared_task(name="negotiator.tasks.sweep_negotiations")
def sweep_negotiations() -> list[int]:
    return services.negotiations_sweep(stale_after_seconds=settings.NEGOTIATOR_SWEEP_AFTER_SECONDS)


def enqueue_round(negotiation_id: int, round_number: int, *, countdown: float = 0.0) -> None:
    """Enqueue a round once the caller's transaction commits."""
    countdown = min(max(countdown or 0.0, 0.0), settings.NEGOTIATOR_MAX_COUNTDOWN)
    run_round.apply_async_on_commit(
        (negotiation_id, round_number), countdown=countdown if countdown else None
    )
