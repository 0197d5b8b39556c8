"""The per-token rate limit: a fixed-window counter in the shared cache (Redis in
production), incremented atomically, so every web process counts against the same
limit. No database here."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache


class RateLimited(Exception):
    """Over the limit: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: int, limit: int, window: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many requests: this token may make {limit} requests per {window} s; "
            f"try again in {retry_after} s."
        )


class RateLimiterUnavailable(Exception):
    """The cache does not answer: the request is refused (fail closed), not let through."""


def rate_limit_hit(key: str, *, now: float | None = None) -> int:
    """Count one request for ``key``; the count in the current window. Raises
    RateLimited over API_RATE_LIMIT."""
    limit = settings.API_RATE_LIMIT
    window = settings.API_RATE_WINDOW_SECONDS
    now = time.time() if now is None else now
    start = int(now // window) * window
    cache_key = f"api-rate:{key}:{start}"
    try:
        cache.add(cache_key, 0, timeout=window + 5)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the key expired between add and incr
            cache.set(cache_key, 1, timeout=window + 5)
            count = 1
    except Exception as exc:  # the cache's own errors differ by backend
        raise RateLimiterUnavailable(str(exc)) from exc
    if count > limit:
        raise RateLimited(max(1, math.ceil(start + window - now)), limit, window)
    return count
