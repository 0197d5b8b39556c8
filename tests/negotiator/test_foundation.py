"""The skeleton: login everywhere, health, settings validation, deploy checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.conftest import REPO

# portal:home explains how to open an invite link and shows no data; the portal's
# seat page is a 404 without a live invite secret (tests/portal).
PUBLIC = {"login", "healthz", "portal:home"}
# The A2A door: the agent card and the offer schema are public by design; the
# JSON-RPC endpoint takes a seat's bearer token, never a login (tests/a2a).
PUBLIC |= {"a2a_agent_card", "a2a_offer_schema", "a2a_rpc"}
# The favicon browsers ask for on every page, the login page included: a static mark.
PUBLIC |= {"favicon"}


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}{p.name or ''}"


def _concrete(route: str) -> str:
    """Turn a route pattern into a URL, filling converters with plausible values."""
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<(?:str|slug):[^>]+>", "x", route)
    route = re.sub(r"<path:[^>]+>", "x/y", route)
    route = re.sub(r"<[^>]+>", "1", route)
    route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)
    route = route.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + route.lstrip("/")


def test_every_page_but_login_and_healthz_needs_login(client):
    checked = 0
    for route, name in _walk(get_resolver().url_patterns):
        if name in PUBLIC or name.startswith("admin:") and name.endswith(("login", "logout")):
            continue
        if name.startswith("djdt") or "static" in route:
            continue
        url = _concrete(route)
        response = client.get(url)
        checked += 1
        if url.startswith("/api/") and 401 in (response.status_code, client.post(url).status_code):
            # The REST API is not a page: it wants a bearer token, not a login
            # (tests/api/test_walk.py calls each operation without one).
            assert response.status_code in (401, 405), url
            continue
        assert response.status_code in (301, 302, 404, 405), (url, response.status_code)
        if response.status_code in (301, 302):
            assert "login" in response["Location"], (url, response["Location"])
        # POST is never a way around login either.
        response = client.post(url)
        assert response.status_code in (301, 302, 403, 404, 405), (url, response.status_code)
    assert checked > 5


def test_login_page_renders_and_logs_in(client, django_user_model):
    django_user_model.objects.create_user("ann", password="pw-long-enough-1")
    page = client.get("/login/")
    assert page.status_code == 200
    assert b"Log in" in page.content
    response = client.post("/login/", {"username": "ann", "password": "pw-long-enough-1"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"ann" in home.content


def test_wrong_password_says_so_and_does_not_log_in(client, django_user_model):
    django_user_model.objects.create_user("ann", password="pw-long-enough-1")
    response = client.post("/login/", {"username": "ann", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content
    assert client.get("/").status_code == 302


def test_htmx_is_vendored_and_csrf_header_is_sent(admin_client):
    page = admin_client.get("/").content.decode()
    assert re.search(r'src="/static/django_htmx/htmx-2[^"]*\.js"', page)
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    assert "X-CSRFToken" in page


def _beat(seconds_ago: float = 0.0) -> None:
    """A worker heartbeat, as the beat-scheduled task records it, `seconds_ago` old."""
    from negotiator.models import WorkerHeartbeat
    from negotiator.services.workers import heartbeat_record

    beat = heartbeat_record(token="test")
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


@pytest.mark.django_db
def test_healthz_is_ok_without_login_when_a_worker_reported_recently(client):
    _beat(seconds_ago=5)
    response = client.get("/healthz")
    assert response.status_code == 200
    # Anyone gets the verdict per component and nothing else.
    assert response.json() == {"status": "ok", "database": "up", "broker": "up", "worker": "up"}


@pytest.mark.django_db
def test_healthz_is_degraded_503_when_no_worker_ever_reported(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "up",
        "broker": "up",
        "worker": "never",
    }


@pytest.mark.django_db
def test_healthz_is_degraded_503_when_the_newest_heartbeat_is_too_old(client, settings):
    settings.NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS = 90
    _beat(seconds_ago=91)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["worker"] == "stale"
    settings.NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS = 120
    assert client.get("/healthz").json()["worker"] == "up"


@pytest.mark.django_db
def test_healthz_reports_a_down_broker_with_503_and_no_details(client, monkeypatch):
    from negotiator.celery import app

    _beat()
    # Port 1 on loopback is closed: the broker is unreachable. Celery reads the
    # env variable before its config, so both are pointed there.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "up", "broker": "down", "worker": "up"}
    # No host, port, driver or exception text for an anonymous caller.
    for secret in ("127.0.0.1", "Error", "refused", "postgres", "redis"):
        assert secret not in response.content.decode()


@pytest.mark.django_db
def test_healthz_details_are_for_logged_in_staff_only(client, django_user_model):
    _beat(seconds_ago=12)
    member = django_user_model.objects.create_user("mo", password="pw-long-enough-1")
    client.force_login(member)
    assert "details" not in client.get("/healthz").json()
    staff = django_user_model.objects.create_user("sue", password="pw-long-enough-1", is_staff=True)
    client.force_login(staff)
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    details = body["details"]
    assert details["database"] == {"ok": True, "detail": "postgresql"}
    assert details["broker"]["ok"] is True
    assert 12 <= details["worker"]["last_heartbeat_seconds_ago"] < 60
    assert details["worker"]["max_age_seconds"] == 90
    assert details["worker"]["heartbeat_every_seconds"] == 30


def test_health_status_rule():
    from negotiator.health import HealthReport, worker_state

    assert worker_state(None, 90) == "never"
    assert worker_state(90, 90) == "up" and worker_state(90.5, 90) == "stale"
    assert HealthReport(database=True, broker=True, worker="up").status == "ok"
    assert HealthReport(database=True, broker=True, worker="stale").http_status == 503
    # Heartbeats live in the database: with it down the worker is unknown, the status down.
    report = HealthReport(database=False, broker=True, worker="unknown")
    assert (report.status, report.http_status) == ("down", 503)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k7#Qm2!vR9@xL4$wT8^zN1&pS6*bY3(cF5)hJ0_dG-uE+aW=iO" * 2,
    "ALLOWED_HOSTS": "negotiator.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://negotiator.example.com",
    "SECURE_HTTPS": "1",
    # The audit checkpoint key (README: AUDIT_CHECKPOINT_KEY_FILE); a fixed test seed.
    "AUDIT_CHECKPOINT_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
}


def test_check_deploy_is_clean_with_the_documented_production_env():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("CELERY_TASK_TIME_LIMIT", "ninety"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("CELERY_BROKER_URL", "carrier-pigeon://coop"),
        ("SECURE_HSTS_SECONDS", "-5"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(name, value):
    result = _manage("check", env={name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_production_refuses_the_development_secret():
    env = {**PRODUCTION_ENV}
    env.pop("SECRET_KEY")
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_healthz_payload_is_json_serialisable(client, db):
    _beat()
    assert json.loads(client.get("/healthz").content)["status"] == "ok"


def test_a_heartbeat_max_age_not_above_the_period_is_refused():
    result = _manage(
        "check",
        env={
            "NEGOTIATOR_HEARTBEAT_EVERY_SECONDS": "30",
            "NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS": "30",
        },
    )
    assert result.returncode != 0
    assert "NEGOTIATOR_HEARTBEAT_MAX_AGE_SECONDS must be larger" in result.stderr
