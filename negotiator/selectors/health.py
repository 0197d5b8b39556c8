"""Worker liveness, read by /healthz."""

from __future__ import annotations

from django.utils import timezone

from negotiator.models import WorkerHeartbeat


def heartbeat_latest_age_seconds() -> float | None:
    """Seconds since the last worker heartbeat; None when no worker ever reported."""
    beat = WorkerHeartbeat.objects.order_by("-created_at").first()
    if beat is None:
        return None
    return (timezone.now() - beat.created_at).total_seconds()
