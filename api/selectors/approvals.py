"""Approval requests for the REST API, by the inbox's rules: the ones waiting for
the person (approvals.selectors.waiting_for), the ones they may open
(visible_requests; any other is missing), and whether they may decide one
(approval_permission)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.utils import timezone

from approvals import selectors
from approvals.models import ApprovalRequest


def approvals_waiting(*, user, page: int, page_size: int) -> tuple[int, list[ApprovalRequest]]:
    qs = selectors.waiting_for(user).select_related("negotiation__playbook_version")
    paginator = Paginator(qs.order_by("due_at", "pk"), page_size)
    total = paginator.count
    if page > 1 and (page - 1) * page_size >= total:
        return total, []
    return total, list(paginator.page(page).object_list)


def approval_for_api(pk: int, *, user) -> ApprovalRequest:
    """A request this person may open; ApprovalRequest.DoesNotExist otherwise."""
    return (
        selectors.visible_requests(user)
        .select_related("negotiation__playbook_version", "negotiation__started_by")
        .get(pk=pk)
    )


def approval_document(request: ApprovalRequest, *, user) -> dict[str, Any]:
    permission = selectors.approval_permission(request=request, user=user)
    negotiation = request.negotiation
    return {
        "id": request.pk,
        "status": request.status,
        "negotiation": {"id": negotiation.pk, "title": str(negotiation)},
        "route": request.route.name,
        "approver_group": request.approver_group.name,
        "terms": request.terms or {},
        "deal_value": request.deal_value,
        "deal_risk": request.deal_risk,
        "currency": negotiation.playbook_version.spec.get("currency", "USD"),
        "approvals_required": request.approvals_required,
        "approvals_done": selectors.approval_count(request=request),
        "due_at": request.due_at,
        "overdue": request.is_pending and request.due_at < timezone.now(),
        "created_at": request.created_at,
        "decided_at": request.decided_at,
        "outcome": request.outcome,
        "may_decide": permission.allowed and request.is_pending,
        "why_not": "" if permission.allowed else permission.reason,
    }
