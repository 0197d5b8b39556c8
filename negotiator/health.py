"""Reachability probes for /healthz. Each returns (ok, detail) and never raises."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from kombu import Connection

from negotiator.celery import app as celery_app


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
