from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from negotiator import health, services


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "negotiator/home.html", {})


@never_cache
@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    db_ok, db_detail = health.database_status()
    broker_ok, broker_detail = health.broker_status()
    worker_age = services.heartbeat_latest_age_seconds() if db_ok else None
    ok = db_ok and broker_ok
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "database": {"ok": db_ok, "detail": db_detail},
            "broker": {"ok": broker_ok, "detail": broker_detail},
            # Informational: a worker that has not beaten yet is not an outage
            # of the web tier, so it does not change the status code.
            "worker": {"last_heartbeat_seconds_ago": worker_age},
        },
        status=200 if ok else 503,
    )
