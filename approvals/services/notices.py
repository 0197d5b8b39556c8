"""Mails to approvers: the notice when a request opens (or moves to a second group)
and one reminder before it is due. Each is claimed by compare-and-set so it goes
out once; a failed mail releases the claim and the periodic job retries."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from approvals import selectors
from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator.audit import audit_append
from negotiator.selectors.formatting import format_terms_text, format_value, issue_meta
from negotiator.services.scheduling import task_enqueue_on_commit

log = logging.getLogger(__name__)

SEND_NOTICE = "approvals.tasks.send_notice"
PROCESS_DUE = "approvals.tasks.process_due"


def approval_notice_enqueue(request_id: int) -> None:
    """Send the request's notice in the background once the transaction commits.
    If the broker is down then, the periodic job sends it later."""
    task_enqueue_on_commit(SEND_NOTICE, request_id, retried_later=True)


REMIND_WHEN_LEFT = 0.25  # remind once when less than this share of the SLA window is left


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
    spec = request.negotiation.playbook_version.spec or {}
    terms = format_terms_text(request.terms, issue_meta(spec.get("issues")))
    value = format_value(request.deal_value, spec.get("currency", ""))
    body = (
        f"{lead}\n\n"
        f"Negotiation: {request.negotiation}\n"
        f"Why: {routes}\n"
        f"Agreed terms: {terms}\n"
        f"Deal value: {value}\n"
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
