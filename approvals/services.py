"""Writes for the approval gate: open a request when an agreement needs a person,
record decisions, expire and remind, delegate.

Each function is <entity>_<action>(*, ...) with keyword-only arguments. The one
place an ApprovalRequest's status changes is :func:`approval_request_transition`.
Lock order everywhere: the request row, then the negotiation row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from approvals import selectors
from approvals.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ConditionKind,
    DecisionKind,
    Delegation,
    ExpiryAction,
)
from negotiator import services as negotiator_services
from negotiator.audit import audit_append
from negotiator.engine.cel import PolicyError, build_activation, compile_expression
from negotiator.engine.policies import fmt_number
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Policy,
    PolicyCategory,
    PolicyCheck,
    PolicyKindChoice,
    PolicyScope,
    Severity,
)
from negotiator.services import ServiceError, TransitionError, actor_of

log = logging.getLogger(__name__)

REMIND_WHEN_LEFT = 0.25  # remind once when less than this share of the SLA window is left
EXTRA_ROUNDS_AFTER_CHANGES = 10  # only when the negotiation used up its rounds
MAX_CONSTRAINTS = 10
MAX_COMMENT = 4000


class ApprovalError(ServiceError):
    """The decision cannot be recorded (already decided, bad input); says why."""


class ApprovalDenied(ApprovalError):
    """This person may not decide this request (a 403)."""


# --------------------------------------------------------------------------
# Routes: which agreements need a person
# --------------------------------------------------------------------------


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


def check_to_dict(check: PolicyCheck) -> dict[str, Any]:
    version = check.policy_version
    return {
        "check_id": check.pk,
        "policy_id": version.policy_id,
        "policy": version.name,
        "version": version.number,
        "kind": version.kind,
        "severity": check.severity,
        "passed": check.passed,
        "message": check.message,
        "evidence": check.evidence,
        "round": check.round,
        "sender": check.sender,
        "stage": check.stage,
    }


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


def approval_request_open_if_needed(*, negotiation: Negotiation) -> bool:
    """Called by the approval gate inside the round's transaction (negotiation row
    locked). Opens a request and moves the negotiation to pending approval when a
    route matches; False lets the gate approve the agreement automatically."""
    matches = approval_routes_match(negotiation=negotiation)
    if not matches:
        return False
    escalate, thresholds = _failed_checks(negotiation)
    lead = matches[0].route
    now = timezone.now()
    due_at = now + timedelta(hours=lead.sla_hours)
    reasons = {
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
    negotiator_services.negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.PENDING_APPROVAL,
        actor="system",
        reason=f"waiting for approval ({names})",
        extra={"approval_request": request.pk},
    )
    from approvals import tasks

    request_id = request.pk
    transaction.on_commit(lambda: tasks.enqueue_notice(request_id))
    return True


# --------------------------------------------------------------------------
# Status changes
# --------------------------------------------------------------------------

REQUEST_TRANSITIONS: dict[str, set[str]] = {
    ApprovalStatus.PENDING: {
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
        ApprovalStatus.CHANGES_REQUESTED,
        ApprovalStatus.EXPIRED,
    },
}


def approval_request_transition(
    *, request: ApprovalRequest, to: str, reason: str, actor: str, user=None
) -> ApprovalRequest:
    """The one place a request's status changes. Call inside a transaction with
    the request row locked."""
    source = request.status
    if to not in REQUEST_TRANSITIONS.get(source, set()):
        raise TransitionError(
            f"This approval request is already {request.get_status_display().lower()}; "
            f"it cannot become {ApprovalStatus(to).label.lower()}."
        )
    request.status = to
    request.outcome = reason
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "outcome", "decided_at"])
    audit_append(
        negotiation=request.negotiation_id,
        kind="approval.status_changed",
        actor=actor,
        user=user,
        payload={"approval_request": request.pk, "from": source, "to": to, "reason": reason},
    )
    return request


# --------------------------------------------------------------------------
# Constraints added with a change request
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    text: str
    issue: str
    operator: str
    value: Any
    kind: str
    parameters: dict[str, Any]

    @property
    def label(self) -> str:
        shown = (
            "[" + ", ".join(str(v) for v in self.value) + "]"
            if isinstance(self.value, list)
            else fmt_number(self.value)
            if isinstance(self.value, int | float)
            else str(self.value)
        )
        return f"{self.issue} {self.operator} {shown}"


_CONSTRAINT = re.compile(
    r"^\s*(?:terms\.)?(?P<issue>[A-Za-z_][\w-]*)\s*(?P<op><=|>=|==|!=|<|>|=|≤|≥|\bin\b)\s*(?P<value>.+?)\s*$"
)
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:[,_ ]\d{3})+|\d+)(?:\.\d+)?$")
_OPERATOR_ALIASES = {"=": "==", "≤": "<=", "≥": ">="}


def _parse_number(text: str) -> float | int | None:
    cleaned = text.strip().lstrip("$€£").strip()
    if not _NUMBER.match(cleaned):
        return None
    number = float(re.sub(r"[,_ ]", "", cleaned))
    return int(number) if number.is_integer() else number


def _parse_option(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def constraints_parse(text: str, *, spec: Mapping[str, Any]) -> list[Constraint]:
    """Parse one constraint a line (or separated by ';'):
    ``<issue> <= | >= | < | > | == <value>`` or ``<issue> in [a, b]``.

    Raises ApprovalError naming the line and what is wrong."""
    issues = {i["name"]: i for i in spec.get("issues", [])}
    lines = [part.strip() for line in (text or "").splitlines() for part in line.split(";")]
    lines = [line for line in lines if line]
    if len(lines) > MAX_CONSTRAINTS:
        raise ApprovalError(f"Add at most {MAX_CONSTRAINTS} constraints at a time.")
    out: list[Constraint] = []
    for line in lines:
        match = _CONSTRAINT.match(line)
        if not match:
            raise ApprovalError(
                f"'{line[:80]}' is not a constraint; write e.g. 'price <= 95,000' or "
                "'sla_tier in [gold, platinum]'."
            )
        name, op, raw = match["issue"], match["op"], match["value"]
        op = _OPERATOR_ALIASES.get(op, op)
        issue = issues.get(name)
        if issue is None:
            raise ApprovalError(
                f"'{line[:80]}': there is no issue '{name}'; issues: {', '.join(issues)}."
            )
        numeric = issue.get("type", "numeric") == "numeric"
        if op == "!=":
            raise ApprovalError(f"'{line[:80]}': use <, >, == or in [...] instead of !=.")
        if numeric:
            if op == "in":
                raise ApprovalError(f"'{line[:80]}': {name} is numeric; use <=, >=, <, > or ==.")
            value = _parse_number(raw)
            if value is None:
                raise ApprovalError(f"'{line[:80]}': '{raw[:40]}' is not a number.")
            if op == "<=":
                kind, params = PolicyKindChoice.CAP, {"issue": name, "max": value}
            elif op == ">=":
                kind, params = PolicyKindChoice.FLOOR, {"issue": name, "min": value}
            elif op == "==":
                kind, params = PolicyKindChoice.RANGE, {"issue": name, "min": value, "max": value}
            else:
                kind = PolicyKindChoice.EXPRESSION
                params = {
                    "expression": f"terms.{name} {op} {float(value)!r}",
                    "message": f"an approver requires {name} {op} {fmt_number(value)}",
                }
        else:
            options = list(issue.get("options", []))
            if op == "in":
                body = raw.strip()
                if not (body.startswith("[") and body.endswith("]")):
                    raise ApprovalError(f"'{line[:80]}': write the options as [a, b].")
                values = [_parse_option(v) for v in body[1:-1].split(",") if v.strip()]
            elif op == "==":
                values = [_parse_option(raw)]
            else:
                raise ApprovalError(
                    f"'{line[:80]}': {name} is {issue.get('type')}; use == or in [...]."
                )
            unknown = [v for v in values if v not in options]
            if unknown or not values:
                raise ApprovalError(
                    f"'{line[:80]}': {', '.join(unknown) or 'nothing'} is not an option of "
                    f"{name}; options: {', '.join(map(str, options))}."
                )
            value = values if op == "in" else values[0]
            kind, params = PolicyKindChoice.ALLOWED_VALUES, {"issue": name, "values": values}
        out.append(Constraint(line, name, op, value, kind, params))
    return out


def _constraint_policies_create(
    *,
    negotiation: Negotiation,
    request: ApprovalRequest,
    constraints: Sequence[Constraint],
    comment: str,
    user,
) -> list[Policy]:
    created = []
    for constraint in constraints:
        policy = Policy(
            name=f"{constraint.label} (approval #{request.pk})"[:120],
            description=f"Added by {user.get_username()} when requesting changes: {comment}"[:2000],
            category=PolicyCategory.COMPLIANCE,
            scope=PolicyScope.NEGOTIATION,
            negotiation=negotiation,
            kind=constraint.kind,
            parameters=constraint.parameters,
            severity=Severity.BLOCK,
            active=True,
        )
        negotiator_services.policy_save(policy=policy, user=user)
        created.append(policy)
    return created


# --------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------


def approval_decide(
    *,
    request: ApprovalRequest | int,
    user,
    decision: str,
    comment: str = "",
    constraints_text: str = "",
) -> ApprovalRequest:
    """Record one person's decision and apply what it implies.

    Raises ApprovalDenied when the person may not decide (403) and ApprovalError
    when the decision cannot be recorded (already decided, bad constraint)."""
    request_id = request if isinstance(request, int) else request.pk
    if decision not in DecisionKind.values:
        raise ApprovalError(
            f"Unknown decision '{decision}'; choose approve, reject or request changes."
        )
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ApprovalError(f"Keep the comment under {MAX_COMMENT:,} characters.")
    if decision in (DecisionKind.REJECT, DecisionKind.REQUEST_CHANGES) and not comment:
        what = "rejecting" if decision == DecisionKind.REJECT else "requesting changes"
        raise ApprovalError(f"Say why you are {what}: the parties and auditors read the comment.")
    if constraints_text.strip() and decision != DecisionKind.REQUEST_CHANGES:
        raise ApprovalError("Constraints can only be added when requesting changes.")

    with transaction.atomic():
        try:
            request = (
                ApprovalRequest.objects.select_for_update(of=("self",))
                .select_related("negotiation", "approver_group", "route")
                .get(pk=request_id)
            )
        except ApprovalRequest.DoesNotExist:
            raise ApprovalError("This approval request does not exist.") from None
        negotiation = Negotiation.objects.select_for_update().get(pk=request.negotiation_id)
        request.negotiation = negotiation
        permission = selectors.approval_permission(request=request, user=user)
        if not permission.allowed:
            raise ApprovalDenied(permission.reason)
        if request.status != ApprovalStatus.PENDING:
            raise ApprovalError(
                f"This request was already decided ({request.get_status_display().lower()})."
            )
        decided = selectors.decided_identities(request)
        if user.pk in decided:
            raise ApprovalError(
                "You have already decided this request (yourself or by delegation)."
            )
        constraints = (
            constraints_parse(constraints_text, spec=negotiation.playbook_version.spec)
            if decision == DecisionKind.REQUEST_CHANGES
            else []
        )
        row = ApprovalDecision.objects.create(
            request=request,
            user=user,
            on_behalf_of=permission.on_behalf_of,
            decision=decision,
            comment=comment,
            constraints=[c.text for c in constraints],
        )
        approvals = selectors.approval_count(request=request)
        actor = actor_of(user)
        audit_append(
            negotiation=negotiation,
            kind="approval.decided",
            actor=actor,
            user=user,
            payload={
                "approval_request": request.pk,
                "decision_id": row.pk,
                "decision": decision,
                "comment": comment,
                "on_behalf_of": (
                    permission.on_behalf_of.get_username() if permission.on_behalf_of else None
                ),
                "constraints": [c.text for c in constraints],
                "approvals": approvals,
                "approvals_required": request.approvals_required,
            },
        )
        who = user.get_username() + (
            f" for {permission.on_behalf_of.get_username()}" if permission.on_behalf_of else ""
        )
        if decision == DecisionKind.REJECT:
            approval_request_transition(
                request=request,
                to=ApprovalStatus.REJECTED,
                reason=f"rejected by {who}: {comment}",
                actor=actor,
                user=user,
            )
            negotiator_services.negotiation_transition(
                negotiation=negotiation,
                to=NegotiationStatus.REJECTED,
                user=user,
                reason=f"rejected by {who}: {comment}",
                extra={"approval_request": request.pk},
            )
        elif decision == DecisionKind.REQUEST_CHANGES:
            policies = _constraint_policies_create(
                negotiation=negotiation,
                request=request,
                constraints=constraints,
                comment=comment,
                user=user,
            )
            approval_request_transition(
                request=request,
                to=ApprovalStatus.CHANGES_REQUESTED,
                reason=f"changes requested by {who}: {comment}",
                actor=actor,
                user=user,
            )
            negotiator_services.negotiation_reopen_after_changes(
                negotiation=negotiation,
                user=user,
                reason=f"changes requested by {who}: {comment}"
                + (
                    f" (new constraints: {'; '.join(p.name for p in policies)})" if policies else ""
                ),
                extra_rounds=EXTRA_ROUNDS_AFTER_CHANGES,
            )
        elif approvals >= request.approvals_required:
            approval_request_transition(
                request=request,
                to=ApprovalStatus.APPROVED,
                reason=f"approved by {selectors.approver_names(request=request)}",
                actor=actor,
                user=user,
            )
            negotiator_services.negotiation_transition(
                negotiation=negotiation,
                to=NegotiationStatus.APPROVED,
                user=user,
                reason=f"approved by {selectors.approver_names(request=request)}",
                extra={"approval_request": request.pk, "rule": "approval-route"},
            )
            negotiator_services.negotiation_plan_record(negotiation=negotiation)
    request.refresh_from_db()
    return request


# --------------------------------------------------------------------------
# Delegation
# --------------------------------------------------------------------------


def delegation_create(
    *, delegator, delegate, starts_at: datetime, ends_at: datetime, note: str = ""
) -> Delegation:
    if delegate is None or not getattr(delegate, "is_active", False):
        raise ServiceError("Choose an active colleague to delegate to.")
    if delegate.pk == delegator.pk:
        raise ServiceError("You cannot delegate to yourself.")
    if ends_at <= starts_at:
        raise ServiceError("The delegation must end after it starts.")
    if ends_at <= timezone.now():
        raise ServiceError("The delegation would already be over; choose a later end.")
    if ends_at - starts_at > timedelta(days=366):
        raise ServiceError("Delegate for at most a year at a time.")
    with transaction.atomic():
        delegation = Delegation.objects.create(
            delegator=delegator,
            delegate=delegate,
            starts_at=starts_at,
            ends_at=ends_at,
            note=note[:200],
        )
        audit_append(
            kind="approval.delegated",
            actor=actor_of(delegator),
            user=delegator,
            payload={
                "delegation": delegation.pk,
                "delegator": delegator.get_username(),
                "delegate": delegate.get_username(),
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
            },
        )
    return delegation


def delegation_revoke(*, delegation: Delegation, user) -> Delegation:
    if delegation.delegator_id != user.pk and not user.is_superuser:
        raise ApprovalDenied("Only the person who delegated can revoke the delegation.")
    with transaction.atomic():
        now = timezone.now()
        updated = Delegation.objects.filter(pk=delegation.pk, revoked_at__isnull=True).update(
            revoked_at=now, ends_at=max(now, delegation.starts_at + timedelta(seconds=1))
        )
        if updated:
            audit_append(
                kind="approval.delegation_revoked",
                actor=actor_of(user),
                user=user,
                payload={"delegation": delegation.pk},
            )
    delegation.refresh_from_db()
    return delegation


# --------------------------------------------------------------------------
# Expiry, reminders and notices (the periodic job)
# --------------------------------------------------------------------------


def approval_request_expire(*, request_id: int, now: datetime | None = None) -> str:
    """Apply the route's expiry rule to one overdue request. Returns what happened
    ("escalated", "rejected", "expired", or "" when it was not due any more)."""
    now = now or timezone.now()
    with transaction.atomic():
        request = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .select_related("route", "route__escalation_group", "approver_group")
            .filter(pk=request_id, status=ApprovalStatus.PENDING, due_at__lte=now)
            .first()
        )
        if request is None:  # decided meanwhile, or handled by a concurrent run
            return ""
        negotiation = Negotiation.objects.select_for_update().get(pk=request.negotiation_id)
        route = request.route
        hours = route.sla_hours
        if (
            route.on_expiry == ExpiryAction.ESCALATE
            and route.escalation_group_id
            and not request.escalated
        ):
            previous = request.approver_group.name
            request.approver_group = route.escalation_group
            request.escalated = True
            request.window_started_at = now
            request.due_at = now + timedelta(hours=hours)
            request.reminded_at = None
            request.notified_at = None
            request.save(
                update_fields=[
                    "approver_group",
                    "escalated",
                    "window_started_at",
                    "due_at",
                    "reminded_at",
                    "notified_at",
                ]
            )
            audit_append(
                negotiation=negotiation,
                kind="approval.escalated",
                actor="system",
                payload={
                    "approval_request": request.pk,
                    "from_group": previous,
                    "to_group": route.escalation_group.name,
                    "due_at": request.due_at.isoformat(),
                    "reason": f"no decision within {hours} h",
                },
            )
            from approvals import tasks

            request_id = request.pk
            transaction.on_commit(lambda: tasks.enqueue_notice(request_id))
            return "escalated"
        window = "the escalated SLA" if request.escalated else f"{hours} h"
        if route.on_expiry == ExpiryAction.REJECT:
            reason = f"no decision within {window}: rejected by the route '{route.name}'"
            approval_request_transition(
                request=request, to=ApprovalStatus.EXPIRED, reason=reason, actor="system"
            )
            negotiator_services.negotiation_transition(
                negotiation=negotiation,
                to=NegotiationStatus.REJECTED,
                actor="system",
                reason=reason,
                extra={"approval_request": request.pk, "rule": "approval-expired-reject"},
            )
            return "rejected"
        reason = f"no decision within {window}: the approval expired"
        approval_request_transition(
            request=request, to=ApprovalStatus.EXPIRED, reason=reason, actor="system"
        )
        negotiator_services.negotiation_transition(
            negotiation=negotiation,
            to=NegotiationStatus.TIMED_OUT,
            actor="system",
            reason=reason,
            extra={"approval_request": request.pk, "rule": "approval-expired"},
        )
        return "expired"


def _request_url(request: ApprovalRequest) -> str:
    base = getattr(settings, "NEGOTIATOR_BASE_URL", "").rstrip("/")
    return base + reverse("approvals:detail", args=[request.pk])


def _mail(request: ApprovalRequest, subject: str, lead: str) -> int:
    recipients = selectors.approver_emails(request=request)
    if not recipients:
        log.warning(
            "approval #%s: nobody in %s has an email address", request.pk, request.approver_group
        )
        return 0
    routes = ", ".join(r["name"] for r in request.reasons.get("routes", []))
    terms = ", ".join(f"{k}={v}" for k, v in (request.terms or {}).items())
    body = (
        f"{lead}\n\n"
        f"Negotiation: {request.negotiation}\n"
        f"Why: {routes}\n"
        f"Agreed terms: {terms}\n"
        f"Due: {timezone.localtime(request.due_at):%Y-%m-%d %H:%M %Z}\n"
        f"Approvals needed: {request.approvals_required}\n\n"
        f"Decide here: {_request_url(request)}\n"
    )
    return send_mail(subject, body, None, recipients, fail_silently=False)


def approval_notice_send(*, request_id: int) -> bool:
    """Tell the current approver group that a request waits for them (once per
    group: the claim is a compare-and-set on notified_at)."""
    now = timezone.now()
    claimed = ApprovalRequest.objects.filter(
        pk=request_id, status=ApprovalStatus.PENDING, notified_at__isnull=True
    ).update(notified_at=now)
    if not claimed:
        return False
    request = ApprovalRequest.objects.select_related("negotiation", "approver_group").get(
        pk=request_id
    )
    escalated = " (escalated)" if request.escalated else ""
    try:
        _mail(
            request,
            f"Approval needed{escalated}: {request.negotiation}",
            f"A deal waits for your approval{escalated} ({request.approver_group.name}).",
        )
    except Exception:  # a mail outage must not lose the notice: release the claim
        log.exception("approval #%s: sending the notice failed; will retry", request_id)
        ApprovalRequest.objects.filter(pk=request_id, notified_at=now).update(notified_at=None)
        return False
    return True


def approval_reminder_send(*, request_id: int, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    claimed = ApprovalRequest.objects.filter(
        pk=request_id, status=ApprovalStatus.PENDING, reminded_at__isnull=True
    ).update(reminded_at=now)
    if not claimed:
        return False
    request = ApprovalRequest.objects.select_related("negotiation", "approver_group").get(
        pk=request_id
    )
    left = request.due_at - now
    hours = max(left.total_seconds() / 3600, 0)
    try:
        _mail(
            request,
            f"Reminder: approval due in {hours:.1f} h: {request.negotiation}",
            f"This deal still waits for a decision; it is due in {hours:.1f} hours.",
        )
    except Exception:
        log.exception("approval #%s: sending the reminder failed; will retry", request_id)
        ApprovalRequest.objects.filter(pk=request_id, reminded_at=now).update(reminded_at=None)
        return False
    with transaction.atomic():
        audit_append(
            negotiation=request.negotiation_id,
            kind="approval.reminded",
            actor="system",
            payload={"approval_request": request.pk, "due_at": request.due_at.isoformat()},
        )
    return True


def approvals_process_due(*, now: datetime | None = None) -> dict[str, list[int]]:
    """The periodic job: expire overdue requests as their routes say, remind once
    before the deadline, and send notices that have not gone out yet."""
    now = now or timezone.now()
    done: dict[str, list[int]] = {
        "escalated": [],
        "rejected": [],
        "expired": [],
        "reminded": [],
        "notified": [],
    }
    overdue = ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, due_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(overdue[:500]):
        outcome = approval_request_expire(request_id=pk, now=now)
        if outcome:
            done[outcome].append(pk)
    for pk, due_at, started in ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, reminded_at__isnull=True, due_at__gt=now
    ).values_list("pk", "due_at", "window_started_at")[:500]:
        window = (due_at - started).total_seconds()
        due_soon = window > 0 and (due_at - now).total_seconds() < REMIND_WHEN_LEFT * window
        if due_soon and approval_reminder_send(request_id=pk, now=now):
            done["reminded"].append(pk)
    for pk in ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, notified_at__isnull=True
    ).values_list("pk", flat=True)[:500]:
        if approval_notice_send(request_id=pk):
            done["notified"].append(pk)
    return done
