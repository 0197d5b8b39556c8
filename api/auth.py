"""Bearer-token authentication for the REST API, and its rate limit.

Only the Authorization header authenticates: a session cookie does not, so the
API needs no CSRF protection (a browser never sends the token by itself), and its
views are exempt from CSRF and from the login redirect. Tokens are checked here,
not through django.contrib.auth.authenticate, so django-axes (the login form's
lockout) never counts them; tokens are 256-bit random, so guessing is hopeless."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from api.ratelimit import rate_limit_hit
from api.services.tokens import TokenInvalid, token_authenticate


class BearerToken(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any:
        # ninja's own parsing logs a malformed header with the token in it.
        value = request.headers.get("Authorization", "")
        scheme, _, secret = value.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise TokenInvalid("Send your API token as: Authorization: Bearer <token>.")
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = token_authenticate(secret=token, address=request.META.get("REMOTE_ADDR", ""))
        rate_limit_hit(api_token.secret_hash[:32])
        request.api_token = api_token
        # The person the token acts for: every service call and audit event names them.
        request.user = api_token.user
        return api_token.user
