"""A small fixed-window rate limiter on Django's cache (shared by every web
process when CACHE_URL points at Redis), for the doors outsiders use."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

log = logging.getLogger(__name__)


class LimiterUnavailable(Exception):
    """The cache the limiter counts in does not answer."""


def rate_allow(key: str, *, limit: int, window: int = 60) -> bool:
    """Count one request for ``key``; False once more than ``limit`` came within
    the current ``window`` seconds. Raises LimiterUnavailable when the cache is
    down, so a door can refuse (fail closed) rather than count nothing."""
    bucket = f"rate:{key}:{int(time.time() // window)}"
    try:
        if cache.add(bucket, 1, timeout=window + 5):
            return limit >= 1
        try:
            count = cache.incr(bucket)
        except ValueError:  # the window's key expired between add and incr
            cache.add(bucket, 1, timeout=window + 5)
            count = 1
    except Exception as exc:
        log.error("rate limiter: the cache does not answer: %s", exc)
        raise LimiterUnavailable(str(exc)) from exc
    return count <= limit
