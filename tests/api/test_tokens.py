"""API tokens: shown once, stored as a hash, expiring, revocable, only in the
Authorization header (a session is not enough), rate limited per token, made and
revoked on the tokens page (and by superusers in admin), every change audited."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import ApiToken
from api.services.tokens import token_create, token_revoke
from negotiator.models import AuditEvent
from tests.api.conftest import Api, token_for
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_the_tokens_page_shows_a_new_secret_once_and_stores_only_its_hash(client, teams):
    client.force_login(teams["operator"])
    made = client.post("/api/tokens/", {"name": "ERP sync", "days": 30})
    assert made.status_code == 201
    secret = re.search(r'value="(napi_[^"]+)"', made.content.decode()).group(1)
    token = ApiToken.objects.get(user=teams["operator"])
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12] and token.name == "ERP sync"
    assert secret not in str(list(ApiToken.objects.values_list()))
    assert made["Cache-Control"].startswith("max-age=0")
    again = client.get("/api/tokens/").content.decode()
    assert secret not in again and f"{token.prefix}…" in again
    # The secret works, as its owner.
    assert Api(client, secret).get("/me").json()["username"] == "mia"
    event = AuditEvent.objects.get(kind="api.token_created")
    assert event.user_id == teams["operator"].pk and event.payload["prefix"] == token.prefix
    assert secret not in event.payload_json


def test_the_tokens_page_refuses_bad_input_and_needs_a_login(client, teams):
    assert client.get("/api/tokens/").status_code == 302
    client.force_login(teams["operator"])
    for data in ({"name": "", "days": 30}, {"name": "x", "days": 0}, {"name": "x", "days": 400}):
        assert client.post("/api/tokens/", data).status_code == 400
    assert not ApiToken.objects.exists()


def test_a_token_is_revoked_on_the_page_by_its_owner_only(client, teams):
    secret = token_for(teams["operator"])
    token = ApiToken.objects.get()
    client.force_login(teams["outsider"])
    assert client.post("/api/tokens/revoke/", {"token": token.pk}).status_code == 404
    assert client.post("/api/tokens/revoke/", {"token": "x"}).status_code == 404
    assert Api(client, secret).get("/me").status_code == 200
    client.force_login(teams["operator"])
    assert client.post("/api/tokens/revoke/", {"token": token.pk}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == teams["operator"]
    refused = Api(client, secret).get("/me")
    assert refused.status_code == 401
    assert AuditEvent.objects.filter(kind="api.token_revoked", user=teams["operator"]).count() == 1
    # Revoking again changes nothing and audits nothing.
    token_revoke(token=token, user=teams["operator"])
    assert AuditEvent.objects.filter(kind="api.token_revoked").count() == 1


def test_missing_malformed_unknown_expired_and_revoked_tokens_are_401(client, teams):
    user = teams["operator"]
    good = token_for(user)
    expired = token_for(user, name="old")
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = token_for(user, name="revoked")
    token_revoke(token=ApiToken.objects.get(name="revoked"), user=user)
    cases = {
        "none": {},
        "basic": {"Authorization": f"Basic {good}"},
        "empty bearer": {"Authorization": "Bearer "},
        "unknown": {"Authorization": "Bearer napi_" + "x" * 43},
        "too short": {"Authorization": "Bearer abc"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "revoked": {"Authorization": f"Bearer {revoked}"},
    }
    bodies = set()
    for label, headers in cases.items():
        response = client.get("/api/me", headers=headers)
        assert response.status_code == 401, label
        assert response["WWW-Authenticate"].startswith("Bearer"), label
        error = error_of(response)
        assert error["code"] == "unauthorized", label
        bodies.add(error["message"])
    # The answer never says which check failed (beyond "send a token at all").
    assert len(bodies) <= 2
    assert client.get("/api/me", headers={"Authorization": f"bearer {good}"}).status_code == 200


def test_an_inactive_users_token_stops_working(client, teams):
    secret = token_for(teams["operator"])
    teams["operator"].is_active = False
    teams["operator"].save()
    assert Api(client, secret).get("/me").status_code == 401


def test_a_session_alone_does_not_open_the_api(client, teams):
    client.force_login(teams["operator"])
    response = client.get("/api/negotiations")
    assert response.status_code == 401
    # and a POST with the session cookie but no token changes nothing
    count = teams["team_a"].negotiations.count()
    assert (
        Api(client, None).post("/negotiations", {"playbook": teams["team_a"].pk}).status_code == 401
    )
    assert teams["team_a"].negotiations.count() == count


def test_use_is_recorded_at_most_once_a_minute(client, teams):
    secret = token_for(teams["operator"])
    api = Api(client, secret)
    assert api.get("/me").status_code == 200
    token = ApiToken.objects.get()
    first = token.last_used_at
    assert first is not None and token.last_used_from == "127.0.0.1"
    api.get("/me")
    token.refresh_from_db()
    assert token.last_used_at == first


def test_token_create_refuses_bad_values(teams):
    from negotiator.services.errors import ServiceError

    for kwargs in (
        {"name": "", "days": 5},
        {"name": "x" * 101, "days": 5},
        {"name": "x", "days": 0},
    ):
        with pytest.raises(ServiceError):
            token_create(user=teams["operator"], **kwargs)
    assert not ApiToken.objects.exists()


def test_over_the_rate_limit_is_429_with_retry_after(client, teams, settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW_SECONDS = 3600
    api = Api(client, token_for(teams["operator"]))
    other = Api(client, token_for(teams["operator"], name="second"))
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    limited = api.get("/me")
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 3600
    # Writes are refused too, before they change anything.
    count = teams["team_a"].negotiations.count()
    assert api.post("/negotiations", {"playbook": teams["team_a"].pk}).status_code == 429
    assert teams["team_a"].negotiations.count() == count
    # Each token has its own budget.
    assert other.get("/me").status_code == 200


def test_the_rate_limit_window_ends(settings):
    from api.ratelimit import RateLimited, rate_limit_hit

    settings.API_RATE_LIMIT = 2
    settings.API_RATE_WINDOW_SECONDS = 10
    key = f"window-test-{timezone.now().timestamp()}"
    assert rate_limit_hit(key, now=1000.0) == 1
    assert rate_limit_hit(key, now=1005.0) == 2
    with pytest.raises(RateLimited) as caught:
        rate_limit_hit(key, now=1007.5)
    assert caught.value.retry_after == 3  # the window [1000, 1010) ends in 2.5 s
    assert rate_limit_hit(key, now=1010.0) == 1


def test_superusers_make_and_revoke_tokens_in_admin(client, teams):
    root = make_user("root", superuser=True)
    client.force_login(root)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"user": teams["approver"].pk, "name": "Inbox bot", "days": 10},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    secret = re.search(r"(napi_[A-Za-z0-9_\-]+)", text).group(1)
    token = ApiToken.objects.get(name="Inbox bot")
    assert token.user == teams["approver"] and token.created_by == root
    assert Api(client, secret).get("/me").json()["username"] == "abe"
    assert secret not in client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    token.refresh_from_db()
    assert token.revoked_by == root
    assert Api(client, secret).get("/me").status_code == 401
    # Staff who are not superusers cannot make tokens for others.
    staff = make_user("stan", "Procurement")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get("/admin/api/apitoken/add/").status_code == 403


def test_only_bearer_calls_skip_csrf_the_tokens_page_does_not(teams):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    api = Api(strict, token_for(teams["operator"]))
    made = api.post("/negotiations", {"playbook": teams["team_a"].pk, "seed": 1})
    assert made.status_code == 201, made.content
    strict.force_login(teams["operator"])
    assert strict.post("/api/tokens/", {"name": "no csrf", "days": 5}).status_code == 403
    assert not ApiToken.objects.filter(name="no csrf").exists()
