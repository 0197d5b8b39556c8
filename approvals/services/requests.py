"""The one place an approval request's status changes, with the allowed moves as data."""

from __future__ import annotations

from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator.audit import audit_append
from negotiator.services.errors import Conflict

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
        raise Conflict(
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
