"""Webhooks: endpoints only on https and public addresses (unless the settings
allow a test receiver), secrets encrypted at rest and shown once, one event per
subscribed endpoint of the negotiation's team for each status change, signed
deliveries through a real Celery worker to a real local HTTP server, retries with
exponential backoff logged per attempt, resend with the same event id, and the
README's signature check."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.contrib.auth.models import Group

from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventStatus
from api.services.webhook_endpoints import (
    secret_decrypt,
    webhook_endpoint_create,
    webhook_secret_rotate,
    webhook_url_check,
)
from api.services.webhooks import retry_delay, webhook_deliver
from api.signing import signature_header
from negotiator import status_hooks
from negotiator.models import AuditEvent, NegotiationStatus
from negotiator.services.errors import NotAllowed, ServiceError
from negotiator.services.lifecycle import negotiation_close, negotiation_create
from negotiator.services.scheduling import rounds_held
from tests.api.receiver import Receiver
from tests.conftest import REPO, celery_worker, wait_for
from tests.negotiator.test_views import make_user

ALL = [
    "negotiation.pending_approval",
    "negotiation.approved",
    "negotiation.rejected",
    "negotiation.escalated",
    "negotiation.timed_out",
    "negotiation.failed",
    "negotiation.cancelled",
]


def readme_verify():
    """The README's signature check, run as a reader would copy it."""
    text = (REPO / "README.md").read_text()
    section = text.split("#### Checking a signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    return namespace["verify_signature"]


@pytest.fixture
def local_receivers(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


def _started(playbook, title="Hooked"):
    with rounds_held():
        return negotiation_create(playbook=playbook, title=title, seed=1)


# --------------------------------------------------------------------------
# URLs and secrets
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://93.184.215.14/hook", "https://"),
        ("ftp://93.184.215.14/hook", "https://"),
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://localhost:8443/hook", "only public addresses"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://192.168.0.10/hook", "192.168.0.10"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://100.64.0.1/hook", "100.64.0.1"),
        ("https://[::1]/hook", "::1"),
        ("https://[::ffff:127.0.0.1]/hook", "only public addresses"),
        ("https://0.0.0.0/hook", "0.0.0.0"),
        ("https://user:pw@93.184.215.14/hook", "no user name"),
        ("https:///hook", "no host"),
        ("https://no-such-host.invalid/hook", "cannot be resolved"),
        ("https://93.184.215.14:99999/", "not valid"),
    ],
)
def test_webhook_urls_must_be_https_and_public(url, words, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ServiceError) as refused:
        webhook_url_check(url)
    assert words in str(refused.value)


def test_a_public_https_address_is_accepted_and_settings_allow_a_local_receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    assert webhook_url_check(" https://93.184.215.14/hook?x=1 ") == "https://93.184.215.14/hook?x=1"
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    assert webhook_url_check("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"
    with pytest.raises(ServiceError):
        webhook_url_check("http://224.0.0.1/hook")  # multicast never


@pytest.mark.django_db
def test_the_secret_is_shown_once_kept_encrypted_and_rotated(teams, local_receivers, settings):
    team = Group.objects.get(name="Procurement")
    endpoint, secret = webhook_endpoint_create(
        team=team, url="http://127.0.0.1:9/h", events=ALL, user=teams["operator"]
    )
    assert secret.startswith("whsec_") and endpoint.secret_prefix == secret[:12]
    assert secret not in str(list(WebhookEndpoint.objects.values_list()))
    assert secret_decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk)) == secret
    created = AuditEvent.objects.get(kind="api.webhook_created")
    assert created.user_id == teams["operator"].pk and secret not in created.payload_json
    rotated = webhook_secret_rotate(endpoint=endpoint, user=teams["operator"])
    assert rotated != secret
    assert secret_decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk)) == rotated
    # Another key cannot read it: deliveries fail closed (see below).
    settings.WEBHOOK_SECRET_KEY = "another key"
    from api.services.webhook_endpoints import SecretUnreadable

    with pytest.raises(SecretUnreadable):
        secret_decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk))


@pytest.mark.django_db
def test_only_the_teams_members_manage_its_endpoints(teams, local_receivers):
    with pytest.raises(NotAllowed):
        webhook_endpoint_create(
            team=Group.objects.get(name="Procurement"),
            url="http://127.0.0.1:9/h",
            events=ALL,
            user=teams["outsider"],
        )
    with pytest.raises(ServiceError):
        webhook_endpoint_create(
            team=Group.objects.get(name="Procurement"),
            url="http://127.0.0.1:9/h",
            events=["negotiation.exploded"],
            user=teams["operator"],
        )
    assert not WebhookEndpoint.objects.exists()


# --------------------------------------------------------------------------
# Status changes become events
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_status_change_makes_one_event_per_subscribed_endpoint_of_the_team(
    teams, local_receivers, django_capture_on_commit_callbacks
):
    procurement = Group.objects.get(name="Procurement")
    marketing = Group.objects.get(name="Marketing")
    wanted, _ = webhook_endpoint_create(
        team=procurement, url="http://127.0.0.1:9/a", events=ALL, user=teams["operator"]
    )
    also, _ = webhook_endpoint_create(
        team=procurement,
        url="http://127.0.0.1:9/b",
        events=["negotiation.cancelled"],
        user=teams["operator"],
    )
    webhook_endpoint_create(
        team=procurement,
        url="http://127.0.0.1:9/c",
        events=["negotiation.approved"],
        user=teams["operator"],
    )
    off, _ = webhook_endpoint_create(
        team=procurement, url="http://127.0.0.1:9/d", events=ALL, user=teams["operator"]
    )
    WebhookEndpoint.objects.filter(pk=off.pk).update(active=False)
    webhook_endpoint_create(
        team=marketing, url="http://127.0.0.1:9/e", events=ALL, user=teams["outsider"]
    )
    negotiation = _started(teams["team_a"])
    assert not WebhookEvent.objects.exists()  # running is no webhook event
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        negotiation_close(
            negotiation=negotiation, user=teams["operator"], reason="no longer needed"
        )
    events = list(WebhookEvent.objects.order_by("endpoint__url"))
    assert [e.endpoint_id for e in events] == [wanted.pk, also.pk]
    assert len({e.event_id for e in events}) == 1 and len(callbacks) == 2
    body = json.loads(events[0].body)
    assert body["id"] == str(events[0].event_id) and body["type"] == "negotiation.cancelled"
    deal = body["data"]["negotiation"]
    assert (deal["id"], deal["status"], deal["previous_status"]) == (
        negotiation.pk,
        "cancelled",
        "running",
    )
    assert deal["reason"] == "no longer needed" and deal["team"] == "Procurement"
    assert deal["currency"] == "USD" and body["data"]["actor"] == "user:mia"


@pytest.mark.django_db
def test_a_failing_listener_never_blocks_the_status_change(teams, caplog):
    def broken(change):
        raise RuntimeError("listener down")

    status_hooks.listener_register("broken-for-test", broken)
    try:
        negotiation = _started(teams["team_a"])
        negotiation_close(negotiation=negotiation, user=teams["operator"])
    finally:
        status_hooks.listener_unregister("broken-for-test")
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.CANCELLED
    assert "status listener 'broken-for-test' failed" in caplog.text


@pytest.mark.django_db
def test_an_unreadable_secret_fails_the_event_without_sending_it(teams, local_receivers, settings):
    with Receiver([200]) as receiver:
        webhook_endpoint_create(
            team=Group.objects.get(name="Procurement"),
            url=receiver.url,
            events=ALL,
            user=teams["operator"],
        )
        negotiation_close(negotiation=_started(teams["team_a"]), user=teams["operator"])
        event = WebhookEvent.objects.get()
        settings.WEBHOOK_SECRET_KEY = "rotated without rotating the secrets"
        assert webhook_deliver(event_pk=event.pk) == "failed"
    assert receiver.requests == []
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.FAILED
    assert "rotate the secret" in event.deliveries.get().error


def test_the_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 300
    assert [retry_delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


def test_the_readme_snippet_checks_signatures():
    verify = readme_verify()
    body = b'{"id": "x", "type": "negotiation.approved"}'
    now = int(time.time())
    header = signature_header("whsec_test", now, body)
    assert verify("whsec_test", body, header)
    assert not verify("whsec_other", body, header)
    assert not verify("whsec_test", body + b" ", header)
    assert not verify("whsec_test", body, signature_header("whsec_test", now - 301, body))
    assert not verify("whsec_test", body, "garbage")
    assert not verify("whsec_test", body, f"t={now}")
    assert not verify("whsec_test", body, "t=soon,v1=00")


# --------------------------------------------------------------------------
# Through a real worker to a real receiver
# --------------------------------------------------------------------------


@pytest.fixture
def hook_worker_env(worker_env):
    return {
        **worker_env,
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_MAX_ATTEMPTS": "3",
        "WEBHOOK_TIMEOUT_SECONDS": "5",
    }


@pytest.mark.worker
def test_a_worker_delivers_signed_events_retries_with_backoff_and_logs_each_attempt(
    teams, hook_worker_env, local_receivers, tmp_path, client
):
    verify = readme_verify()
    procurement = Group.objects.get(name="Procurement")
    with (
        Receiver([200]) as happy,
        Receiver([500, 503, 200]) as flaky,
        Receiver([500]) as down,
        celery_worker(tmp_path, hook_worker_env) as worker,
    ):
        secrets = {}
        for receiver in (happy, flaky, down):
            endpoint, secret = webhook_endpoint_create(
                team=procurement, url=receiver.url, events=ALL, user=teams["operator"]
            )
            secrets[receiver.url] = secret
        negotiation = _started(teams["team_a"])
        negotiation_close(negotiation=negotiation, user=teams["operator"], reason="done")

        def settled():
            states = set(WebhookEvent.objects.values_list("status", flat=True))
            return WebhookEventStatus.PENDING not in states and len(down.requests) == 3

        wait_for(settled, timeout=60, interval=0.2)
        log = worker.log()

    # The happy receiver got one signed request; the README's check accepts it.
    [got] = happy.requests
    event = WebhookEvent.objects.get(endpoint__url=happy.url)
    assert got.path == "/hooks/negotiator" and got.body == event.body.encode()
    assert got.headers["Negotiator-Event-Id"] == str(event.event_id)
    assert got.headers["Negotiator-Event-Type"] == "negotiation.cancelled"
    assert got.headers["Content-Type"] == "application/json"
    assert verify(secrets[happy.url], got.body, got.headers["Negotiator-Signature"])
    assert not verify(secrets[flaky.url], got.body, got.headers["Negotiator-Signature"])
    assert json.loads(got.body)["data"]["negotiation"]["id"] == negotiation.pk
    assert event.status == WebhookEventStatus.DELIVERED and event.attempts == 1
    [ok] = event.deliveries.all()
    assert (ok.status_code, ok.next_retry_at, ok.response_excerpt) == (200, None, "answer 1: 200")

    # The flaky one: 500, 503, then 200, the waits doubling (1 s, then 2 s).
    flaky_event = WebhookEvent.objects.get(endpoint__url=flaky.url)
    attempts = list(flaky_event.deliveries.order_by("attempt"))
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert flaky_event.status == WebhookEventStatus.DELIVERED
    waits = [(a.next_retry_at - a.started_at).total_seconds() for a in attempts[:2]]
    assert 1 <= waits[0] < 1.9 and 2 <= waits[1] < 2.9, waits
    gaps = [b.at - a.at for a, b in zip(flaky.requests, flaky.requests[1:], strict=False)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[1] > gaps[0], gaps
    assert attempts[0].response_excerpt == "answer 1: 500" and attempts[0].duration_ms >= 0
    # The same event id and body on every attempt: receivers de-duplicate by it.
    assert {r.headers["Negotiator-Event-Id"] for r in flaky.requests} == {str(flaky_event.event_id)}
    assert {r.body for r in flaky.requests} == {flaky_event.body.encode()}
    assert all(
        verify(secrets[flaky.url], r.body, r.headers["Negotiator-Signature"])
        for r in flaky.requests
    )

    # The one that never answers 2xx: WEBHOOK_MAX_ATTEMPTS attempts, then failed.
    down_event = WebhookEvent.objects.get(endpoint__url=down.url)
    assert down_event.status == WebhookEventStatus.FAILED and down_event.attempts == 3
    assert [d.status_code for d in down_event.deliveries.order_by("attempt")] == [500, 500, 500]
    assert down_event.deliveries.get(attempt=3).next_retry_at is None
    assert f"webhook {down_event.event_id} attempt 3 to {down.url}: 500" in log


@pytest.mark.worker
def test_resend_from_admin_sends_the_same_event_again(
    teams, hook_worker_env, local_receivers, tmp_path, client
):
    procurement = Group.objects.get(name="Procurement")
    root = make_user("root", superuser=True)
    with Receiver([200]) as receiver, celery_worker(tmp_path, hook_worker_env):
        webhook_endpoint_create(
            team=procurement, url=receiver.url, events=ALL, user=teams["operator"]
        )
        negotiation_close(negotiation=_started(teams["team_a"]), user=teams["operator"])
        wait_for(lambda: WebhookEvent.objects.filter(status="delivered").exists(), timeout=30)
        event = WebhookEvent.objects.get()
        client.force_login(root)
        response = client.post(
            "/admin/api/webhookevent/",
            {"action": "resend", "_selected_action": [event.pk]},
            follow=True,
        )
        assert response.status_code == 200
        wait_for(lambda: len(receiver.requests) == 2, timeout=30)
        wait_for(lambda: WebhookDelivery.objects.filter(resend=True).exists(), timeout=30)
    first, second = receiver.requests
    assert first.headers["Negotiator-Event-Id"] == second.headers["Negotiator-Event-Id"]
    assert first.body == second.body
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DELIVERED and event.attempts == 2
    assert AuditEvent.objects.filter(kind="api.webhook_resent", user=root).exists()


# --------------------------------------------------------------------------
# Admin
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_team_admins_add_endpoints_for_their_teams_only_and_see_the_secret_once(
    teams, local_receivers, client
):
    from django.contrib.auth.models import Permission

    admin_a = make_user("ada", "Procurement")
    admin_a.is_staff = True
    admin_a.save()
    admin_a.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="api", codename__contains="webhook")
    )
    theirs, _ = webhook_endpoint_create(
        team=Group.objects.get(name="Marketing"),
        url="http://127.0.0.1:9/m",
        events=ALL,
        user=teams["outsider"],
    )
    client.force_login(admin_a)
    form = client.get("/admin/api/webhookendpoint/add/").content.decode()
    assert ">Procurement<" in form and ">Marketing<" not in form
    refused = client.post(
        "/admin/api/webhookendpoint/add/",
        {"team": theirs.team_id, "url": "http://127.0.0.1:9/x", "events": ALL, "active": "on"},
    )
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    bad_url = client.post(
        "/admin/api/webhookendpoint/add/",
        {
            "team": Group.objects.get(name="Procurement").pk,
            "url": "ftp://127.0.0.1/x",
            "events": ALL,
            "active": "on",
        },
    )
    assert bad_url.status_code == 200 and WebhookEndpoint.objects.count() == 1
    added = client.post(
        "/admin/api/webhookendpoint/add/",
        {
            "team": Group.objects.get(name="Procurement").pk,
            "url": "http://127.0.0.1:9/a",
            "events": ["negotiation.approved", "negotiation.rejected"],
            "active": "on",
        },
        follow=True,
    )
    secret = re.search(r"(whsec_[A-Za-z0-9_\-]+)", added.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:9/a")
    assert endpoint.events == ["negotiation.approved", "negotiation.rejected"]
    assert secret_decrypt(endpoint) == secret and endpoint.created_by == admin_a
    listing = client.get("/admin/api/webhookendpoint/").content.decode()
    assert "127.0.0.1:9/a" in listing and "127.0.0.1:9/m" not in listing
    assert (
        secret
        not in client.get(f"/admin/api/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )
    assert client.get(f"/admin/api/webhookendpoint/{theirs.pk}/change/").status_code == 302


@pytest.mark.django_db
def test_resend_needs_the_right_to_manage_endpoints(teams, local_receivers, client):
    from django.contrib.auth.models import Permission

    webhook_endpoint_create(
        team=Group.objects.get(name="Procurement"),
        url="http://127.0.0.1:9/a",
        events=ALL,
        user=teams["operator"],
    )
    negotiation_close(negotiation=_started(teams["team_a"]), user=teams["operator"])
    event = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEventStatus.FAILED)
    viewer = make_user("vic", "Procurement")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="api", codename__startswith="view_")
    )
    client.force_login(viewer)
    listing = client.get("/admin/api/webhookevent/")
    assert listing.status_code == 200 and 'value="resend"' not in listing.content.decode()
    client.post("/admin/api/webhookevent/", {"action": "resend", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.FAILED
    assert not AuditEvent.objects.filter(kind="api.webhook_resent").exists()
    viewer.user_permissions.add(Permission.objects.get(codename="change_webhookendpoint"))
    viewer = type(viewer).objects.get(pk=viewer.pk)  # permissions are cached per object
    client.force_login(viewer)
    client.post("/admin/api/webhookevent/", {"action": "resend", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.PENDING
    assert AuditEvent.objects.filter(kind="api.webhook_resent", user=viewer).exists()
