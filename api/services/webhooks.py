"""Webhook events and their deliveries.

A status change (negotiator.status_hooks) becomes one event per subscribed active
endpoint of the negotiation's team, in the transaction of the change, with one
event id shared by those endpoints; its body is fixed then. Delivering an event:

1. claim it by compare-and-set (pending, due, not held by another worker), so a
   duplicate task or the periodic job never sends it twice at once;
2. resolve and check its URL, sign the body with the endpoint's secret and a
   timestamp (api.signing), POST it (api.webhook_transport);
3. record the attempt (status code, answer excerpt, duration, next retry) and
   either finish the event (2xx: delivered; attempts used up: failed) or schedule
   the next attempt with exponential backoff.

Retries within NEGOTIATOR_MAX_COUNTDOWN are enqueued with a countdown; longer
waits, lost messages and crashed workers are picked up by the periodic job.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from api import signing, webhook_transport
from api.models import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventKind,
    WebhookEventStatus,
)
from api.services.webhook_endpoints import SecretUnreadable, secret_decrypt
from negotiator.audit import audit_append
from negotiator.models import Negotiation
from negotiator.services.roles import actor_of
from negotiator.services.scheduling import task_enqueue_on_commit
from negotiator.status_hooks import StatusChange

DELIVER = "api.tasks.webhook_deliver"
DUE = "api.tasks.webhooks_due"
USER_AGENT = "Negotiator-Webhooks/1"
# A task may run a moment before the attempt it was scheduled for is due.
EARLY_SLACK = timedelta(seconds=2)
DUE_BATCH = 500

log = logging.getLogger(__name__)


def webhook_events_record(change: StatusChange) -> list[WebhookEvent]:
    """The status listener: an event for each endpoint of the negotiation's team
    that subscribed to this change, delivered once the change commits."""
    kind = f"negotiation.{change.target}"
    if kind not in WebhookEventKind.values or change.team_id is None:
        return []
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(team_id=change.team_id, active=True)
        if kind in (e.events or [])
    ]
    if not endpoints:
        return []
    event_id = uuid.uuid4()
    body = event_body(change, kind, event_id)
    events = WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                endpoint=e,
                event_id=event_id,
                kind=kind,
                negotiation_id=change.negotiation_id,
                body=body,
                next_attempt_at=change.at,
            )
            for e in endpoints
        ]
    )
    for event in events:
        # The periodic job sends it if the broker is away right now.
        task_enqueue_on_commit(DELIVER, event.pk, retried_later=True)
    return events


def event_body(change: StatusChange, kind: str, event_id: uuid.UUID) -> str:
    """The JSON every attempt sends: what changed and the deal as it stands."""
    row = (
        Negotiation.objects.filter(pk=change.negotiation_id)
        .values(
            "title",
            "status",
            "current_round",
            "outcome_reason",
            "agreed_terms",
            "deal_value",
            "playbook_id",
            "playbook__name",
            "team__name",
            "playbook_version__spec__currency",
        )
        .get()
    )
    document: dict[str, Any] = {
        "id": str(event_id),
        "type": kind,
        "created": change.at.isoformat(),
        "data": {
            "negotiation": {
                "id": change.negotiation_id,
                "title": row["title"],
                "status": change.target,
                "previous_status": change.source,
                "reason": change.reason,
                "round": row["current_round"],
                "playbook": {"id": row["playbook_id"], "name": row["playbook__name"]},
                "team": row["team__name"],
                "agreed_terms": row["agreed_terms"],
                "deal_value": row["deal_value"],
                "currency": row["playbook_version__spec__currency"] or "USD",
            },
            "actor": change.actor,
        },
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def webhook_deliver(*, event_pk: int, resend: bool = False) -> str:
    """One delivery attempt of one event (the steps are in the module docstring).
    Returns what happened: skipped, delivered, retry or failed."""
    now = timezone.now()
    claim = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    claimed = (
        WebhookEvent.objects.filter(pk=event_pk, status=WebhookEventStatus.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + EARLY_SLACK))
        .update(claimed_until=now + claim, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    event = WebhookEvent.objects.select_related("endpoint").get(pk=event_pk)
    started = timezone.now()
    answer, final = _attempt(event)
    return _attempt_record(event, answer, started=started, final=final, resend=resend)


def _attempt(event: WebhookEvent) -> tuple[webhook_transport.Answer, bool]:
    """Send once. The flag says whether the failure is final (no retry helps)."""
    endpoint = event.endpoint
    if not endpoint.active:
        return _refused("the endpoint is switched off"), True
    try:
        secret = secret_decrypt(endpoint)
    except SecretUnreadable as exc:
        # Never send unsigned: the receiver could not tell it from a forgery.
        return _refused(str(exc)), True
    try:
        target = webhook_transport.target_resolve(endpoint.url)
    except webhook_transport.UrlRefused as exc:
        return _refused(str(exc)), False
    body = event.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.EVENT_ID_HEADER: str(event.event_id),
        signing.EVENT_TYPE_HEADER: event.kind,
        signing.SIGNATURE_HEADER: signing.signature_header(secret, int(time.time()), body),
    }
    return webhook_transport.post(target, body, headers), False


def _refused(error: str) -> webhook_transport.Answer:
    return webhook_transport.Answer(status_code=None, excerpt="", error=error[:300], duration_ms=0)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff: the base, doubled after each failed attempt, capped."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(attempt - 1, 30)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def _attempt_record(
    event: WebhookEvent,
    answer: webhook_transport.Answer,
    *,
    started,
    final: bool,
    resend: bool,
) -> str:
    now = timezone.now()
    delivered = answer.status_code is not None and 200 <= answer.status_code < 300
    retry = not delivered and not final and event.attempts < settings.WEBHOOK_MAX_ATTEMPTS
    delay = retry_delay(event.attempts) if retry else None
    if delivered:
        status = WebhookEventStatus.DELIVERED
    else:
        status = WebhookEventStatus.PENDING if retry else WebhookEventStatus.FAILED
    with transaction.atomic():
        WebhookDelivery.objects.create(
            event=event,
            attempt=event.attempts,
            started_at=started,
            status_code=answer.status_code,
            response_excerpt=answer.excerpt,
            error=answer.error,
            duration_ms=answer.duration_ms,
            next_retry_at=now + delay if delay else None,
            resend=resend,
        )
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=status,
            next_attempt_at=now + delay if delay else None,
            claimed_until=None,
            delivered_at=now if delivered else None,
        )
        if delay is not None and delay.total_seconds() <= settings.NEGOTIATOR_MAX_COUNTDOWN:
            task_enqueue_on_commit(
                DELIVER, event.pk, countdown=delay.total_seconds(), retried_later=True
            )
    if not delivered:
        log.warning(
            "webhook %s attempt %s to %s: %s",
            event.event_id,
            event.attempts,
            event.endpoint.url,
            answer.status_code or answer.error,
        )
    return "delivered" if delivered else ("retry" if retry else "failed")


def webhook_event_resend(*, event: WebhookEvent, user) -> None:
    """Send an event again now (an admin's action), with the same id and body; if
    it had used up its attempts, a failure of this one ends it again. An attempt
    in flight keeps its claim, so the two never run at once."""
    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=WebhookEventStatus.PENDING, next_attempt_at=timezone.now()
        )
        audit_append(
            kind="api.webhook_resent",
            actor=actor_of(user),
            user=user,
            payload={"event": str(event.event_id), "endpoint": event.endpoint_id},
        )
        task_enqueue_on_commit(DELIVER, event.pk, True)


def webhooks_due_enqueue() -> list[int]:
    """The periodic job: enqueue every pending event whose attempt is due and that
    no worker holds (long backoffs, lost messages, crashed workers)."""
    now = timezone.now()
    due = list(
        WebhookEvent.objects.filter(status=WebhookEventStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )
    for pk in due:
        task_enqueue_on_commit(DELIVER, pk, retried_later=True)
    return due
