"""Rows of the REST API and webhooks: people's API tokens, teams' webhook endpoints,
the events each endpoint is sent and every delivery attempt. Writes that span
rows live in api.services."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A person's bearer token for the REST API. Only its sha256 is stored (the
    secret is shown once); it acts as its owner, expires and can be revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'ERP sync'.")
    # the secret's first characters, to tell tokens apart in lists and logs
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.CharField(max_length=64, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


class WebhookEventKind(models.TextChoices):
    """The status changes a webhook endpoint can subscribe to."""

    PENDING_APPROVAL = "negotiation.pending_approval", "Agreed, waiting for approval"
    APPROVED = "negotiation.approved", "Approved"
    REJECTED = "negotiation.rejected", "Rejected"
    ESCALATED = "negotiation.escalated", "Escalated to a person"
    TIMED_OUT = "negotiation.timed_out", "Timed out"
    FAILED = "negotiation.failed", "Failed (no agreement)"
    CANCELLED = "negotiation.cancelled", "Cancelled"


def all_event_kinds() -> list[str]:
    return list(WebhookEventKind.values)


class WebhookEndpoint(models.Model):
    """Where a team's negotiation status changes are sent, signed with its secret.

    The secret must be readable to sign (HMAC), so it cannot be hashed: it is
    stored encrypted under a key derived from WEBHOOK_SECRET_KEY (api.services.
    webhook_secrets) and shown once when made or rotated."""

    team = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=all_event_kinds, help_text="Event kinds sent here.")
    secret_encrypted = models.TextField(editable=False)
    secret_prefix = models.CharField(max_length=16, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "url"]
        indexes = [
            # The status listener: team_id = %s AND active, on every status change.
            models.Index(fields=["team", "active"], name="webhook_endpoint_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.team.name}: {self.url}"


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (attempts used up)"


class WebhookEvent(models.Model):
    """One status change to send to one endpoint. Its body is fixed when it is
    made, so every attempt (and a resend) sends the same bytes and event id:
    receivers de-duplicate by the id."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="events_sent"
    )
    # The same id for every endpoint that hears about one status change.
    event_id = models.UUIDField()
    kind = models.CharField(max_length=40, choices=WebhookEventKind.choices)
    negotiation = models.ForeignKey(
        "negotiator.Negotiation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(help_text="The exact JSON sent.")
    status = models.CharField(
        max_length=10, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then (compare-and-set), so a duplicate
    # task or the periodic job never sends it twice at once.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_event_unique_id")
        ]
        indexes = [
            # The periodic job: status = 'pending' AND next_attempt_at <= now.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_event_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id} → {self.endpoint.url}"


class WebhookDelivery(models.Model):
    """One attempt to deliver an event: what the receiver answered, how long it
    took, and when the next attempt is due."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    resend = models.BooleanField(default=False, help_text="Sent again by an admin.")

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.event_id}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
