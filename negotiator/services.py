"""Writes. Each function is <entity>_<action>(*, ...) and owns its transaction."""

from __future__ import annotations

import socket

from django.db import transaction
from django.utils import timezone

from negotiator.models import WorkerHeartbeat

HEARTBEAT_KEEP = 100


def heartbeat_record(*, token: str = "") -> WorkerHeartbeat:
    with transaction.atomic():
        beat = WorkerHeartbeat.objects.create(token=token[:64], hostname=socket.gethostname())
        # Keep the table small: it is a liveness signal, not a log.
        stale = WorkerHeartbeat.objects.order_by("-created_at").values_list("pk", flat=True)[
            HEARTBEAT_KEEP : HEARTBEAT_KEEP + 1000
        ]
        WorkerHeartbeat.objects.filter(pk__in=list(stale)).delete()
    return beat


def heartbeat_latest_age_seconds() -> float | None:
    beat = WorkerHeartbeat.objects.order_by("-created_at").first()
    if beat is None:
        return None
    return (timezone.now() - beat.created_at).total_seconds()


ROLE_GROUPS = {
    "Approvers": "Decide escalated deals in the approval inbox.",
    "Policy owners": "Configure playbooks, policies and approval routes in admin.",
    "Operators": "Start, resume and close negotiations.",
    "Auditors": "Read every negotiation, its private profiles and audit trail.",
}


def roles_ensure() -> None:
    """Create the permission groups the product relies on (idempotent)."""
    from django.contrib.auth.models import Group

    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def demo_data_load() -> str:
    """Load demo playbooks and negotiations once; return a one-line summary."""
    return ""
