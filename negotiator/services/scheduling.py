"""Enqueueing follow-up work: the one way services reach Celery.

Services never import task modules (tasks import services, so that would be a
cycle). They send a task by its registered name once the caller's transaction
commits, so a rolled-back write never leaves a message behind. The task names
live here; the task modules register their functions under them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from negotiator.celery import app

RUN_ROUND = "negotiator.tasks.run_round"
RECORD_HEARTBEAT = "negotiator.tasks.record_heartbeat"
SWEEP_NEGOTIATIONS = "negotiator.tasks.sweep_negotiations"
SEAT_TURN = "negotiator.tasks.seat_turn"
AUDIT_CHECKPOINT = "negotiator.tasks.audit_checkpoint"

log = logging.getLogger(__name__)
_held = threading.local()


def task_enqueue_on_commit(
    name: str, *args, countdown: float | None = None, retried_later: bool = False
) -> None:
    """Send the task ``name`` with ``args`` after the current transaction commits
    (at once outside a transaction). With ``retried_later`` (a periodic job does
    the same work) a broker outage is logged instead of raised."""
    options = {"countdown": countdown} if countdown else {}

    def send() -> None:
        try:
            app.send_task(name, args=args, **options)
        except Exception:
            if not retried_later:
                raise
            log.warning("could not enqueue %s%r; the periodic job will do it", name, args)

    transaction.on_commit(send)


def round_schedule(negotiation_id: int, round_number: int, *, countdown: float = 0.0) -> None:
    """Enqueue a negotiation's round once the caller's transaction commits, unless
    rounds are held in this thread (see :func:`rounds_held`)."""
    if rounds_are_held():
        return
    countdown = countdown_clamp(countdown)
    task_enqueue_on_commit(RUN_ROUND, negotiation_id, round_number, countdown=countdown or None)


def countdown_clamp(seconds: float | None) -> float:
    """A pace or delay as a countdown the broker takes, whatever a row holds: no
    value or NaN counts as none, infinities and huge values as the longest
    allowed (NEGOTIATOR_MAX_COUNTDOWN), so one bad number never stops a round."""
    try:
        value = float(seconds or 0.0)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if math.isnan(value):
        return 0.0
    return min(max(value, 0.0), float(settings.NEGOTIATOR_MAX_COUNTDOWN))


def rounds_are_held() -> bool:
    """Whether this thread is inside :func:`rounds_held`."""
    return bool(getattr(_held, "depth", 0))


@contextmanager
def rounds_held() -> Iterator[None]:
    """Within this block, no round — a negotiation's or a tender's — goes to the
    broker: the caller plays the rounds itself in this process (demo data, the page
    benchmark)."""
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield
    finally:
        _held.depth -= 1
