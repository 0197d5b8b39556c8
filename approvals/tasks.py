"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from approvals import services


@shared_task(name="approvals.tasks.process_due")
def process_due() -> dict[str, list[int]]:
    """Beat runs this every minute: expiry, reminders, missing notices."""
    return services.approvals_process_due()


@shared_task(name="approvals.tasks.send_notice")
def send_notice(request_id: int) -> bool:
    return services.approval_notice_send(request_id=request_id)


def enqueue_notice(request_id: int) -> None:
    """Called after commit. If the broker is down the periodic job sends it later."""
    try:
        send_notice.delay(request_id)
    except Exception:  # noqa: BLE001 - a notice must never break the caller
        import logging

        logging.getLogger(__name__).warning(
            "approval #%s: could not enqueue the notice; the periodic job will send it",
            request_id,
        )
