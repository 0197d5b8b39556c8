"""A person's API tokens for their tokens page (newest first, never a secret)."""

from __future__ import annotations

from api.models import ApiToken


def tokens_of(user) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user).order_by("-created_at", "-id"))
