"""Login throttling (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one
username from one address lock that pair out; while locked even the right
password is refused with a clear message; the lock ends after the cool-off, when
an admin unlocks it, and a success resets the count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw"  # make_user's password
LOCKED = "Too many failed attempts; try again in 15 minutes or ask an admin to unlock you."


def attempt(client: Client, password: str, username: str = "lena", **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def fail_until_locked(client: Client, username: str = "lena") -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = attempt(client, "wrong-password", username)
    assert response.status_code == 429


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_wrong_passwords_lock_out_and_then_the_right_one_is_refused(client):
    make_user("lena")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "wrong-password")
        assert response.status_code == 200  # the form again, with Django's error
        assert "Please enter a correct username and password" in response.content.decode()
    response = attempt(client, "wrong-password")
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page
    assert 'id="login-locked"' in page and 'class="flash flash-error"' in page
    assert 'name="username"' in page and 'value="lena"' in page  # the styled login page
    response = attempt(client, PASSWORD)
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still not logged in


def test_the_lock_is_per_username_and_address(client):
    make_user("lena")
    make_user("mark")
    fail_until_locked(client)
    # Another user from the same address, and the same user from another address.
    assert attempt(client, PASSWORD, "mark").status_code == 302
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert attempt(other, PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(client):
    make_user("lena")
    fail_until_locked(client)
    # Fifteen minutes and a second later (the attempt's clock, moved back).
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    )
    response = attempt(client, PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_an_admin_unlocks_in_admin(client):
    make_user("lena")
    fail_until_locked(client)
    admin = Client()
    admin.force_login(make_user("root", superuser=True))
    attempt_row = AccessAttempt.objects.get(username="lena")
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "lena" in listing.content.decode()
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt_row.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert attempt(client, PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(client):
    make_user("lena")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong-password")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    # A fresh allowance: the limit minus one more failures still do not lock.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong-password").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_admin_login_is_throttled_too(client):
    make_user("root", superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/admin/login/", {"username": "root", "password": "wrong-password"})
    assert response.status_code == 429
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 429


def test_behind_a_proxy_the_forwarded_address_counts(client, settings):
    from django.test import RequestFactory

    from negotiator.views import login_client_address

    request = RequestFactory().post(
        "/login/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1"
    )
    settings.NEGOTIATOR_LOGIN_PROXY_COUNT = 0
    assert login_client_address(request) == "10.0.0.1"  # a header anyone can send
    settings.NEGOTIATOR_LOGIN_PROXY_COUNT = 1
    assert login_client_address(request) == "203.0.113.9"  # what our proxy saw
    settings.NEGOTIATOR_LOGIN_PROXY_COUNT = 3
    assert login_client_address(request) == "10.0.0.1"  # fewer hops than proxies


def _age_attempts(minutes: float) -> None:
    """Move the clock of the recorded attempts back, as if `minutes` had passed."""
    for row in AccessAttempt.objects.all():
        row.attempt_time -= timedelta(minutes=minutes)
        row.save(update_fields=["attempt_time"])


def test_any_attempt_while_locked_starts_the_wait_again(client):
    make_user("lena")
    fail_until_locked(client)
    _age_attempts(10)
    assert attempt(client, "wrong-again").status_code == 429
    _age_attempts(10)  # 20 minutes after the lock, 10 after the last try
    assert attempt(client, PASSWORD).status_code == 429  # refused, and the wait restarts
    _age_attempts(14)
    assert attempt(client, PASSWORD).status_code == 429
    _age_attempts(15.1)
    assert attempt(client, PASSWORD).status_code == 302
