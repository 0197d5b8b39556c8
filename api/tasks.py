"""Celery tasks: thin wrappers that take ids and call one service. Services
enqueue them by name (api.services.webhooks), never by importing this module."""

from __future__ import annotations

from celery import shared_task

from api.services import webhooks


@shared_task(name=webhooks.DELIVER)
def webhook_deliver(event_pk: int, resend: bool = False) -> str:
    return webhooks.webhook_deliver(event_pk=event_pk, resend=resend)


@shared_task(name=webhooks.DUE)
def webhooks_due() -> list[int]:
    """Beat runs this every 30 s: attempts that are due and not on the queue."""
    return webhooks.webhooks_due_enqueue()
