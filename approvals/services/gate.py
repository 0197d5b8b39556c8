"""Which agreements need a person: approval routes matched against an agreement,
and opening the request that holds it at the gate. ``ApprovalsGate`` is what the
negotiation side calls (registered in ApprovalsConfig.ready)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalRoute, ApprovalStatus, ConditionKind
from approvals.selectors import check_to_dict
from approvals.services.notices import approval_notice_enqueue
from negotiator.audit import audit_append
from negotiator.engine.cel import PolicyError, build_activation, compile_expression
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    PolicyCheck,
    PolicyKindChoice,
    Severity,
)
from negotiator.services.lifecycle import negotiation_transition


@dataclass(frozen=True)
class RouteMatch:
    route: ApprovalRoute
    values: dict[str, Any]


def route_expression_compile(expression: str):
    """Compile a route's CEL rule; PolicyError with the compiler's message if unusable.

    A route sees the agreed terms, the fixed terms and the deal measures; private
    profiles are not part of an agreement, so ``profile`` is refused."""
    rule = compile_expression(expression)
    if "profile" in rule.shape.identifiers:
        raise PolicyError("a route cannot read 'profile': private profiles are not agreed terms")
    return rule


def _failed_checks(negotiation: Negotiation) -> tuple[list[PolicyCheck], list[PolicyCheck]]:
    """(failed escalate checks in the whole negotiation, failed approval-threshold
    checks of the agreed offer)."""
    base = PolicyCheck.objects.filter(negotiation=negotiation, passed=False).select_related(
        "policy_version"
    )
    escalate = list(
        base.filter(severity=Severity.ESCALATE).exclude(
            policy_version__kind=PolicyKindChoice.APPROVAL_THRESHOLD
        )
    )
    thresholds = base.filter(policy_version__kind=PolicyKindChoice.APPROVAL_THRESHOLD)
    if negotiation.agreed_offer_id:
        thresholds = thresholds.filter(offer_id=negotiation.agreed_offer_id)
    else:
        thresholds = thresholds.filter(terms=negotiation.agreed_terms or {})
    seen: set[int] = set()
    unique_thresholds = []
    for check in thresholds:
        if check.policy_version_id not in seen:
            seen.add(check.policy_version_id)
            unique_thresholds.append(check)
    return escalate, unique_thresholds


def _route_match(
    route: ApprovalRoute,
    negotiation: Negotiation,
    escalate_checks: Sequence[PolicyCheck],
    threshold_checks: Sequence[PolicyCheck],
) -> dict[str, Any] | None:
    """The values that made the route match, or None when it does not."""
    kind = route.condition_kind
    value, risk = negotiation.deal_value, negotiation.deal_risk
    if kind == ConditionKind.DEAL_VALUE_ABOVE:
        if value is None:  # fail closed: an unknown value goes to a person
            return {"deal_value": None, "threshold": route.threshold, "note": "deal value unknown"}
        if route.threshold is not None and value > route.threshold:
            return {"deal_value": value, "threshold": route.threshold}
        return None
    if kind == ConditionKind.RISK_ABOVE:
        if risk is None:
            return {"deal_risk": None, "threshold": route.threshold, "note": "deal risk unknown"}
        if route.threshold is not None and risk > route.threshold:
            return {"deal_risk": risk, "threshold": route.threshold}
        return None
    if kind == ConditionKind.PLAYBOOK:
        if route.playbook_id and route.playbook_id == negotiation.playbook_id:
            return {"playbook": negotiation.playbook.name}
        return None
    if kind == ConditionKind.ESCALATE_POLICY:
        if escalate_checks:
            return {"policy_checks": [c.pk for c in escalate_checks]}
        return None
    if kind == ConditionKind.APPROVAL_THRESHOLD:
        if threshold_checks:
            return {"policy_checks": [c.pk for c in threshold_checks]}
        return None
    if kind == ConditionKind.EXPRESSION:
        spec = negotiation.playbook_version.spec
        terms = negotiation.agreed_terms or {}
        try:
            rule = route_expression_compile(route.expression)
        except PolicyError as exc:  # fail closed: a broken rule sends the deal to a person
            return {"expression": route.expression, "error": str(exc), "terms": terms}
        outcome = rule.evaluate(
            build_activation(
                terms=terms,
                fixed=spec.get("fixed_terms", {}),
                deal={"value": value, "risk": risk},
                stage="accept",
            )
        )
        if outcome.error:
            return {"expression": route.expression, "error": outcome.error, "terms": terms}
        if outcome.passed:
            return {"expression": route.expression, "result": True, "terms": terms}
        return None
    return None


def approval_routes_match(*, negotiation: Negotiation) -> list[RouteMatch]:
    """Active routes that match this agreement, leading route first."""
    escalate, thresholds = _failed_checks(negotiation)
    matches = []
    for route in ApprovalRoute.objects.filter(active=True).order_by("order", "name", "pk"):
        values = _route_match(route, negotiation, escalate, thresholds)
        if values is not None:
            matches.append(RouteMatch(route, values))
    return matches


def _request_reasons(negotiation: Negotiation, matches: Sequence[RouteMatch]) -> dict[str, Any]:
    """Why the deal needs a person: the routes that matched and with which values,
    the deal measures and the failed policy results."""
    escalate, thresholds = _failed_checks(negotiation)
    return {
        "routes": [
            {
                "id": m.route.pk,
                "name": m.route.name,
                "condition_kind": m.route.condition_kind,
                "condition": m.route.condition_text(),
                "matched": m.values,
            }
            for m in matches
        ],
        "deal_value": negotiation.deal_value,
        "deal_risk": negotiation.deal_risk,
        "policy_results": [check_to_dict(c) for c in [*thresholds, *escalate]],
    }


def approval_request_open_if_needed(*, negotiation: Negotiation) -> bool:
    """Called by the approval gate inside the round's transaction (negotiation row
    locked). Opens a request and moves the negotiation to pending approval when a
    route matches; False lets the gate approve the agreement automatically."""
    matches = approval_routes_match(negotiation=negotiation)
    if not matches:
        return False
    lead = matches[0].route
    now = timezone.now()
    due_at = now + timedelta(hours=lead.sla_hours)
    reasons = _request_reasons(negotiation, matches)
    request = ApprovalRequest.objects.create(
        negotiation=negotiation,
        offer=negotiation.agreed_offer,
        terms=negotiation.agreed_terms or {},
        deal_value=negotiation.deal_value,
        deal_risk=negotiation.deal_risk,
        reasons=reasons,
        route=lead,
        # Never weaker than any matching route: the strictest four-eyes rule wins.
        approvals_required=max(m.route.approvers_required for m in matches),
        approver_group=lead.approver_group,
        due_at=due_at,
        window_started_at=now,
    )
    request.routes.set([m.route for m in matches])
    names = ", ".join(m.route.name for m in matches)
    audit_append(
        negotiation=negotiation,
        kind="approval.requested",
        actor="system",
        payload={
            "approval_request": request.pk,
            "routes": reasons["routes"],
            "approver_group": lead.approver_group.name,
            "approvals_required": request.approvals_required,
            "due_at": due_at.isoformat(),
            "terms": request.terms,
        },
    )
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.PENDING_APPROVAL,
        actor="system",
        reason=f"waiting for approval ({names})",
        extra={"approval_request": request.pk},
    )
    approval_notice_enqueue(request.pk)
    return True


class ApprovalsGate:
    """The approval gate as the negotiation side sees it (negotiator.agreement_hooks)."""

    def open_if_needed(self, *, negotiation: Negotiation) -> bool:
        return approval_request_open_if_needed(negotiation=negotiation)

    def open_requests(self, negotiation_ids: Sequence[int]) -> dict[int, Any]:
        return {
            r.negotiation_id: r
            for r in ApprovalRequest.objects.filter(
                negotiation_id__in=negotiation_ids, status=ApprovalStatus.PENDING
            ).only("pk", "negotiation_id", "due_at", "status")
        }

    def requests_of(self, negotiation: Negotiation, *, limit: int) -> list[Any]:
        return list(
            ApprovalRequest.objects.filter(negotiation=negotiation)
            .select_related("approver_group")
            .order_by("-id")[:limit]
        )
