"""Periodic work of the language-model integration."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from negotiator.llm.services import exchanges_purge as purge


@shared_task(name="negotiator.llm.tasks.exchanges_purge")
def exchanges_purge() -> int:
    """Beat: drop full prompts and replies past LLM_RETENTION_DAYS."""
    return purge(retention_days=settings.LLM_RETENTION_DAYS)
