"""Who is calling and how often: the seat's bearer credential, and a rate limit
per credential kept in a cache every web process shares (Redis in production),
so the limit holds however many processes serve the door."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse

from negotiator.models import CredentialKind, SeatCredential
from negotiator.services.errors import NotAllowed
from negotiator.services.seats import seat_credential_verify

WINDOW_SECONDS = 60


class Unauthenticated(Exception):
    """No valid seat credential: the caller learns no more than that."""


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    retry_after: int  # seconds until the window that refused it ends


# Other doors on the same JSON-RPC endpoint, by their tokens' prefix (a tender
# bidder's agent: tenders.a2a_bids, registered by its app), so the negotiator
# package never imports them.
TokenDoor = Callable[[HttpRequest, str, bytes], HttpResponse]
_TOKEN_DOORS: dict[str, TokenDoor] = {}


def token_door_register(prefix: str, door: TokenDoor) -> None:
    _TOKEN_DOORS[prefix] = door


def token_door_for(request: HttpRequest) -> tuple[TokenDoor, str] | None:
    """The door a bearer token of another kind opens, with the token; None for a
    seat's token (or none at all)."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    for prefix, door in _TOKEN_DOORS.items():
        if token.startswith(prefix):
            return door, token
    return None


def seat_authenticate(request: HttpRequest) -> SeatCredential:
    """The live token credential named by ``Authorization: Bearer <token>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the seat's token as 'Authorization: Bearer <token>'.")
    try:
        return seat_credential_verify(secret=token.strip(), kind=CredentialKind.TOKEN)
    except NotAllowed:
        raise Unauthenticated("This credential is not valid.") from None


def rate_check(credential: SeatCredential, *, now: float | None = None) -> RateVerdict:
    """Count one request against the credential's fixed one-minute window. The
    counter lives in the shared cache (counted with incr, created with add: both
    atomic in Redis), so concurrent requests on any process are all counted."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    count = _count(f"a2a:rate:{credential.pk}:{window}", timeout=WINDOW_SECONDS * 2)
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    return RateVerdict(count <= settings.A2A_RATE_PER_MINUTE, retry_after)


def _count(key: str, *, timeout: int) -> int:
    """Count one in the shared cache's counter ``key`` (created with the timeout
    if it is not there): in Redis one atomic round trip (MULTI: SET NX EX, INCR),
    as Django's cache would take two (EXISTS, INCR) once the key is there."""
    cache = caches[settings.A2A_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        full = cache.make_and_validate_key(key)
        with cache._cache.get_client(full, write=True).pipeline(transaction=True) as pipe:
            pipe.set(full, 0, ex=timeout, nx=True)
            pipe.incr(full)
            return pipe.execute()[1]
    try:
        return cache.incr(key)
    except ValueError:  # the first request opens the window (unless another just did)
        return 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)


def client_address(request: HttpRequest) -> str:
    """The caller's address as the web server saw it (behind a proxy, the proxy's
    own; X-Forwarded-For is not trusted because anyone can send it)."""
    return request.META.get("REMOTE_ADDR", "")[:64]
