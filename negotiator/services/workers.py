"""Worker heartbeats: each worker reports in periodically (the liveness signal /healthz reads)."""

from __future__ import annotations

import socket

from django.db import transaction

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
