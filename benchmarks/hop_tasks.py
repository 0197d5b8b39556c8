"""A no-op task for benchmarks/throughput.py: the Celery floor.

Each hop enqueues the next, as a round enqueues the next round, with the same
settings (JSON, late acks, prefetch 1) through the same broker and workers, and
does no other work. Workers load it with ``--include benchmarks.hop_tasks``.
"""

from __future__ import annotations

import redis
from django.conf import settings

from negotiator.celery import app

DONE_KEY = "negotiator:bench:hops-done"
_client: redis.Redis | None = None


def done_counter() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return _client


@app.task(name="benchmarks.hop")
def hop(remaining: int) -> None:
    if remaining > 1:
        hop.apply_async((remaining - 1,))
        return
    done_counter().incr(DONE_KEY)
