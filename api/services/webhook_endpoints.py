"""Teams' webhook endpoints: checking their URL (https, public addresses: no
requests into our own network), their signing secret (made here, shown once,
stored encrypted because HMAC needs it back), and saving, rotating and switching
them. Every change is audited in the global chain."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from api import webhook_transport
from api.models import WebhookEndpoint, WebhookEventKind
from negotiator import permissions
from negotiator.audit import audit_append
from negotiator.services.errors import NotAllowed, ServiceError
from negotiator.services.roles import actor_of

SECRET_PREFIX = "whsec_"


class SecretUnreadable(ServiceError):
    """The stored secret cannot be decrypted (WEBHOOK_SECRET_KEY changed): rotate it."""


def _fernet() -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"negotiator webhook secrets"
    ).derive(settings.WEBHOOK_SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(endpoint: WebhookEndpoint) -> str:
    try:
        return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable(
            "The endpoint's signing secret cannot be read (WEBHOOK_SECRET_KEY changed?); "
            "rotate the secret in admin."
        ) from None


def webhook_url_check(url: str) -> str:
    """The URL if webhooks may go there now; ServiceError says why not."""
    url = (url or "").strip()
    if len(url) > 500:
        raise ServiceError("Keep the URL under 500 characters.")
    try:
        webhook_transport.target_resolve(url)
    except webhook_transport.UrlRefused as exc:
        raise ServiceError(str(exc)) from None
    return url


def events_check(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    unknown = [e for e in events if e not in WebhookEventKind.values]
    if unknown:
        raise ServiceError(
            f"Unknown events: {', '.join(map(str, unknown))}; "
            f"known: {', '.join(WebhookEventKind.values)}."
        )
    if not events:
        raise ServiceError("Subscribe the endpoint to at least one event.")
    return events


def _may_manage(user, team: Group) -> None:
    if not user.is_superuser and team.pk not in permissions.group_ids(user):
        raise NotAllowed(f"Only members of {team.name} (or superusers) manage its webhooks.")


def webhook_endpoint_create(
    *, team: Group, url: str, events: Iterable[str], user, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is returned once (show it now)."""
    _may_manage(user, team)
    url = webhook_url_check(url)
    events = events_check(events)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            team=team,
            url=url,
            events=events,
            description=description[:200],
            secret_encrypted=secret_encrypt(secret),
            secret_prefix=secret[:12],
            created_by=user,
        )
        _audit(endpoint, user, "api.webhook_created")
    return endpoint, secret


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    user,
    url: str,
    events: Iterable[str],
    active: bool,
    description: str = "",
) -> WebhookEndpoint:
    _may_manage(user, endpoint.team)
    endpoint.url = webhook_url_check(url)
    endpoint.events = events_check(events)
    endpoint.active = bool(active)
    endpoint.description = description[:200]
    with transaction.atomic():
        endpoint.save()
        _audit(endpoint, user, "api.webhook_changed")
    return endpoint


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, user) -> str:
    """A new secret for the endpoint, returned once; the old one stops signing now."""
    _may_manage(user, endpoint.team)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint.secret_encrypted = secret_encrypt(secret)
        endpoint.secret_prefix = secret[:12]
        endpoint.save(update_fields=["secret_encrypted", "secret_prefix", "updated_at"])
        _audit(endpoint, user, "api.webhook_secret_rotated")
    return secret


def _audit(endpoint: WebhookEndpoint, user, kind: str) -> None:
    audit_append(
        kind=kind,
        actor=actor_of(user),
        user=user,
        payload={
            "endpoint": endpoint.pk,
            "team": endpoint.team.name,
            "url": endpoint.url,
            "events": endpoint.events,
            "active": endpoint.active,
            "secret_prefix": endpoint.secret_prefix,
        },
    )
