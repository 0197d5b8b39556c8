"""Celery tasks: thin wrappers that take ids and call one service."""

from celery import shared_task

from negotiator import services


@shared_task(name="negotiator.tasks.record_heartbeat")
def record_heartbeat(token: str = "") -> None:
    services.heartbeat_record(token=token)
