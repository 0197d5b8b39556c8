"""Admin for the language-model integration: prompts are edited by adding a
version (the text box shows the version in force; saving changed text makes the
next version), and every call's full exchange can be reviewed until purged."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from negotiator.llm.models import LLMExchange, Prompt, PromptVersion
from negotiator.llm.services import DEFAULT_TEXTS, prompt_version_add
from negotiator.selectors.visibility import negotiations_visible_to


class PromptForm(forms.ModelForm):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 20, "cols": 100}),
        help_text="Saving changed text adds a new version; calls record the version they used.",
    )
    note = forms.CharField(required=False, max_length=200, help_text="What changed, and why.")

    class Meta:
        model = Prompt
        fields = ["purpose"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prompt = self.instance
        if prompt.pk and prompt.current_version_id:
            self.fields["text"].initial = prompt.current_version.text
        else:
            self.fields["text"].initial = DEFAULT_TEXTS.get(self.initial.get("purpose"), "")


class PromptVersionInline(admin.TabularInline):
    model = PromptVersion
    fields = ["number", "note", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptForm
    list_display = ["purpose", "current_version", "created_at"]
    readonly_fields = ["current_version"]
    inlines = [PromptVersionInline]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["purpose", "current_version"] if obj else ["current_version"]

    def save_model(self, request: HttpRequest, obj: Prompt, form: PromptForm, change: bool) -> None:
        if not change:
            obj.save()
        version = prompt_version_add(
            purpose=obj.purpose,
            text=form.cleaned_data["text"],
            note=form.cleaned_data.get("note", ""),
            user=request.user,
        )
        obj.current_version = version


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    list_display = ["prompt", "number", "note", "created_by", "created_at"]
    readonly_fields = ["prompt", "number", "text", "note", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(LLMExchange)
class LLMExchangeAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "purpose",
        "negotiation",
        "role",
        "round",
        "model",
        "chosen",
        "fallback",
        "tokens_in",
        "tokens_out",
        "latency_ms",
    ]
    list_filter = ["purpose", "fallback", "model"]
    search_fields = ["negotiation__title", "prompt_sha256", "response_sha256"]
    fields = [
        "negotiation",
        "purpose",
        "role",
        "round",
        "prompt_version",
        "model",
        "chosen",
        "fallback",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "prompt_sha256",
        "response_sha256",
        "request_pretty",
        "response",
        "candidates",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        # The team rule holds here too: a negotiation's calls for its teams only
        # (calls outside a negotiation carry no team and stay with superusers).
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(negotiation__in=negotiations_visible_to(request.user))

    @admin.display(description="Request")
    def request_pretty(self, obj: LLMExchange) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.request, indent=2, ensure_ascii=False))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
