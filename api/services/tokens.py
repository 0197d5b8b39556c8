"""API tokens: made (the secret returned once, only its sha256 kept), checked on
every request, their use recorded, revoked. Making and revoking one is audited in
the global chain with the person who did it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from api.models import ApiToken
from negotiator.audit import audit_append
from negotiator.services.errors import NotAllowed, ServiceError
from negotiator.services.roles import actor_of

TOKEN_PREFIX = "napi_"
SHOWN_PREFIX = 12
MAX_DAYS = 366
DEFAULT_DAYS = 90
# last_used_at is written at most this often per token, so a busy integration
# does not turn every read into a write.
USE_RECORD_EVERY = timedelta(seconds=60)


class TokenInvalid(NotAllowed):
    """No live token matches (unknown, expired, revoked, or its user inactive): a 401."""


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, user, name: str, days: int, created_by=None) -> tuple[ApiToken, str]:
    """A new token for ``user``, valid ``days`` days. Returns it with its secret,
    which is stored nowhere: show it once."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError("Name the token (1 to 100 characters): what will use it?")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ServiceError(f"A token must be valid for 1 to {MAX_DAYS} days.")
    if not user.is_active:
        raise ServiceError(f"{user.get_username()} is inactive and cannot have tokens.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    creator = created_by or user
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=secret[:SHOWN_PREFIX],
            secret_hash=token_hash(secret),
            created_by=creator,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_append(
            kind="api.token_created",
            actor=actor_of(creator),
            user=creator,
            payload={
                "token": token.pk,
                "prefix": token.prefix,
                "name": name,
                "owner": user.get_username(),
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return token, secret


def token_revoke(*, token: ApiToken, user) -> ApiToken:
    """Revoke a token: its owner or a superuser (admins revoke in admin). Revoking
    a revoked token changes nothing."""
    if token.user_id != user.pk and not user.is_superuser:
        raise NotAllowed("Only the token's owner or an administrator may revoke it.")
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user
        )
        if changed:
            audit_append(
                kind="api.token_revoked",
                actor=actor_of(user),
                user=user,
                payload={"token": token.pk, "prefix": token.prefix, "name": token.name},
            )
    token.refresh_from_db()
    return token


def token_authenticate(*, secret: str, address: str = "") -> ApiToken:
    """The live token for a secret, its user loaded; records when and from where
    it was used. TokenInvalid never says which check failed, so a guesser learns
    nothing."""
    if not isinstance(secret, str) or not 20 <= len(secret) <= 200:
        raise TokenInvalid("The API token is missing or not valid.")
    token = ApiToken.objects.select_related("user").filter(secret_hash=token_hash(secret)).first()
    now = timezone.now()
    if token is None or token.state(now) != "active" or not token.user.is_active:
        raise TokenInvalid("The API token is missing or not valid.")
    if token.last_used_at is None or now - token.last_used_at >= USE_RECORD_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_from=address[:64])
        token.last_used_at = now
    return token
