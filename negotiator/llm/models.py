"""Rows of the language-model integration: versioned prompts, and every call's
full prompt and reply, kept for review for a retention period."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from negotiator.models import Negotiation


class PromptPurpose(models.TextChoices):
    SEAT = "seat", "LLM-assisted seat: pick a candidate and write the message"
    PORTAL = "portal", "Portal: read a person's free text as a counteroffer"


class Prompt(models.Model):
    """One prompt per purpose; its text changes only by adding a version."""

    purpose = models.CharField(max_length=20, choices=PromptPurpose.choices, unique=True)
    current_version = models.ForeignKey(
        "PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.get_purpose_display()


class PromptVersion(models.Model):
    """Immutable text of a prompt; calls name the version they used."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="llm_prompt_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.prompt} v{self.number}"


class LLMExchange(models.Model):
    """One model call: what was sent and received in full (purged after the
    retention period; the audit trail keeps the hashes), and what came of it."""

    negotiation = models.ForeignKey(
        Negotiation, null=True, blank=True, on_delete=models.CASCADE, related_name="llm_exchanges"
    )
    purpose = models.CharField(max_length=20, choices=PromptPurpose.choices)
    role = models.CharField(max_length=60, blank=True)
    round = models.PositiveIntegerField(null=True, blank=True)
    prompt_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=200)
    request = models.JSONField(help_text="The messages sent, in full.")
    response = models.TextField(blank=True, help_text="The reply's text, in full.")
    prompt_sha256 = models.CharField(max_length=64)
    response_sha256 = models.CharField(max_length=64, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    candidates = models.JSONField(default=list, blank=True)
    chosen = models.CharField(max_length=40, blank=True)
    fallback = models.CharField(
        max_length=40, blank=True, help_text="Why the deterministic move was played; empty: none."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "LLM exchange"
        verbose_name_plural = "LLM exchanges"
        indexes = [
            # exchanges_purge: created_at < now - retention
            models.Index(fields=["created_at"], name="llm_exchange_created"),
            # token budget: sum of tokens where negotiation = ?
            models.Index(fields=["negotiation", "created_at"], name="llm_exchange_negotiation"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} call {self.pk} ({self.fallback or self.chosen or 'ok'})"
