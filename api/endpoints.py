"""The REST API (django-ninja; OpenAPI at /api/openapi.json, docs at /api/docs).
An outside door, thin: each operation validates its input (api.schemas),
authenticates the bearer token (api.auth), and calls one selector or service,
which apply the same team and privacy rules as the pages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import render
from ninja import NinjaAPI, Query, Status
from ninja.openapi.docs import DocsBase
from ninja.parser import Parser

from api import errors, schemas
from api.auth import BearerToken
from api.outcomes import router as outcomes_router
from api.selectors import approvals as approval_reads
from api.selectors import negotiations as reads
from api.selectors import playbooks as playbook_reads
from api.services.negotiations import IssuedCredential, negotiation_start_with_seats
from approvals.models import ApprovalRequest
from approvals.services.decisions import approval_decide
from negotiator import permissions
from negotiator.models import CredentialKind, Negotiation, NegotiationStatus, Playbook
from negotiator.selectors.audit import audit_document, redactor_for
from negotiator.services.errors import NotAllowed, ServiceError
from negotiator.services.lifecycle import LimitOverrides
from negotiator.services.plans import plan_export

PORTAL_PATH = "/portal/{secret}/"  # the outside person's page (the portal app)


class StrictJsonParser(Parser):
    """JSON without NaN or Infinity (Python's json accepts them; JSON does not)."""

    def parse_body(self, request: HttpRequest) -> Any:
        def refuse(constant: str) -> Any:
            raise ValueError(f"{constant} is not a JSON number")

        return json.loads(request.body, parse_constant=refuse)


class VendoredSwagger(DocsBase):
    """Swagger UI from our own static files, started by a static script: nothing
    inline and nothing from another origin, as the Content-Security-Policy demands."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any):
        return render(
            request,
            "api/docs.html",
            {"openapi_url": self.get_openapi_url(api, kwargs), "api": api},
        )


class Api(NinjaAPI):
    def get_operation_url_name(self, operation, router) -> str:
        # Operations are reached by path; unnamed, the product's page walks
        # (tests/negotiator/test_teams.py) leave them to tests/api/test_walk.py,
        # which calls each with a bearer token.
        return ""


api = Api(
    title="Negotiator API",
    version="1",
    description=(
        "Start negotiations, follow them, decide approvals and export plans and audit "
        "trails. Authenticate with `Authorization: Bearer <token>` (make a token on "
        'the API tokens page). Errors: `{"error": {"code", "message", "details"}}`.'
    ),
    urls_namespace="api",
    auth=BearerToken(),
    docs=VendoredSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=StrictJsonParser(),
)
errors.install_handlers(api)

ERRORS = {400: schemas.ErrorOut, 401: schemas.ErrorOut, 404: schemas.ErrorOut}
ERRORS |= {403: schemas.ErrorOut, 409: schemas.ErrorOut, 429: schemas.ErrorOut}


def _negotiation(request: HttpRequest, negotiation_id: int) -> Negotiation:
    try:
        return reads.negotiation_for_api(negotiation_id, user=request.auth)
    except Negotiation.DoesNotExist:
        raise errors.NotFound(f"No negotiation {negotiation_id}.") from None


def _summary(n: Negotiation) -> dict[str, Any]:
    return {
        "id": n.pk,
        "title": str(n),
        "status": n.status,
        "status_label": n.get_status_display(),
        "playbook": {
            "id": n.playbook_id,
            "name": n.playbook.name,
            "version": n.playbook_version.number,
        },
        "team": n.team.name if n.team_id else None,
        "round": n.current_round,
        "max_rounds": n.max_rounds,
        "created_at": n.created_at,
        "started_at": n.started_at,
        "ended_at": n.ended_at,
        "deal_value": n.deal_value,
        "currency": reads.currency_of(n),
    }


def _detail(n: Negotiation) -> dict[str, Any]:
    turn = None
    if n.status == NegotiationStatus.RUNNING and n.waiting_for:
        turn = {"party": n.waiting_for, "since": n.turn_started_at, "due_at": n.turn_due_at}
    return {
        **_summary(n),
        "outcome": n.outcome_reason,
        "agreed_terms": n.agreed_terms,
        "deal_risk": n.deal_risk,
        "deadline": n.deadline,
        "whose_turn": turn,
        "seats": [
            {"role": p.role, "label": p.label or p.role, "seat": p.seat, "strategy": p.strategy}
            for p in reads.seats_of(n)
        ],
        "approval_request": reads.open_approval_of(n),
    }


@api.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["account"])
def me(request: HttpRequest):
    """Who the token acts for."""
    user = request.auth
    return {
        "username": user.get_username(),
        "teams": sorted(user.groups.values_list("name", flat=True)),
        "may_start_negotiations": permissions.may_operate(user),
        "token": request.api_token.prefix,
        "token_expires_at": request.api_token.expires_at,
    }


@api.get("/playbooks", response={200: list[schemas.PlaybookOut], **ERRORS}, tags=["playbooks"])
def playbooks(request: HttpRequest):
    """Playbooks you may start negotiations from (your teams'; operators only)."""
    return playbook_reads.playbooks_for_api(user=request.auth)


def _credential(request: HttpRequest, issued: IssuedCredential) -> dict[str, Any]:
    out = {
        "role": issued.role,
        "seat": issued.seat,
        "kind": issued.kind,
        "prefix": issued.prefix,
        "expires_at": issued.expires_at,
    }
    if issued.kind == CredentialKind.INVITE:
        out["invite_url"] = request.build_absolute_uri(PORTAL_PATH.format(secret=issued.secret))
    else:
        out["token"] = issued.secret
    return out


@api.post(
    "/negotiations", response={201: schemas.NegotiationCreatedOut, **ERRORS}, tags=["negotiations"]
)
def negotiation_create(request: HttpRequest, payload: schemas.NegotiationIn):
    """Start a negotiation from a playbook of your team (operators). Each outside
    seat gets a new credential, returned only in this answer: a bearer token for an
    outside agent (A2A), an invite link for an outside person (the portal)."""
    if not permissions.may_operate(request.auth):
        raise NotAllowed("Only operators may start negotiations.")
    try:
        playbook = playbook_reads.playbook_startable(payload.playbook, user=request.auth)
    except Playbook.DoesNotExist:
        raise errors.NotFound(f"No playbook {payload.playbook} that you may start from.") from None
    limits = payload.limits or schemas.LimitsIn()
    negotiation, issued = negotiation_start_with_seats(
        user=request.auth,
        playbook=playbook,
        title=payload.title.strip(),
        seed=payload.seed,
        overrides=LimitOverrides(
            max_rounds=limits.max_rounds,
            deadline_minutes=limits.deadline_minutes,
            pace_seconds=limits.pace_seconds,
        ),
        strategies=payload.strategies,
        seats=payload.seats,
        credential_days=payload.credential_days,
    )
    negotiation = _negotiation(request, negotiation.pk)
    return Status(
        201,
        {
            "negotiation": _detail(negotiation),
            "credentials": [_credential(request, c) for c in issued],
        },
    )


class NegotiationQuery(schemas.Input):
    status: NegotiationStatus | None = None
    playbook: int | None = schemas.Field(None, ge=1, le=2**63 - 1)
    q: str = schemas.Field("", max_length=100, description="Title, playbook or party.")
    created_after: datetime | None = None
    created_before: datetime | None = None
    page: int = schemas.Field(1, ge=1, le=1_000_000)
    page_size: int = schemas.Field(25, ge=1, le=reads.MAX_PAGE_SIZE)


@api.get("/negotiations", response={200: schemas.NegotiationPage, **ERRORS}, tags=["negotiations"])
def negotiation_list(request: HttpRequest, filters: Query[NegotiationQuery]):
    """Negotiations of your teams (all of them for auditors), newest first."""
    total, rows = reads.negotiations_for_api(
        reads.NegotiationFilters(**filters.model_dump()), user=request.auth
    )
    return {
        "count": total,
        "page": filters.page,
        "page_size": filters.page_size,
        "results": [_summary(n) for n in rows],
    }


@api.get(
    "/negotiations/{negotiation_id}",
    response={200: schemas.NegotiationDetailOut, **ERRORS},
    tags=["negotiations"],
)
def negotiation_get(request: HttpRequest, negotiation_id: int):
    """Status, outcome, agreed terms, deal value, whose turn it is, and the seats."""
    return _detail(_negotiation(request, negotiation_id))


class CursorQuery(schemas.Input):
    after: int = schemas.Field(0, ge=0, le=2**63 - 1)
    limit: int = schemas.Field(50, ge=1, le=200)


@api.get(
    "/negotiations/{negotiation_id}/offers",
    response={200: schemas.OfferList, **ERRORS},
    tags=["negotiations"],
)
def negotiation_offers(request: HttpRequest, negotiation_id: int, cursor: Query[CursorQuery]):
    """Offers in order, after the cursor. Utilities only for the parties whose
    private data you may see."""
    negotiation = _negotiation(request, negotiation_id)
    rows, more = reads.offers_for_api(
        negotiation, user=request.auth, after=cursor.after, limit=cursor.limit
    )
    return {"results": rows, "next_after": rows[-1]["id"] if more else None}


@api.get(
    "/negotiations/{negotiation_id}/checks",
    response={200: schemas.CheckList, **ERRORS},
    tags=["negotiations"],
)
def negotiation_checks(request: HttpRequest, negotiation_id: int, cursor: Query[CursorQuery]):
    """Policy checks in order, after the cursor; evidence private to a party you
    may not see is hidden, as on the negotiation page."""
    negotiation = _negotiation(request, negotiation_id)
    rows, more = reads.checks_for_api(
        negotiation, user=request.auth, after=cursor.after, limit=cursor.limit
    )
    return {"results": rows, "next_after": rows[-1]["id"] if more else None}


@api.get(
    "/negotiations/{negotiation_id}/plan",
    response={200: dict[str, Any], **ERRORS},
    tags=["negotiations"],
)
def negotiation_plan(request: HttpRequest, negotiation_id: int):
    """The final plan (who, what, when, how much): 409 until the deal is approved,
    or when the plan does not verify against its audit trail."""
    negotiation = _negotiation(request, negotiation_id)
    try:
        return plan_export(negotiation=negotiation)
    except ServiceError as exc:
        # Every refusal of plan_export is about the negotiation's state (not
        # approved, or not verified), never the caller's input: a conflict.
        raise errors.ApiConflict(str(exc)) from None


@api.get(
    "/negotiations/{negotiation_id}/audit",
    response={200: dict[str, Any], **ERRORS},
    tags=["negotiations"],
)
def negotiation_audit(request: HttpRequest, negotiation_id: int):
    """The audit trail as the audit page exports it (redacted for you), with the
    server's verification; verify it offline with negotiator/audit_offline.py."""
    negotiation = _negotiation(request, negotiation_id)
    return audit_document(negotiation, redactor_for(negotiation, request.auth))


class PageQuery(schemas.Input):
    page: int = schemas.Field(1, ge=1, le=1_000_000)
    page_size: int = schemas.Field(25, ge=1, le=100)


@api.get("/approvals", response={200: schemas.ApprovalPage, **ERRORS}, tags=["approvals"])
def approval_list(request: HttpRequest, paging: Query[PageQuery]):
    """Approval requests waiting for your decision, due soonest first."""
    total, rows = approval_reads.approvals_waiting(
        user=request.auth, page=paging.page, page_size=paging.page_size
    )
    return {
        "count": total,
        "page": paging.page,
        "page_size": paging.page_size,
        "results": [approval_reads.approval_document(r, user=request.auth) for r in rows],
    }


def _approval(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    try:
        return approval_reads.approval_for_api(approval_id, user=request.auth)
    except ApprovalRequest.DoesNotExist:
        raise errors.NotFound(f"No approval request {approval_id}.") from None


@api.get(
    "/approvals/{approval_id}", response={200: schemas.ApprovalOut, **ERRORS}, tags=["approvals"]
)
def approval_get(request: HttpRequest, approval_id: int):
    """One approval request you may see, and whether you may decide it."""
    return approval_reads.approval_document(_approval(request, approval_id), user=request.auth)


@api.post(
    "/approvals/{approval_id}/decision",
    response={200: schemas.ApprovalOut, **ERRORS},
    tags=["approvals"],
)
def approval_decision(request: HttpRequest, approval_id: int, payload: schemas.DecisionIn):
    """Approve, reject or request changes, as in the inbox: a comment is required
    to reject or request changes; constraints (with request_changes) become block
    policies for this negotiation alone."""
    approval = _approval(request, approval_id)
    decided = approval_decide(
        request=approval.pk,
        user=request.auth,
        decision=payload.decision,
        comment=payload.comment,
        constraints_text="\n".join(payload.constraints),
    )
    return approval_reads.approval_document(_approval(request, decided.pk), user=request.auth)


# The outcomes figures (analytics): GET /api/outcomes.
api.add_router("/outcomes", outcomes_router)
