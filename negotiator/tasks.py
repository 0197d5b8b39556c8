"""Celery tasks: thin wrappers that take ids and call one service. Services
enqueue them by name (negotiator.services.scheduling), never by importing this
module."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from negotiator.services import checkpoints, rounds, scheduling, seats, sweeper, workers
from negotiator.services.errors import ServiceError

log = logging.getLogger(__name__)


@shared_task(name=scheduling.RECORD_HEARTBEAT)
def record_heartbeat(token: str = "") -> None:
    workers.heartbeat_record(token=token)


@shared_task(
    name=scheduling.RUN_ROUND,
    # A lost database connection (failover, pg_terminate_backend) rolls the
    # round back; retrying is safe because the round is claimed by CAS.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=8,
)
def run_round(negotiation_id: int, round_number: int) -> bool:
    return rounds.negotiation_run_round(negotiation_id=negotiation_id, round_number=round_number)


@shared_task(name=scheduling.SWEEP_NEGOTIATIONS)
def sweep_negotiations() -> list[int]:
    """Beat runs this: recovery of stuck negotiations, and outside seats' turn deadlines."""
    sweeper.seat_turns_sweep()
    return sweeper.negotiations_sweep(stale_after_seconds=settings.NEGOTIATOR_SWEEP_AFTER_SECONDS)


@shared_task(name=scheduling.SEAT_TURN)
def seat_turn(negotiation_id: int, party: str, reminder: bool = False) -> bool:
    return seats.seat_turn_notify(negotiation_id=negotiation_id, party=party, reminder=reminder)


@shared_task(name=scheduling.AUDIT_CHECKPOINT)
def audit_checkpoint() -> int | None:
    """Beat writes one every AUDIT_CHECKPOINT_EVERY_SECONDS. A refusal (the trail
    disagrees with the last checkpoint) is logged as an error and not retried:
    it needs a person, and every later run refuses again until one looks."""
    try:
        return checkpoints.checkpoint_write().number
    except ServiceError as exc:
        log.error("audit checkpoint not written: %s", exc)
        return None
