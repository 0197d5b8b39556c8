"""/api/: the tokens page (a product page: login required) and the REST API
(bearer tokens only: no login redirect, no CSRF; see api.auth)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, path

from api import views
from api.auth import BearerToken
from api.endpoints import api
from api.errors import auth_failure_response, error_response
from api.ratelimit import RateLimited, RateLimiterUnavailable
from api.services.tokens import TokenInvalid


def _openapi_access(view):
    """The OpenAPI document for a logged-in person or a caller with a valid token."""

    @login_not_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            try:
                BearerToken()(request)
            except (TokenInvalid, RateLimited, RateLimiterUnavailable) as exc:
                return auth_failure_response(exc)
        return view(request, *args, **kwargs)

    return wrapped


def _json_405(view):
    """ninja answers a wrong method with a plain-text 405; callers get the API's
    error body like every other failure."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code != 405:
            return response
        allowed = response.get("Allow", "")
        refused = error_response(405, f"{request.method} is not allowed here; use {allowed}.")
        refused["Allow"] = allowed
        return refused

    return wrapped


def _api_urls() -> tuple[list, str, str]:
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if not isinstance(pattern, URLPattern):
            continue
        if pattern.name == "openapi-json":
            pattern.callback = _openapi_access(pattern.callback)
        elif pattern.name != "openapi-view":
            # Operations authenticate their bearer token themselves (api.auth);
            # the docs page stays behind the login like every product page.
            pattern.callback = login_not_required(_json_405(pattern.callback))
    return patterns, app_name, namespace


urlpatterns = [
    path("tokens/", views.tokens, name="api_tokens"),
    path("tokens/revoke/", views.token_revoke_view, name="api_token_revoke"),
    path("", _api_urls()),
]
