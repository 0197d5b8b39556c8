"""Which agreements need a person, and who: approval routes matched against an
agreement, the default route, automatic approval, and opening the request that
holds a deal at the gate. ``ApprovalsGate`` is what the negotiation side calls
(registered in ApprovalsConfig.ready).

The gate fails closed (one rule, :func:`approval_gate_route`):

1. the lowest-order matching route leads; a route that approves automatically
   approves the deal only when it matched for certain and the deal is clean
   (no failed check anywhere in the agreement's checks, nothing waived);
2. otherwise the matching routes where a person decides open a request;
3. otherwise, the default route opens one;
4. otherwise the negotiation escalates: a person decides, and the reason says
   that no route took the deal.

A deal is never approved because nothing matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from approvals.models import (
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ConditionKind,
    RouteDecision,
)
from approvals.selectors import check_to_dict
from approvals.services.notices import approval_notice_enqueue
from negotiator.agreement_hooks import GateVerdict
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

RULE_MATCHING_ROUTE = "matching-route"
RULE_DEFAULT_ROUTE = "default-route"
RULE_AUTO_APPROVE = "auto-approve-route"
RULE_NO_ROUTE = "no-route"


@dataclass(frozen=True)
class RouteMatch:
    route: ApprovalRoute
    values: dict[str, Any]

    @property
    def certain(self) -> bool:
        """Matched on known values. An unknown deal measure or a rule that failed
        to evaluate matches a route where a person decides (fail closed), never
        one that approves automatically."""
        return "error" not in self.values and "note" not in self.values


@dataclass(frozen=True)
class AgreementChecks:
    """The failed checks that bear on an agreement."""

    escalate: list[PolicyCheck]  # escalate-severity failures anywhere in the negotiation
    thresholds: list[PolicyCheck]  # approval-threshold failures of the agreed terms
    waived: list[PolicyCheck]  # failures an approved override let through, anywhere
    other: list[PolicyCheck]  # any other failure of the agreed terms (e.g. a warning)

    @property
    def needs_person(self) -> bool:
        return bool(self.escalate or self.thresholds or self.waived)

    @property
    def clean(self) -> bool:
        return not (self.needs_person or self.other)

    def names(self) -> list[str]:
        """The failed policies, once each, in the order they failed."""
        seen: dict[str, None] = {}
        for check in [*self.thresholds, *self.escalate, *self.waived, *self.other]:
            seen.setdefault(check.policy_version.name, None)
        return list(seen)


def route_expression_compile(expression: str):
    """Compile a route's CEL rule; PolicyError with the compiler's message if unusable.

    A route sees the agreed terms, the fixed terms and the deal measures; private
    profiles are not part of an agreement, so ``profile`` is refused."""
    rule = compile_expression(expression)
    if "profile" in rule.shape.identifiers:
        raise PolicyError("a route cannot read 'profile': private profiles are not agreed terms")
    return rule


def _unique_by_version(checks) -> list[PolicyCheck]:
    seen: set[int] = set()
    out = []
    for check in checks:
        if check.policy_version_id not in seen:
            seen.add(check.policy_version_id)
            out.append(check)
    return out


def agreement_checks(negotiation: Negotiation) -> AgreementChecks:
    """The failed checks that bear on the agreement: escalate-severity failures
    and waivers anywhere in the negotiation, and every failure of an offer (or
    acceptance) with the agreed terms."""
    base = PolicyCheck.objects.filter(negotiation=negotiation, passed=False).select_related(
        "policy_version"
    )
    threshold = PolicyKindChoice.APPROVAL_THRESHOLD
    escalate = list(
        base.filter(severity=Severity.ESCALATE, waived_by__isnull=True).exclude(
            policy_version__kind=threshold
        )
    )
    waived = _unique_by_version(base.filter(waived_by__isnull=False))
    agreed = list(
        base.filter(
            offer__isnull=False, waived_by__isnull=True, terms=negotiation.agreed_terms or {}
        )
    )
    thresholds = _unique_by_version(c for c in agreed if c.policy_version.kind == threshold)
    escalate_ids = {c.pk for c in escalate}
    other = _unique_by_version(
        c for c in agreed if c.policy_version.kind != threshold and c.pk not in escalate_ids
    )
    return AgreementChecks(escalate=escalate, thresholds=thresholds, waived=waived, other=other)


def _threshold_match(value: float | None, threshold: float | None, name: str) -> dict | None:
    if value is None:  # fail closed: an unknown measure goes to a person
        return {name: None, "threshold": threshold, "note": f"{name.replace('_', ' ')} unknown"}
    if threshold is not None and value > threshold:
        return {name: value, "threshold": threshold}
    return None


def _expression_match(route: ApprovalRoute, negotiation: Negotiation) -> dict | None:
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
            deal={"value": negotiation.deal_value, "risk": negotiation.deal_risk},
            stage="accept",
        )
    )
    if outcome.error:
        return {"expression": route.expression, "error": outcome.error, "terms": terms}
    if outcome.passed:
        return {"expression": route.expression, "result": True, "terms": terms}
    return None


def _route_match(
    route: ApprovalRoute, negotiation: Negotiation, checks: AgreementChecks
) -> dict[str, Any] | None:
    """The values that made the route match, or None when it does not."""
    kind = route.condition_kind
    if kind == ConditionKind.DEAL_VALUE_ABOVE:
        return _threshold_match(negotiation.deal_value, route.threshold, "deal_value")
    if kind == ConditionKind.RISK_ABOVE:
        return _threshold_match(negotiation.deal_risk, route.threshold, "deal_risk")
    if kind == ConditionKind.PLAYBOOK:
        if route.playbook_id and route.playbook_id == negotiation.playbook_id:
            return {"playbook": negotiation.playbook.name}
        return None
    if kind == ConditionKind.ESCALATE_POLICY:
        found = [*checks.escalate, *(c for c in checks.waived if c.severity == Severity.ESCALATE)]
        return {"policy_checks": [c.pk for c in found]} if found else None
    if kind == ConditionKind.APPROVAL_THRESHOLD:
        found = checks.thresholds
        return {"policy_checks": [c.pk for c in found]} if found else None
    if kind == ConditionKind.EXPRESSION:
        return _expression_match(route, negotiation)
    if kind == ConditionKind.ALWAYS:
        return {"always": True}
    return None


def approval_routes_match(
    *, negotiation: Negotiation, checks: AgreementChecks | None = None
) -> list[RouteMatch]:
    """Active routes (not the default route) that match this agreement, the
    lowest order first."""
    checks = checks if checks is not None else agreement_checks(negotiation)
    matches = []
    routes = ApprovalRoute.objects.filter(active=True, is_default=False).select_related(
        "approver_group"
    )
    for route in routes.order_by("order", "name", "pk"):
        values = _route_match(route, negotiation, checks)
        if values is not None:
            matches.append(RouteMatch(route, values))
    return matches


def default_route() -> ApprovalRoute | None:
    return (
        ApprovalRoute.objects.filter(active=True, is_default=True)
        .select_related("approver_group")
        .first()
    )


def _route_dict(match: RouteMatch) -> dict[str, Any]:
    return {
        "id": match.route.pk,
        "name": match.route.name,
        "condition_kind": match.route.condition_kind,
        "condition": match.route.condition_text(),
        "default": match.route.is_default,
        "matched": match.values,
    }


def _request_reasons(
    negotiation: Negotiation, matches: Sequence[RouteMatch], checks: AgreementChecks
) -> dict[str, Any]:
    """Why the deal needs a person: the routes that matched and with which values,
    the deal measures and the failed (or waived) policy results."""
    failed = [*checks.thresholds, *checks.escalate, *checks.waived, *checks.other]
    return {
        "routes": [_route_dict(m) for m in matches],
        "deal_value": negotiation.deal_value,
        "deal_risk": negotiation.deal_risk,
        "policy_results": [check_to_dict(c) for c in failed],
    }


def _why_a_person(checks: AgreementChecks, auto: RouteMatch | None) -> str:
    """Why this deal is not approved automatically, in one clause."""
    if checks.needs_person or (auto is not None and not checks.clean):
        return "it failed " + ", ".join(checks.names())
    if auto is not None:
        return f"the route '{auto.route.name}' could not tell whether it applies"
    return "no route approves it automatically"


def _request_open(
    negotiation: Negotiation,
    matches: Sequence[RouteMatch],
    checks: AgreementChecks,
    *,
    rule: str,
    reason: str,
) -> ApprovalRequest:
    """Open the request for the routes where a person decides (the first leads)
    and move the negotiation to pending approval."""
    lead = matches[0].route
    now = timezone.now()
    due_at = now + timedelta(hours=lead.sla_hours)
    reasons = _request_reasons(negotiation, matches, checks)
    request = ApprovalRequest.objects.create(
        negotiation=negotiation,
        offer=negotiation.agreed_offer,
        terms=negotiation.agreed_terms or {},
        deal_value=negotiation.deal_value,
        deal_risk=negotiation.deal_risk,
        reasons={**reasons, "rule": rule},
        route=lead,
        # Never weaker than any matching route: the strictest four-eyes rule wins.
        approvals_required=max(m.route.approvers_required for m in matches),
        approver_group=lead.approver_group,
        due_at=due_at,
        window_started_at=now,
    )
    request.routes.set([m.route for m in matches])
    audit_append(
        negotiation=negotiation,
        kind="approval.requested",
        actor="system",
        payload={
            "approval_request": request.pk,
            "rule": rule,
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
        reason=reason,
        extra={"approval_request": request.pk, "rule": rule},
    )
    approval_notice_enqueue(request.pk)
    return request


def approval_gate_route(*, negotiation: Negotiation) -> GateVerdict:
    """Decide who decides an agreement (the rule in the module docstring). Called
    inside the round's transaction with the negotiation row locked; a request
    it opens moves the negotiation to pending approval itself."""
    checks = agreement_checks(negotiation)
    matches = approval_routes_match(negotiation=negotiation, checks=checks)
    lead = matches[0] if matches else None
    auto = lead if lead is not None and lead.route.decision == RouteDecision.AUTO else None
    if auto is not None and auto.certain and checks.clean:
        return GateVerdict(
            "approved",
            rule=RULE_AUTO_APPROVE,
            route=auto.route.name,
            reason=f"approved automatically by the route '{auto.route.name}': "
            "the deal passed every policy",
        )
    people = [m for m in matches if m.route.decision == RouteDecision.PERSON]
    if people:
        names = ", ".join(m.route.name for m in people)
        _request_open(
            negotiation,
            people,
            checks,
            rule=RULE_MATCHING_ROUTE,
            reason=f"waiting for approval ({names})",
        )
        return GateVerdict("pending", rule=RULE_MATCHING_ROUTE, route=people[0].route.name)
    why = _why_a_person(checks, auto)
    fallback = default_route()
    if fallback is not None:
        match = RouteMatch(fallback, {"default": True, "why": why})
        reason = f"waiting for approval (default route '{fallback.name}': {why})"
        _request_open(negotiation, [match], checks, rule=RULE_DEFAULT_ROUTE, reason=reason)
        return GateVerdict("pending", rule=RULE_DEFAULT_ROUTE, route=fallback.name)
    return GateVerdict(
        "escalated",
        rule=RULE_NO_ROUTE,
        reason=f"no approval route takes this agreement and there is no default route "
        f"({why}): a person decides; an admin can add a default route",
    )


class ApprovalsGate:
    """The approval gate as the negotiation side sees it (negotiator.agreement_hooks)."""

    def route_agreement(self, *, negotiation: Negotiation) -> GateVerdict:
        return approval_gate_route(negotiation=negotiation)

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
