"""A person's decision on an approval request (approve, reject, request changes)
and what it implies for the negotiation. Lock order: the request row, then the
negotiation row."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from approvals import selectors
from approvals.models import ApprovalDecision, ApprovalRequest, ApprovalStatus, DecisionKind
from approvals.services.constraints import (
    Constraint,
    constraint_policies_create,
    constraints_parse,
)
from approvals.services.errors import ApprovalConflict, ApprovalDenied, ApprovalError
from approvals.services.expiry import approval_request_expire
from approvals.services.requests import approval_request_transition
from negotiator.audit import audit_append
from negotiator.models import Negotiation, NegotiationStatus
from negotiator.services.lifecycle import (
    negotiation_reopen_after_changes,
    negotiation_transition,
)
from negotiator.services.plans import negotiation_plan_record
from negotiator.services.roles import actor_of

EXTRA_ROUNDS_AFTER_CHANGES = 10  # only when the negotiation used up its rounds
MAX_COMMENT = 4000


def approval_decide(
    *,
    request: ApprovalRequest | int,
    user,
    decision: str,
    comment: str = "",
    constraints_text: str = "",
) -> ApprovalRequest:
    """Record one person's decision and apply what it implies.

    Raises ApprovalDenied when the person may not decide (403), ApprovalConflict
    when it is already decided (409) and ApprovalError for bad input (400)."""
    request_id = request if isinstance(request, int) else request.pk
    comment = _decision_input_check(decision, comment, constraints_text)
    now = timezone.now()
    with transaction.atomic():
        request = _request_locked(request_id)
        negotiation = request.negotiation
        permission = selectors.approval_permission(request=request, user=user)
        if not permission.allowed:
            raise ApprovalDenied(permission.reason)
        if request.status != ApprovalStatus.PENDING:
            raise ApprovalConflict(
                f"This request was already decided ({request.get_status_display().lower()})."
            )
        overdue = request.due_at <= now
        if not overdue:
            _decision_apply(
                request, negotiation, user, permission, decision, comment, constraints_text
            )
    if overdue:
        # Past its due time a request cannot be decided, whenever the periodic job
        # runs: it expires now, by its route's rule, and the decision is refused.
        outcome = approval_request_expire(request_id=request_id, now=now)
        raise ApprovalConflict(_expired_message(request, outcome))
    request.refresh_from_db()
    return request


def _expired_message(request: ApprovalRequest, outcome: str) -> str:
    due = timezone.localtime(request.due_at).strftime("%Y-%m-%d %H:%M %Z")
    then = {
        "escalated": "it went to the route's escalation group, who decide now",
        "rejected": "the route rejects the deal",
        "expired": "the approval expired and the negotiation timed out",
    }.get(outcome, "it was handled meanwhile")
    return f"This approval request expired at {due}; nothing was recorded: {then}."


def _decision_apply(
    request: ApprovalRequest,
    negotiation: Negotiation,
    user,
    permission,
    decision: str,
    comment: str,
    constraints_text: str,
) -> None:
    """Record the decision (the request and its negotiation are locked) and apply it."""
    if user.pk in selectors.decided_identities(request):
        raise ApprovalConflict("You have already decided this request (yourself or by delegation).")
    constraints = (
        constraints_parse(constraints_text, spec=negotiation.playbook_version.spec)
        if decision == DecisionKind.REQUEST_CHANGES
        else []
    )
    _decision_record(request, user, permission.on_behalf_of, decision, comment, constraints)
    who = user.get_username() + (
        f" for {permission.on_behalf_of.get_username()}" if permission.on_behalf_of else ""
    )
    if decision == DecisionKind.REJECT:
        _rejected(request, negotiation, user, f"rejected by {who}: {comment}")
    elif decision == DecisionKind.REQUEST_CHANGES:
        _changes_requested(request, negotiation, user, who, comment, constraints)
    elif selectors.approval_count(request=request) >= request.approvals_required:
        _approved(request, negotiation, user)


def _decision_input_check(decision: str, comment: str, constraints_text: str) -> str:
    """The cleaned comment; ApprovalError names what is wrong with the input."""
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
    return comment


def _request_locked(request_id: int) -> ApprovalRequest:
    """The request and its negotiation, both locked in that order."""
    try:
        request = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .select_related("negotiation", "approver_group", "route")
            .get(pk=request_id)
        )
    except ApprovalRequest.DoesNotExist:
        raise ApprovalError("This approval request does not exist.") from None
    request.negotiation = Negotiation.objects.select_for_update().get(pk=request.negotiation_id)
    return request


def _decision_record(
    request: ApprovalRequest,
    user,
    on_behalf_of,
    decision: str,
    comment: str,
    constraints: Sequence[Constraint],
) -> ApprovalDecision:
    row = ApprovalDecision.objects.create(
        request=request,
        user=user,
        on_behalf_of=on_behalf_of,
        decision=decision,
        comment=comment,
        constraints=[c.text for c in constraints],
    )
    audit_append(
        negotiation=request.negotiation,
        kind="approval.decided",
        actor=actor_of(user),
        user=user,
        payload={
            "approval_request": request.pk,
            "decision_id": row.pk,
            "decision": decision,
            "comment": comment,
            "on_behalf_of": on_behalf_of.get_username() if on_behalf_of else None,
            "constraints": [c.text for c in constraints],
            "approvals": selectors.approval_count(request=request),
            "approvals_required": request.approvals_required,
        },
    )
    return row


def _rejected(request: ApprovalRequest, negotiation: Negotiation, user, reason: str) -> None:
    """One rejection ends it, whatever the number of approvals required."""
    approval_request_transition(
        request=request,
        to=ApprovalStatus.REJECTED,
        reason=reason,
        actor=actor_of(user),
        user=user,
    )
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.REJECTED,
        user=user,
        reason=reason,
        extra={"approval_request": request.pk},
    )


def _changes_requested(
    request: ApprovalRequest,
    negotiation: Negotiation,
    user,
    who: str,
    comment: str,
    constraints: Sequence[Constraint],
) -> None:
    """The parties negotiate again, under the approver's constraints (block
    policies on this negotiation alone)."""
    policies = constraint_policies_create(
        negotiation=negotiation,
        request=request,
        constraints=constraints,
        comment=comment,
        user=user,
    )
    reason = f"changes requested by {who}: {comment}"
    approval_request_transition(
        request=request,
        to=ApprovalStatus.CHANGES_REQUESTED,
        reason=reason,
        actor=actor_of(user),
        user=user,
    )
    if policies:
        reason += f" (new constraints: {'; '.join(p.name for p in policies)})"
    negotiation_reopen_after_changes(
        negotiation=negotiation,
        user=user,
        reason=reason,
        extra_rounds=EXTRA_ROUNDS_AFTER_CHANGES,
    )


def _approved(request: ApprovalRequest, negotiation: Negotiation, user) -> None:
    """Enough approvals: the deal is approved and its final plan recorded."""
    reason = f"approved by {selectors.approver_names(request=request)}"
    approval_request_transition(
        request=request,
        to=ApprovalStatus.APPROVED,
        reason=reason,
        actor=actor_of(user),
        user=user,
    )
    negotiation_transition(
        negotiation=negotiation,
        to=NegotiationStatus.APPROVED,
        user=user,
        reason=reason,
        extra={"approval_request": request.pk, "rule": "approval-route"},
    )
    negotiation_plan_record(negotiation=negotiation)
