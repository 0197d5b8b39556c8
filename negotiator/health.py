"""Readiness for /healthz: is the database reachable, is the broker, and has a
worker reported in recently. Probes never raise.

Anyone may read the verdict (up/down per component); the details name hosts,
drivers and errors, so the view shows them to logged-in staff only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from kombu import Connection

from negotiator.celery import app as celery_app
from negotiator.selectors.health import heartbeat_latest_age_seconds


def database_status() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not reachable"
        return False, f"{type(exc).__name__}: {exc}".strip()[:300]
    return True, connection.vendor


def broker_status(timeout: float = 2.0) -> tuple[bool, str]:
    try:
        # A fresh connection each time: the app's pooled one may hide an outage.
        with Connection(
            celery_app.conf.broker_url,
            transport_options=dict(celery_app.conf.broker_transport_options or {}),
            connect_timeout=timeout,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises many types for an unreachable broker
        return False, f"{type(exc).__name__}: {exc}".strip()[:300]
    return True, str(transport) if transport else settings.CELERY_BROKER_URL.split(":", 1)[0]


def worker_state(age_seconds: float | None, max_age_seconds: float) -> str:
    """up: a heartbeat within max_age; stale: only older ones; never: none at all."""
    if age_seconds is None:
        return "never"
    return "up" if age_seconds <= max_age_seconds else "stale"


@dataclass(frozen=True)
class HealthReport:
    database: bool
    broker: bool
    # up | stale | never, or unknown when the database (where heartbeats are) is down
    worker: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """down: the product cannot serve (database or broker unreachable);
        degraded: pages work but nothing runs in the background (no recent worker)."""
        if not (self.database and self.broker):
            return "down"
        return "ok" if self.worker == "up" else "degraded"

    @property
    def http_status(self) -> int:
        # A readiness probe: anything but ok takes this instance out of rotation
        # and shows in monitoring.
        return 200 if self.status == "ok" else 503

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "database": "up" if self.database else "down",
            "broker": "up" if self.broker else "down",
            "worker": self.worker,
        }


def health_report() -> HealthReport:
    db_ok, db_detail = database_status()
    broker_ok, broker_detail = broker_status()
    max_age = settings.NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS
    age = heartbeat_latest_age_seconds() if db_ok else None
    worker = worker_state(age, max_age) if db_ok else "unknown"
    details = {
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
        "worker": {
            "last_heartbeat_seconds_ago": None if age is None else round(age, 1),
            "heartbeat_every_seconds": settings.NEGOTIATOR_HEARTBEAT_EVERY_SECONDS,
            "max_age_seconds": max_age,
        },
    }
    return HealthReport(database=db_ok, broker=broker_ok, worker=worker, details=details)
