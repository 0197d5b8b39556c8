"""The periodic job: overdue requests expire as their route says (escalate to a
second group, reject, or expire), reminders go out once before the deadline, and
notices that have not gone out are sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalStatus, ExpiryAction
from approvals.services.notices import (
    REMIND_WHEN_LEFT,
    approval_notice_enqueue,
    approval_notice_send,
    approval_reminder_send,
)
from approvals.services.requests import approval_request_transition
from negotiator.audit import audit_append
from negotiator.models import Negotiation, NegotiationStatus
from negotiator.services.lifecycle import negotiation_transition


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
        if (
            route.on_expiry == ExpiryAction.ESCALATE
            and route.escalation_group_id
            and not request.escalated
        ):
            _escalate(request, negotiation, now)
            return "escalated"
        window = "the escalated SLA" if request.escalated else f"{route.sla_hours} h"
        if route.on_expiry == ExpiryAction.REJECT:
            reason = f"no decision within {window}: rejected by the route '{route.name}'"
            to, rule, outcome = NegotiationStatus.REJECTED, "approval-expired-reject", "rejected"
        else:
            reason = f"no decision within {window}: the approval expired"
            to, rule, outcome = NegotiationStatus.TIMED_OUT, "approval-expired", "expired"
        approval_request_transition(
            request=request, to=ApprovalStatus.EXPIRED, reason=reason, actor="system"
        )
        negotiation_transition(
            negotiation=negotiation,
            to=to,
            actor="system",
            reason=reason,
            extra={"approval_request": request.pk, "rule": rule},
        )
        return outcome


def _escalate(request: ApprovalRequest, negotiation: Negotiation, now: datetime) -> None:
    """Hand the request to the route's escalation group with a fresh SLA window."""
    route = request.route
    hours = route.sla_hours
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
    approval_notice_enqueue(request.pk)


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
