"""Celery tasks: thin wrappers that take ids and call one service. Services
enqueue them by name (approvals.services.notices), never by importing this module."""

from __future__ import annotations

from celery import shared_task

from approvals.services import expiry, notices


@shared_task(name=notices.PROCESS_DUE)
def process_due() -> dict[str, list[int]]:
    """Beat runs this every minute: expiry, reminders, missing notices."""
    return expiry.approvals_process_due()


@shared_task(name=notices.SEND_NOTICE)
def send_notice(request_id: int) -> bool:
    return notices.approval_notice_send(request_id=request_id)
