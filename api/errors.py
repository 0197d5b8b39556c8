"""One error body for every failure of the REST API,
``{"error": {"code": …, "message": …, "details": […]}}``, and the status each
exception class maps to (never its text): bad input 400 with field paths, no or a
bad token 401, not allowed 403, not there or another team's 404, a conflict with
the current state 409, too many requests 429."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.ratelimit import RateLimited, RateLimiterUnavailable
from api.services.tokens import TokenInvalid
from negotiator.services.errors import Conflict, NotAllowed, ServiceError, TransitionError

log = logging.getLogger(__name__)

CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found"}
CODES |= {405: "method_not_allowed", 409: "conflict", 429: "rate_limited"}


class NotFound(Exception):
    """Missing, or outside the person's teams: the same answer either way."""


class ApiConflict(Exception):
    """The request does not fit the object's current state (409)."""


def error_response(
    status: int, message: str, details: list[dict[str, Any]] | None = None, code: str = ""
) -> HttpResponse:
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message,
            "details": details or [],
        }
    }
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _unauthorized(message: str) -> HttpResponse:
    response = error_response(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="negotiator", error="invalid_token"'
    return response


def _field(loc: Any) -> str:
    """A field path people read: body.limits.max_rounds, query.page, seats.seller."""
    parts = [str(p) for p in loc]
    # ninja puts the view argument's name after the source (body.payload.title);
    # callers know only the document's own fields.
    if len(parts) > 1 and parts[0] == "body" and parts[1] == "payload":
        parts = [parts[0], *parts[2:]]
    return ".".join(parts)


def _validation(exc: ValidationError) -> HttpResponse:
    details = [
        {"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(400, f"The request is not valid: {summary}", details)


def _http_error(exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if exc.status_code == 400 and cause is not None:
        # ninja hides the parser's reason outside DEBUG; it is the caller's own input.
        return error_response(400, f"The body is not valid JSON: {cause}")
    if isinstance(exc, AuthenticationError):
        return _unauthorized("Send a valid API token: Authorization: Bearer <token>.")
    return error_response(exc.status_code, str(exc))


def _rate_limited(exc: RateLimited) -> HttpResponse:
    response = error_response(429, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


def _unavailable(exc: RateLimiterUnavailable) -> HttpResponse:
    log.error("API rate limiter unavailable: %s", exc)
    response = error_response(
        503, "The service cannot count requests right now; try again shortly.", code="unavailable"
    )
    response["Retry-After"] = "5"
    return response


def auth_failure_response(
    exc: TokenInvalid | RateLimited | RateLimiterUnavailable,
) -> HttpResponse:
    """The answer to a request whose token or rate check failed (outside ninja too)."""
    if isinstance(exc, RateLimited):
        return _rate_limited(exc)
    if isinstance(exc, RateLimiterUnavailable):
        return _unavailable(exc)
    return _unauthorized(str(exc))


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API %s %s failed", request.method, request.path)
    return error_response(500, "Something went wrong on our side; it was logged.", code="internal")


def install_handlers(api: NinjaAPI) -> None:
    """Map exceptions to statuses by class (the most specific class wins)."""
    handlers = {
        ValidationError: lambda r, e: _validation(e),
        HttpError: lambda r, e: _http_error(e),
        TokenInvalid: lambda r, e: _unauthorized(str(e)),
        RateLimited: lambda r, e: _rate_limited(e),
        RateLimiterUnavailable: lambda r, e: _unavailable(e),
        NotFound: lambda r, e: error_response(404, str(e) or "Not found."),
        Http404: lambda r, e: error_response(404, "Not found."),
        ObjectDoesNotExist: lambda r, e: error_response(404, "Not found."),
        ApiConflict: lambda r, e: error_response(409, str(e)),
        Conflict: lambda r, e: error_response(409, str(e)),
        TransitionError: lambda r, e: error_response(409, str(e)),
        NotAllowed: lambda r, e: error_response(403, str(e)),
        ServiceError: lambda r, e: error_response(400, str(e)),
        Exception: _unexpected,
    }
    for cls, handler in handlers.items():
        api.add_exception_handler(cls, handler)
