"""The A2A door's HTTP endpoints: the agent card (public), the seat offer
schema (public) and the JSON-RPC endpoint (a seat's bearer token).

The JSON-RPC endpoint is an API authenticated by a bearer token in a header,
never by a cookie, so a cross-site request cannot ride on a browser's session:
it is exempt from CSRF and from the login requirement."""

from __future__ import annotations

import hashlib
import json

from a2a.server.request_handlers.response_helpers import (
    agent_card_to_dict,
    build_error_response,
)
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from negotiator.a2a.card import agent_card
from negotiator.a2a.errors import PayloadTooLarge, RateLimited, Unauthenticated
from negotiator.a2a.guard import Unauthenticated as NoCredential
from negotiator.a2a.guard import client_address, rate_check, seat_authenticate, token_door_for
from negotiator.a2a.offers import seat_offer_schema
from negotiator.a2a.server import rpc_handle
from negotiator.services.seats import CredentialUse, seat_credential_use_record

CARD_MAX_AGE = 300


@login_not_required
@require_GET
def card(request: HttpRequest) -> HttpResponse:
    """/.well-known/agent-card.json, with a weak ETag so clients revalidate cheaply."""
    body = agent_card_to_dict(
        agent_card(
            rpc_url=request.build_absolute_uri(reverse("a2a_rpc")),
            schema_url=request.build_absolute_uri(reverse("a2a_offer_schema")),
            docs_url=request.build_absolute_uri("/"),
        )
    )
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(text, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={CARD_MAX_AGE}"
    return response


@login_not_required
@require_GET
def offer_schema(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(seat_offer_schema())
    response["Cache-Control"] = f"public, max-age={CARD_MAX_AGE}"
    return response


@csrf_exempt
@login_not_required
@require_POST
def rpc(request: HttpRequest) -> JsonResponse:
    """Size limit → seat credential → rate limit → one JSON-RPC call → audit."""
    limit = settings.A2A_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > limit:
        return _refuse(PayloadTooLarge(f"The body is over {limit:,} bytes."), 413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refuse(PayloadTooLarge(f"The body is over {limit:,} bytes."), 413)
    other_door = token_door_for(request)  # e.g. a tender bidder's agent
    if other_door is not None:
        door, token = other_door
        return door(request, token, body)
    try:
        credential = seat_authenticate(request)
    except NoCredential as exc:
        response = _refuse(Unauthenticated(str(exc)), 401)
        response["WWW-Authenticate"] = 'Bearer realm="negotiator-a2a"'
        return response
    verdict = rate_check(credential)
    if not verdict.allowed:
        error = RateLimited(
            f"More than {settings.A2A_RATE_PER_MINUTE} requests a minute with this "
            f"credential; nothing was done. Retry after {verdict.retry_after} s."
        )
        response = _refuse(error, 429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    use = CredentialUse(credential, client_address(request), what="")
    answer = rpc_handle(body, request.headers, credential.participant, use=use)
    if not use.recorded:  # a played move records its use in its own transaction
        seat_credential_use_record(credential=credential, address=use.address, what=answer.outcome)
    return JsonResponse(answer.body)


def _refuse(error, status: int) -> JsonResponse:
    return JsonResponse(build_error_response(None, error.as_jsonrpc()), status=status)
